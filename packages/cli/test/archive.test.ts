/**
 * `waltz archive ls | verify | fetch` on archives a real WAL filled (`Wal.open({ archive })`): a
 * directory archive, and an S3 one on s3rver (archive-s3's test server, in a child process) through the
 * real `@aws-sdk/client-s3`. Damage is done to the archived copies: a flipped byte, a deleted segment,
 * a cut-short or misnamed copy, an object replaced in the bucket.
 */
import {
  copyFileSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3'
import { s3Archive } from '@waltz/archive-s3'
import { type Archive, directoryArchive, segmentFileName, Wal } from '@waltz/core'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { flipByte } from '../../../test-support/damage.js'
import { payloadFor } from '../../../test-support/payload.mjs'
import { tempDir } from '../../../test-support/temp-dir.js'
import { BUCKET, type S3Server, startS3 } from '../../archive-s3/test/s3-server.js'
import { EXIT, run } from '../src/index.js'
import { headerSize, waltz, waltzProcess } from './helpers.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** A log of `records` records in segments of about 4 KiB, every sealed one archived to `archive`. */
async function archivedLog(archive: Archive, records = 200) {
  const dir = tempDir()
  const wal = await Wal.open({ dir, segmentSize: 4096, archive })
  for (let i = 1; i <= records; i++) await wal.append({ type: 'r', data: payloadFor(i, 100) })
  const end = Date.now() + 20_000
  while (wal.metrics().archive.pending > 0 && Date.now() < end) await sleep(10)
  expect(wal.metrics().archive.pending).toBe(0)
  await wal.close()
  // The newest segment is not sealed, so not archived: the archive ends before its first seq.
  const local = readdirSync(dir)
    .filter((n) => n.endsWith('.wal'))
    .sort()
  const names = local.slice(0, -1)
  const firstSeqs = names.map((n) => Number(n.slice(0, 20)))
  return { dir, names, firstSeqs, lastArchived: Number(local.at(-1)!.slice(0, 20)) - 1 }
}

/** A directory archive of a fresh log. */
async function directoryLog(records = 200) {
  const archiveDir = tempDir()
  return { archiveDir, ...(await archivedLog(directoryArchive(archiveDir), records)) }
}

/** The lines of `text` that start with `prefix`. */
const linesStarting = (text: string, prefix: string) => text.split('\n').filter((l) => l.startsWith(prefix))

/** The staging directories a fetch leaves in `dir` (none once it is over). */
const leftovers = (dir: string) => readdirSync(dir).filter((n) => n.startsWith('.waltz-fetch-'))

describe('waltz archive ls (directory)', () => {
  it('lists every segment oldest first with the seq range the names give, the newest open-ended', async () => {
    const { archiveDir, names, firstSeqs } = await directoryLog()
    expect(names.length).toBeGreaterThan(4)
    const r = await waltz('archive', 'ls', '--archive', archiveDir)
    expect(r.code).toBe(0)
    expect(r.stderr).toBe('')
    const rows = linesStarting(r.stdout, '0000')
    expect(rows).toHaveLength(names.length)
    for (const [i, name] of names.entries()) {
      const range = i < names.length - 1 ? `${firstSeqs[i]}..${firstSeqs[i + 1]! - 1}` : `${firstSeqs[i]}..`
      expect(rows[i]).toMatch(new RegExp(`^${name} +${range.replace(/\./g, '\\.')} +[\\d.]+ KiB$`))
    }
    expect(r.stdout).toMatch(
      new RegExp(`^${names.length} segment\\(s\\), [\\d.]+ KiB, seq 1\\.\\. in ${archiveDir}$`, 'm'),
    )

    const json = JSON.parse((await waltz('archive', 'ls', '--archive', archiveDir, '--json')).stdout)
    expect(json.archive).toBe(archiveDir)
    expect(json.segments).toEqual(
      names.map((name, i) => ({
        name,
        firstSeq: firstSeqs[i],
        lastSeq: i < names.length - 1 ? firstSeqs[i + 1]! - 1 : null,
        size: statSync(join(archiveDir, name)).size,
      })),
    )
    expect(json.totals).toEqual({
      segments: names.length,
      bytes: names.reduce((n, name) => n + statSync(join(archiveDir, name)).size, 0),
      firstSeq: 1,
    })
  })

  it('skips other files with a note; a missing, a file or an empty archive exits 3', async () => {
    const { archiveDir, names } = await directoryLog(80)
    writeFileSync(join(archiveDir, 'notes.txt'), 'x')
    const r = await waltz('archive', 'ls', '--archive', archiveDir)
    expect(r.code).toBe(0)
    expect(linesStarting(r.stdout, '0000')).toHaveLength(names.length)
    expect(r.stderr).toBe('') // directoryArchive lists segment files only
    const base = tempDir()
    mkdirSync(join(base, 'empty'))
    writeFileSync(join(base, 'file'), 'x')
    const cases: [string, RegExp][] = [
      [join(base, 'missing'), /NOT_FOUND: archive directory .*missing does not exist/],
      [join(base, 'file'), /NOT_AN_ARCHIVE: .*file is not a directory/],
      [join(base, 'empty'), /NOT_AN_ARCHIVE: .*empty holds no segment files/],
    ]
    for (const command of ['ls', 'verify']) {
      for (const [location, message] of cases) {
        const r = await waltz('archive', command, '--archive', location)
        expect(r.code, `${command} ${location}`).toBe(3)
        expect(r.stderr).toMatch(new RegExp(`^waltz archive ${command}: ${message.source}\\n$`))
      }
    }
  })
})

describe('waltz archive verify (directory)', () => {
  it('an intact archive: every segment ok with its real seq range, exit 0', async () => {
    const { archiveDir, names, firstSeqs } = await directoryLog()
    const r = await waltz('archive', 'verify', '--archive', archiveDir)
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(`verifying ${archiveDir}: ${names.length} segment(s)`)
    const ok = linesStarting(r.stdout, 'ok ')
    expect(ok).toHaveLength(names.length)
    for (const [i, name] of names.entries()) {
      const last = i < names.length - 1 ? firstSeqs[i + 1]! - 1 : undefined
      expect(ok[i]).toMatch(
        new RegExp(`^ok +${name}  seq ${firstSeqs[i]}\\.\\.${last ?? '\\d+'}  \\(\\d+ records`),
      )
    }
    // A directory records no SHA-256: not claimed.
    expect(r.stdout).not.toContain('SHA-256')
    expect(r.stdout).toMatch(new RegExp(`^OK: ${names.length} segment\\(s\\), seq 1\\.\\.\\d+, `, 'm'))

    const json = JSON.parse((await waltz('archive', 'verify', '--archive', archiveDir, '--json')).stdout)
    expect(json).toMatchObject({ archive: archiveDir, ok: true, problems: 0, chain: [] })
    expect(json.segments.map((s: { name: string }) => s.name)).toEqual(names)
    expect(
      json.segments.every((s: { ok: boolean; problems: unknown[] }) => s.ok && s.problems.length === 0),
    ).toBe(true)
    // The chain, from the content: each segment ends where the next begins.
    for (const [i, s] of json.segments.slice(0, -1).entries()) expect(s.lastSeq + 1).toBe(firstSeqs[i + 1])
  })

  it('a flipped byte in an archived segment: CORRUPT naming the segment, offset and code, exit 1', async () => {
    const { archiveDir, names } = await directoryLog()
    const victim = join(archiveDir, names[2]!)
    flipByte(victim, headerSize(victim) + 300)
    const r = await waltz('archive', 'verify', '--archive', archiveDir)
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(new RegExp(`^CORRUPT  ${names[2]} offset \\d+ \\[frame-[a-z-]+\\]: `, 'm'))
    expect(linesStarting(r.stdout, 'ok ')).toHaveLength(names.length - 1)
    expect(r.stdout).toMatch(new RegExp(`^FAILED: 1 problem\\(s\\) in ${archiveDir} `, 'm'))
    const json = JSON.parse((await waltz('archive', 'verify', '--archive', archiveDir, '--json')).stdout)
    expect(json.ok).toBe(false)
    expect(json.segments[2]).toMatchObject({ name: names[2], ok: false })
    expect(json.segments[2].problems[0].code).toMatch(/^frame-/)
  })

  it('a segment deleted from the middle: GAP naming the missing seqs and the segments around them', async () => {
    const { archiveDir, names, firstSeqs } = await directoryLog()
    rmSync(join(archiveDir, names[3]!))
    const r = await waltz('archive', 'verify', '--archive', archiveDir)
    expect(r.code).toBe(1)
    const missing = `${firstSeqs[3]}..${firstSeqs[4]! - 1}`
    expect(r.stdout).toContain(
      `GAP      seqs ${missing}: in no archived segment: ${names[2]} ends at seq ${firstSeqs[3]! - 1}, ${names[4]} starts at ${firstSeqs[4]}\n`,
    )
    expect(linesStarting(r.stdout, 'ok ')).toHaveLength(names.length - 1)
    expect(r.stdout).toMatch(/^FAILED: 1 problem\(s\)/m)
    const json = JSON.parse((await waltz('archive', 'verify', '--archive', archiveDir, '--json')).stdout)
    expect(json.chain).toEqual([
      {
        code: 'gap',
        after: names[2],
        before: names[4],
        from: firstSeqs[3],
        to: firstSeqs[4]! - 1,
        reason: expect.stringContaining(`seqs ${missing}`),
      },
    ])
  })

  it('a copy cut short and a copy under another segment name are corrupt; the chain breaks are named', async () => {
    const { archiveDir, names, firstSeqs } = await directoryLog()
    const cut = join(archiveDir, names[1]!)
    truncateSync(cut, statSync(cut).size - 10)
    // The first segment copied under a name past the newest: its header says seq 1.
    const misnamed = segmentFileName(firstSeqs.at(-1)! + 1000)
    copyFileSync(join(archiveDir, names[0]!), join(archiveDir, misnamed))
    const r = await waltz('archive', 'verify', '--archive', archiveDir)
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(
      new RegExp(`^CORRUPT  ${names[1]} offset \\d+ \\[frame-[a-z-]+\\]: .*cut short`, 'm'),
    )
    expect(r.stdout).toMatch(
      new RegExp(
        `^CORRUPT  ${misnamed} offset 0 \\[header\\]: header first seq 1 does not match the file name`,
        'm',
      ),
    )
    // Past the cut segment the chain is not judged (its end is unknown); before the misnamed one it is.
    expect(r.stdout).not.toContain(`${names[1]} ends at`)
    expect(r.stdout).toMatch(new RegExp(`^GAP .* ${misnamed} starts at ${firstSeqs.at(-1)! + 1000}$`, 'm'))
  })

  it('draws a progress bar on stderr when stdout and stderr are terminals, not otherwise', async () => {
    const { archiveDir } = await directoryLog(80)
    const streams = (tty: boolean) => {
      const stdout = Object.assign(new PassThrough(), { isTTY: tty, columns: 100 })
      const stderr = Object.assign(new PassThrough(), { isTTY: tty, columns: 100 })
      let err = ''
      stderr.on('data', (c: Buffer) => (err += c.toString()))
      stdout.resume()
      return { io: { stdout, stderr }, err: () => err }
    }
    const tty = streams(true)
    expect(await run(['archive', 'verify', '--archive', archiveDir], tty.io)).toBe(EXIT.ok)
    expect(tty.err()).toMatch(/\rverify \[#+\] 100% .* \d+\/\d+ segments/)
    expect(tty.err().endsWith('\r\x1b[K')).toBe(true)
    const quiet = streams(true)
    expect(await run(['archive', 'verify', '--archive', archiveDir, '--no-progress'], quiet.io)).toBe(EXIT.ok)
    expect(quiet.err()).toBe('')
  })
})

describe('waltz archive fetch (directory)', () => {
  it('downloads the segments holding a range; waltz dump and verify read them as the log', async () => {
    const { dir, archiveDir, names, firstSeqs } = await directoryLog()
    const out = join(tempDir(), 'restored')
    const from = firstSeqs[1]! + 5
    const to = firstSeqs[3]! + 2
    const r = await waltz('archive', 'fetch', `${from}..${to}`, '--archive', archiveDir, '--out', out)
    expect(r.code).toBe(0)
    expect(r.stderr).toBe('')
    expect(linesStarting(r.stdout, 'fetched ')).toHaveLength(3)
    expect(r.stdout).toMatch(new RegExp(`^OK: seqs ${from}\\.\\.${to}: 3 segment\\(s\\), `, 'm'))
    expect(readdirSync(out).sort()).toEqual(names.slice(1, 4))
    for (const name of names.slice(1, 4)) {
      expect(readFileSync(join(out, name)).equals(readFileSync(join(archiveDir, name))), name).toBe(true)
    }
    const restored = await waltz('dump', out, '--from', String(from), '--to', String(to))
    expect(restored.code).toBe(0)
    expect(restored.stdout.trimEnd().split('\n')).toHaveLength(to - from + 1)
    expect(restored.stdout).toBe(
      (await waltz('dump', dir, '--from', String(from), '--to', String(to))).stdout,
    )
    expect((await waltz('verify', out)).code).toBe(0)
  })

  it('one seq, and an open range up to the newest archived segment', async () => {
    const { archiveDir, names, firstSeqs } = await directoryLog()
    const one = tempDir()
    const r = await waltz(
      'archive',
      'fetch',
      String(firstSeqs[2]! + 1),
      '--archive',
      archiveDir,
      '--out',
      one,
    )
    expect(r.code).toBe(0)
    expect(readdirSync(one)).toEqual([names[2]])
    const open = tempDir()
    const all = await waltz('archive', 'fetch', `${firstSeqs[2]}..`, '--archive', archiveDir, '--out', open)
    expect(all.code).toBe(0)
    expect(readdirSync(open).sort()).toEqual(names.slice(2))
    const json = JSON.parse(
      (await waltz('archive', 'fetch', `${firstSeqs[2]}..`, '--archive', archiveDir, '--out', open, '--json'))
        .stdout,
    )
    // Fetched again into the same directory: identical files are left as they are.
    expect(json.segments.map((s: { outcome: string }) => s.outcome)).toEqual(
      names.slice(2).map(() => 'present'),
    )
    expect(json).toMatchObject({ from: firstSeqs[2], to: null, missing: [], problems: 0 })
  })

  it('a range no segment holds exits 3 naming it, and writes nothing', async () => {
    const { archiveDir, names, firstSeqs, lastArchived } = await directoryLog()
    // Past the newest archived record (its end is known once it is read), and below the first.
    const out = join(tempDir(), 'out')
    const past = firstSeqs.at(-1)! + 5000
    const r = await waltz('archive', 'fetch', `${past}..${past + 10}`, '--archive', archiveDir, '--out', out)
    expect(r.code).toBe(3)
    expect(r.stderr).toBe(
      `waltz archive fetch: NOT_IN_ARCHIVE: seqs ${past}..${past + 10}: in no segment of ${archiveDir}: ${names.at(-1)}, the newest, holds seq ${firstSeqs.at(-1)}..${lastArchived}\n`,
    )
    expect(r.stdout).toBe('')
    expect(readdirSync(out)).toEqual([])
    rmSync(join(archiveDir, names[0]!))
    const below = await waltz('archive', 'fetch', '3', '--archive', archiveDir, '--out', out)
    expect(below.code).toBe(3)
    expect(below.stderr).toBe(
      `waltz archive fetch: NOT_IN_ARCHIVE: seq 3: in no segment of ${archiveDir}: the first segment, ${names[1]}, starts at seq ${firstSeqs[1]}\n`,
    )
    expect(readdirSync(out)).toEqual([])
  })

  it('seqs of the range in no segment (a gap, past the end) are MISSING, exit 1; the rest is written', async () => {
    const { archiveDir, names, firstSeqs } = await directoryLog()
    rmSync(join(archiveDir, names[2]!))
    const out = tempDir()
    const to = firstSeqs.at(-1)! + 5000
    const r = await waltz('archive', 'fetch', `${firstSeqs[1]}..${to}`, '--archive', archiveDir, '--out', out)
    expect(r.code).toBe(1)
    expect(r.stdout).toContain(`MISSING  seqs ${firstSeqs[2]}..${firstSeqs[3]! - 1}: in no archived segment`)
    expect(r.stdout).toMatch(new RegExp(`^MISSING  seqs \\d+\\.\\.${to}: in no archived segment`, 'm'))
    expect(r.stdout).toMatch(/^FAILED: 2 problem\(s\); /m)
    expect(readdirSync(out).sort()).toEqual([names[1], ...names.slice(3)])
    expect(leftovers(out)).toEqual([])
  })

  it('a damaged segment is not written, nor one in the way with other bytes; exit 1', async () => {
    const { archiveDir, names, firstSeqs } = await directoryLog()
    const victim = join(archiveDir, names[1]!)
    flipByte(victim, headerSize(victim) + 200)
    const out = tempDir()
    writeFileSync(join(out, names[2]!), 'something else')
    const r = await waltz(
      'archive',
      'fetch',
      `1..${firstSeqs[3]! - 1}`,
      '--archive',
      archiveDir,
      '--out',
      out,
    )
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(new RegExp(`^fetched  ${names[0]} `, 'm'))
    expect(r.stdout).toMatch(new RegExp(`^CORRUPT  ${names[1]} offset \\d+ `, 'm'))
    expect(r.stdout).toContain(`EXISTS   ${names[2]}: ${join(out, names[2]!)} has other bytes: not replaced`)
    expect(readdirSync(out).sort()).toEqual([names[0], names[2]])
    expect(readFileSync(join(out, names[2]!), 'utf8')).toBe('something else')
  })

  it('refuses to write into the directory of a live log (exit 4)', async () => {
    const { archiveDir } = await directoryLog(80)
    const live = tempDir()
    const wal = await Wal.open({ dir: live })
    try {
      const r = await waltz('archive', 'fetch', '1..', '--archive', archiveDir, '--out', live)
      expect(r.code).toBe(4)
      expect(r.stderr).toMatch(
        /^waltz archive fetch: LOCKED: .* is the directory of a live log \(pid \d+ on .*\): not writing into it\n$/,
      )
      expect(readdirSync(live).filter((n) => n.endsWith('.wal'))).toHaveLength(1) // the writer's own
    } finally {
      await wal.close()
    }
  })
})

describe('waltz archive usage', () => {
  it('help: the group, each command, and `waltz help archive <command>`', async () => {
    const bare = await waltz('archive')
    expect(bare.code).toBe(2)
    expect(bare.stdout).toMatch(/^Usage: waltz archive ls\|verify\|fetch --archive LOCATION/)
    for (const command of ['ls', 'verify', 'fetch'])
      expect(bare.stdout).toMatch(new RegExp(`^  ${command} `, 'm'))
    expect((await waltz('archive', '--help')).code).toBe(0)
    for (const command of ['ls', 'verify', 'fetch']) {
      const r = await waltz('archive', command, '--help')
      expect(r.code).toBe(0)
      expect(r.stdout).toMatch(new RegExp(`^Usage: waltz archive ${command} `))
      expect(r.stdout).toContain('Exit codes:')
      expect((await waltz('help', 'archive', command)).stdout).toBe(r.stdout)
    }
    expect((await waltz('--help')).stdout).toMatch(/^ {2}archive {2}ls \| verify \| fetch: /m)
  })

  it('bad arguments exit 2 with one line on stderr', async () => {
    const dir = tempDir()
    const cases: [string[], RegExp][] = [
      [['archive', 'frob'], /^waltz archive: USAGE: unknown archive command 'frob'/],
      [['archive', 'ls'], /^waltz archive ls: USAGE: missing --archive <location>/],
      [['archive', 'ls', '--archive', dir, 'extra'], /^waltz archive ls: USAGE: unexpected argument 'extra'/],
      [
        ['archive', 'ls', '--archive', dir, '--path-style'],
        /^waltz archive ls: USAGE: --path-style applies to s3:\/\/ archives only/,
      ],
      [
        ['archive', 'ls', '--archive', 'ftp://host/x'],
        /^waltz archive ls: USAGE: --archive: ftp:\/\/ is not supported/,
      ],
      [
        ['archive', 'ls', '--archive', 's3:///x'],
        /^waltz archive ls: USAGE: --archive s3:\/\/\/x names no bucket/,
      ],
      [
        ['archive', 'ls', '--archive', 's3://b/', '--endpoint', 'nope'],
        /^waltz archive ls: USAGE: --endpoint must be a URL/,
      ],
      [
        ['archive', 'fetch', '--archive', dir, '--out', dir],
        /^waltz archive fetch: USAGE: missing <range>: the seqs to fetch/,
      ],
      [
        ['archive', 'fetch', '5..2', '--archive', dir, '--out', dir],
        /^waltz archive fetch: USAGE: <range> 5\.\.2 ends before it starts/,
      ],
      [
        ['archive', 'fetch', '0..2', '--archive', dir, '--out', dir],
        /^waltz archive fetch: USAGE: <range> must be N, N\.\.M or N\.\./,
      ],
      [
        ['archive', 'fetch', '..9', '--archive', dir, '--out', dir],
        /^waltz archive fetch: USAGE: <range> must be/,
      ],
      [
        ['archive', 'fetch', '1..2..3', '--archive', dir, '--out', dir],
        /^waltz archive fetch: USAGE: <range> must be/,
      ],
      [['archive', 'fetch', '1..2', '--archive', dir], /^waltz archive fetch: USAGE: missing --out <dir>/],
      [['help', 'archive', 'frob'], /^waltz: USAGE: unknown command 'archive frob'/],
    ]
    for (const [args, message] of cases) {
      const r = await waltz(...args)
      expect(r.code, args.join(' ')).toBe(2)
      expect(r.stderr).toMatch(message)
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1)
    }
  })

  it('the built binary runs them with the same exit codes', async () => {
    const { archiveDir } = await directoryLog(80)
    expect(waltzProcess('archive', 'ls', '--archive', archiveDir)).toMatchObject({ code: 0, stderr: '' })
    expect(waltzProcess('archive', 'verify', '--archive', archiveDir).code).toBe(0)
    expect(waltzProcess('archive', 'ls', '--archive', join(archiveDir, 'nope')).code).toBe(3)
  })
})

describe('waltz archive on S3 (s3rver)', () => {
  let s3: S3Server
  beforeAll(async () => {
    s3 = await startS3()
  }, 30_000)
  afterAll(async () => {
    await s3?.stop()
  })
  afterEach(() => {
    vi.unstubAllEnvs()
  })
  /** The S3 options of a command, the credentials from the environment as the SDK's chain reads them. */
  const s3Args = () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'S3RVER')
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'S3RVER')
    vi.stubEnv('AWS_PROFILE', undefined)
    return ['--endpoint', `http://127.0.0.1:${s3.port}`, '--path-style']
  }
  const s3Log = (prefix: string) => archivedLog(s3Archive({ client: s3.client, bucket: BUCKET, prefix }))

  it('ls, verify with the recorded SHA-256, and fetch then dump', async () => {
    const { dir, names, firstSeqs } = await s3Log('cli/')
    const location = `s3://${BUCKET}/cli/`
    const ls = await waltz('archive', 'ls', '--archive', location, ...s3Args())
    expect(ls.code).toBe(0)
    expect(linesStarting(ls.stdout, '0000').map((l) => l.split(' ')[0])).toEqual(names)
    expect(ls.stdout).toContain(`seq 1.. in ${location}\n`)

    const verify = await waltz('archive', 'verify', '--archive', location, ...s3Args())
    expect(verify.code).toBe(0)
    const ok = linesStarting(verify.stdout, 'ok ')
    expect(ok).toHaveLength(names.length)
    for (const line of ok) expect(line).toMatch(/, SHA-256 as recorded\)$/)

    const out = tempDir()
    const range = `${firstSeqs[1]}..${firstSeqs[2]! + 3}`
    const fetch = await waltz('archive', 'fetch', range, '--archive', location, '--out', out, ...s3Args())
    expect(fetch.code).toBe(0)
    expect(readdirSync(out).sort()).toEqual(names.slice(1, 3))
    const [from, to] = range.split('..')
    const dumped = await waltz('dump', out, '--from', from!, '--to', to!)
    expect(dumped.stdout).toBe((await waltz('dump', dir, '--from', from!, '--to', to!)).stdout)
  })

  it('an object changed in the bucket: SHA256 and CORRUPT, exit 1, and fetch does not write it', async () => {
    const { names } = await s3Log('changed/')
    const key = `changed/${names[1]}`
    const stored = await s3.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))
    const bytes = Buffer.from(await stored.Body!.transformToByteArray())
    bytes[bytes.length - 20]! ^= 0x40
    // Other bytes under the same key, with the metadata (SHA-256) recorded at upload.
    await s3.client.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: bytes, Metadata: stored.Metadata }),
    )
    const location = `s3://${BUCKET}/changed/`
    const r = await waltz('archive', 'verify', '--archive', location, ...s3Args())
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(
      new RegExp(
        `^SHA256   ${names[1]}: SHA-256 [0-9a-f]{64} of the bytes is not [0-9a-f]{64}, recorded when it was archived$`,
        'm',
      ),
    )
    expect(r.stdout).toMatch(new RegExp(`^CORRUPT  ${names[1]} offset \\d+ `, 'm'))
    expect(r.stdout).toMatch(/^FAILED: 2 problem\(s\)/m)
    const out = tempDir()
    const fetch = await waltz('archive', 'fetch', '1..', '--archive', location, '--out', out, ...s3Args())
    expect(fetch.code).toBe(1)
    expect(readdirSync(out).sort()).toEqual(names.filter((_, i) => i !== 1))
  })

  it('a prefix without its slash, a missing bucket, the server down: one line each, exit 3, 3, 5', async () => {
    await s3Log('slash/')
    const noSlash = await waltz('archive', 'ls', '--archive', `s3://${BUCKET}/slash`, ...s3Args())
    expect(noSlash.code).toBe(3)
    expect(noSlash.stderr).toBe(
      `waltz archive ls: NOT_AN_ARCHIVE: s3://${BUCKET}/slash holds no segment files (did you mean s3://${BUCKET}/slash/ ?)\n`,
    )
    const noBucket = await waltz('archive', 'verify', '--archive', 's3://no-such-bucket/x/', ...s3Args())
    expect(noBucket.code).toBe(3)
    expect(noBucket.stderr).toBe(
      'waltz archive verify: NOT_FOUND: s3://no-such-bucket/x/: the bucket does not exist\n',
    )
    await s3.stop()
    try {
      const down = await waltz('archive', 'ls', '--archive', `s3://${BUCKET}/slash/`, ...s3Args())
      expect(down.code).toBe(5)
      expect(down.stderr).toMatch(
        new RegExp(
          `^waltz archive ls: ECONNREFUSED: s3://${BUCKET}/slash/: listing the archive failed: .*\\n$`,
        ),
      )
    } finally {
      await s3.start()
    }
  }, 60_000)
})
