import { mkdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { BYTES_SERIALIZER_NAME, type Serializer, Wal } from '@waltz/core'
import { scanLog } from '@waltz/core/inspect'
import { BINARY_SERIALIZER_NAME, binarySerializer } from '@waltz/serializer-binary'
import { encodeSnapshot, snapshotFileName } from '@waltz/snapshot'
import { describe, expect, it } from 'vitest'
import { flipByte } from '../../../test-support/damage.js'
import { tempDir } from '../../../test-support/temp-dir.js'
import { bytesRecord, headerSize, segmentFiles, waltz, writeLog } from './helpers.js'

/** A log of `count` bytes records whose newest segment lost its last `bytes` bytes: a torn tail. */
async function tornLog(count: number, bytes: number) {
  const dir = tempDir()
  await writeLog(dir, count, bytesRecord, { segmentSize: 1024 })
  const newest = (await segmentFiles(dir)).at(-1)!
  truncateSync(newest, statSync(newest).size - bytes)
  const segment = (await scanLog(dir)).segments.at(-1)!
  expect(segment.verdict).toBe('torn')
  return { dir, newest, segment, problem: segment.problem! }
}

/** A log with one bit flipped in the second frame of its second (sealed) segment. */
async function corruptLog() {
  const dir = tempDir()
  await writeLog(dir, 90, bytesRecord, { segmentSize: 512 })
  const files = await segmentFiles(dir)
  flipByte(files[1]!, headerSize(files[1]!) + 45)
  const segment = (await scanLog(dir)).segments[1]!
  expect(segment.verdict).toBe('corrupt')
  return { dir, files, segment, problem: segment.problem! }
}

describe('waltz inspect', () => {
  it('describes a clean log: totals, lock, status and one row per segment', async () => {
    const dir = tempDir()
    await writeLog(dir, 50, bytesRecord, { segmentSize: 1024 })
    const files = await segmentFiles(dir)
    const r = await waltz('inspect', dir)
    expect(r.code).toBe(0)
    expect(r.stderr).toBe('')
    expect(r.stdout).toContain(`log        ${dir}\n`)
    expect(r.stdout).toContain(`serializer ${BYTES_SERIALIZER_NAME}\n`)
    expect(r.stdout).toContain('records    50 (seq 1..50)\n')
    expect(r.stdout).toContain(`in ${files.length} segment(s)\n`)
    expect(r.stdout).toContain('lock       none (no writer has the log open)\n')
    expect(r.stdout).toContain('status     clean\n')
    const rows = r.stdout.split('\n').filter((l) => l.startsWith(basename(files[0]!).slice(0, 10)))
    expect(rows).toHaveLength(files.length)
    expect(rows[0]).toMatch(
      new RegExp(
        `^${basename(files[0]!)} +1 +\\d+ +\\d+ +[\\d.]+ (B|KiB) +\\d+s +${BYTES_SERIALIZER_NAME} +sealed$`,
      ),
    )
    expect(rows.at(-1)).toMatch(/ 50 +\d+ .* newest$/)
    const json = JSON.parse((await waltz('inspect', dir, '--json')).stdout)
    expect(json.summary).toMatchObject({
      records: 50,
      firstSeq: 1,
      lastSeq: 50,
      names: [BYTES_SERIALIZER_NAME],
    })
    expect(json.segments).toHaveLength(files.length)
    expect(json.segments.map((s: { verdict: string }) => s.verdict)).toEqual(files.map(() => 'clean'))
  })

  it("shows the scanner's torn verdict of the newest segment with offset, reason and code; a live writer", async () => {
    const { dir, newest, segment, problem } = await tornLog(30, 4)
    const r = await waltz('inspect', dir)
    expect(r.code).toBe(0)
    const at = `offset ${problem.offset} [${problem.code}]: ${problem.reason}`
    expect(r.stdout).toContain(
      `status     torn tail in ${newest} at ${at} (${segment.size - segment.validEnd} B after seq ${segment.lastSeq}); the next writer open, or \`waltz repair --yes\`, cuts it\n`,
    )
    expect(r.stdout).toContain(`${segment.lastSeq}`)
    expect(r.stdout).toMatch(
      new RegExp(
        `^${basename(newest)} .* newest, torn tail at offset ${problem.offset} \\[${problem.code}\\]: `,
        'm',
      ),
    )

    const wal = await Wal.open({ dir }) // cuts the tail, takes the lock
    try {
      const live = await waltz('inspect', dir)
      expect(live.stdout).toContain(`lock       held by pid ${process.pid} on `)
      expect(live.stdout).toContain('status     clean\n')
    } finally {
      await wal.close()
    }
  })

  it("summarizes the corrupt verdict of a sealed segment, with the problem's code", async () => {
    const { dir, files, problem } = await corruptLog()
    const r = await waltz('inspect', dir)
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(
      `status     CORRUPT: 1 problem(s), first in ${files[1]} at offset ${problem.offset} [${problem.code}]: ${problem.reason}`,
    )
    expect(r.stdout).toMatch(
      new RegExp(
        `^${basename(files[1]!)} .* CORRUPT at offset ${problem.offset} \\[${problem.code}\\]: `,
        'm',
      ),
    )
  })
})

describe('waltz verify', () => {
  it('exits 0 on a clean log written with each serializer', async () => {
    const bytes = tempDir()
    await writeLog(bytes, 40, bytesRecord)
    const binary = tempDir()
    await writeLog(binary, 40, (seq) => ({ type: 'x', key: `k${seq}`, data: { n: BigInt(seq) } }), {
      serializer: binarySerializer(),
    })
    for (const dir of [bytes, binary]) {
      const r = await waltz('verify', dir, '--decode')
      expect(r.code).toBe(0)
      expect(r.stdout).toMatch(/^OK: \d+ segment\(s\), 40 records \(seq 1\.\.40\), [\d.]+ KiB verified in/m)
      expect(r.stderr).toBe('') // no progress bar: stdout is not a terminal
    }
  })

  it('exits 1 on a corrupt segment, naming the file, the offset and the code', async () => {
    const { dir, files, problem } = await corruptLog()
    const r = await waltz('verify', dir)
    expect(r.code).toBe(1)
    expect(r.stdout).toContain(
      `CORRUPT  ${files[1]} offset ${problem.offset} [${problem.code}]: ${problem.reason}\n`,
    )
    expect(problem.code).toMatch(/^frame-/)
    expect(r.stdout).toMatch(/^FAILED: 1 problem\(s\)/m)
  })

  it('reports a torn tail as a warning with its code (exit 0), a problem with --strict (exit 1)', async () => {
    const { dir, newest, problem } = await tornLog(20, 1)
    const r = await waltz('verify', dir)
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(
      `\nwarning: torn tail in ${newest} at offset ${problem.offset} [${problem.code}]: ${problem.reason}`,
    )
    const strict = await waltz('verify', dir, '--strict')
    expect(strict.code).toBe(1)
    expect(strict.stdout).toMatch(/^TORN torn tail in/m)
  })

  it('--decode lists records whose data the serializer the log names cannot decode', async () => {
    const dir = tempDir()
    // Claims to be msgpackr but writes something else for 'bad' data.
    const fake: Serializer<string, string> = {
      name: BINARY_SERIALIZER_NAME,
      encode: (data) => (data === 'bad' ? new Uint8Array([0xc1]) : binarySerializer().encode(data, 'x')),
      decode: () => '',
    }
    await writeLog(dir, 4, (seq) => ({ type: 'x', data: seq >= 3 ? 'bad' : 'ok' }), { serializer: fake })
    expect((await waltz('verify', dir)).code).toBe(0) // every frame is intact
    const r = await waltz('verify', dir, '--decode')
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(/^UNDECODABLE {2}seq 3 {2}type x: /m)
    expect(r.stdout).toMatch(/^UNDECODABLE {2}seq 4 /m)
    expect(r.stdout).toMatch(/^FAILED: 2 problem\(s\)/m)
  })

  it('--snapshots checks every snapshot file and where the newest one stands against the log', async () => {
    const dir = tempDir()
    await writeLog(dir, 20, bytesRecord)
    const snaps = join(tempDir(), 'snapshots')
    mkdirSync(snaps)
    const write = (seq: number) => {
      const file = join(snaps, snapshotFileName(seq))
      writeFileSync(file, encodeSnapshot({ seq, time: 1, codec: 'test/1', state: new Uint8Array([1, 2, 3]) }))
      return file
    }
    write(5)
    write(10)
    const clean = await waltz('verify', dir, '--snapshots', snaps)
    expect(clean.code).toBe(0)
    expect(clean.stdout).toContain(`snapshots ${snaps}: 2 file(s)\n`)
    expect(clean.stdout).toMatch(/^ {2}ok {7}snapshot-00000000000000000010\.snap {2}seq 10 {2}codec test\/1/m)

    const broken = write(15)
    flipByte(broken, readFileSync(broken).length - 6)
    write(99)
    const r = await waltz('verify', dir, '--snapshots', snaps)
    expect(r.code).toBe(1)
    expect(r.stdout).toContain(`\n  CORRUPT  SNAPSHOT_CORRUPT: ${broken}: checksum mismatch\n`)
    expect(r.stdout).toMatch(
      /^ {2}AHEAD {4}snapshot-00000000000000000099\.snap: seq 99 is past the log's last seq 20/m,
    )
    expect(r.stdout).toMatch(/^FAILED: 2 problem\(s\)/m)
    expect((await waltz('verify', dir, '--snapshots', join(snaps, 'nope'))).code).toBe(3)
  })
})
