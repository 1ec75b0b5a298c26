import { mkdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { type Serializer, Wal } from '@waltz/core'
import { binarySerializer } from '@waltz/serializer-binary'
import { encodeSnapshot, snapshotFileName } from '@waltz/snapshot'
import { describe, expect, it } from 'vitest'
import {
  BYTES_FRAME,
  bytesRecord,
  flipByte,
  headerSize,
  segmentFiles,
  tempDir,
  waltz,
  writeLog,
} from './helpers.js'

describe('waltz inspect', () => {
  it('describes a clean log: totals, lock, status and one row per segment', async () => {
    const dir = tempDir()
    await writeLog(dir, 50, bytesRecord, { segmentSize: 1024 })
    const files = segmentFiles(dir)
    const r = waltz('inspect', dir)
    expect(r.code).toBe(0)
    expect(r.stderr).toBe('')
    expect(r.stdout).toContain(`log        ${dir}\n`)
    expect(r.stdout).toContain('serializer waltz-bytes/1\n')
    expect(r.stdout).toContain('records    50 (seq 1..50)\n')
    expect(r.stdout).toContain(`in ${files.length} segment(s)\n`)
    expect(r.stdout).toContain('lock       none (no writer has the log open)\n')
    expect(r.stdout).toContain('status     clean\n')
    const rows = r.stdout.split('\n').filter((l) => /^\d{20}\.wal/.test(l))
    expect(rows).toHaveLength(files.length)
    expect(rows[0]).toMatch(
      /^00000000000000000001\.wal +1 +\d+ +\d+ +[\d.]+ (B|KiB) +\d+s +waltz-bytes\/1 +sealed$/,
    )
    expect(rows[rows.length - 1]).toMatch(/ 50 +\d+ .* newest$/)
    const json = JSON.parse(waltz('inspect', dir, '--json').stdout)
    expect(json.summary).toMatchObject({ records: 50, firstSeq: 1, lastSeq: 50, names: ['waltz-bytes/1'] })
    expect(json.segments).toHaveLength(files.length)
  })

  it('shows a torn tail of the newest segment with file, offset and reason, and a live writer', async () => {
    const dir = tempDir()
    await writeLog(dir, 30, bytesRecord, { segmentSize: 1024 })
    const newest = segmentFiles(dir).at(-1)!
    const size = statSync(newest).size
    truncateSync(newest, size - 4)
    const r = waltz('inspect', dir)
    expect(r.code).toBe(0)
    const lastFrame = size - BYTES_FRAME
    expect(r.stdout).toContain(
      `status     torn tail in ${newest} at offset ${lastFrame}: partial frame payload (31 B after seq 29); the next writer open, or \`waltz repair --yes\`, cuts it\n`,
    )
    expect(r.stdout).toMatch(
      new RegExp(`${basename(newest)} .* 29 .*newest, torn tail at ${lastFrame}: partial frame payload`),
    )

    const wal = await Wal.open({ dir }) // cuts the tail, takes the lock
    try {
      const live = waltz('inspect', dir)
      expect(live.stdout).toContain(`lock       held by pid ${process.pid} on `)
      expect(live.stdout).toContain('status     clean\n')
    } finally {
      await wal.close()
    }
  })

  it('summarizes corruption in a sealed segment', async () => {
    const dir = tempDir()
    await writeLog(dir, 90, bytesRecord, { segmentSize: 1024 })
    const second = segmentFiles(dir)[1]!
    flipByte(second, headerSize(second) + 25)
    const r = waltz('inspect', dir)
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(
      `status     CORRUPT: 1 problem(s), first in ${second} at offset ${headerSize(second)}`,
    )
    expect(r.stdout).toMatch(/CORRUPT at \d+: frame checksum mismatch/)
  })
})

describe('waltz verify', () => {
  it('exits 0 on a clean log written with each serializer', async () => {
    const bytes = tempDir()
    await writeLog(bytes, 40, bytesRecord)
    const binary = tempDir()
    await writeLog(binary, 40, (seq) => ({ type: 'x', data: { n: BigInt(seq) } }), {
      serializer: binarySerializer(),
    })
    for (const dir of [bytes, binary]) {
      const r = waltz('verify', dir, '--decode')
      expect(r.code).toBe(0)
      expect(r.stdout).toMatch(/^OK: \d+ segment\(s\), 40 records \(seq 1\.\.40\), [\d.]+ KiB verified in/m)
      expect(r.stderr).toBe('') // no progress bar: stdout is not a terminal
    }
  })

  it('exits 1 on a bit flip in a sealed segment, naming the file and the offset', async () => {
    const dir = tempDir()
    await writeLog(dir, 60, bytesRecord, { segmentSize: 1024 })
    const files = segmentFiles(dir)
    const frame = BYTES_FRAME
    const at = headerSize(files[1]!) + 3 * frame + 22 // inside the fourth frame of the second segment
    flipByte(files[1]!, at)
    const r = waltz('verify', dir)
    expect(r.code).toBe(1)
    expect(r.stdout).toContain(
      `CORRUPT  ${files[1]} offset ${headerSize(files[1]!) + 3 * frame}: frame checksum mismatch\n`,
    )
    expect(r.stdout).toMatch(/^FAILED: 1 problem\(s\)/m)
  })

  it('reports a torn tail as a warning (exit 0), a problem with --strict (exit 1)', async () => {
    const dir = tempDir()
    await writeLog(dir, 20, bytesRecord)
    const newest = segmentFiles(dir).at(-1)!
    truncateSync(newest, statSync(newest).size - 1)
    const r = waltz('verify', dir)
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(
      new RegExp(`^warning: torn tail in ${newest} at offset \\d+: partial frame payload`, 'm'),
    )
    const strict = waltz('verify', dir, '--strict')
    expect(strict.code).toBe(1)
    expect(strict.stdout).toMatch(/^TORN torn tail in/m)
  })

  it('--decode lists records the serializer named in the header cannot decode', async () => {
    const dir = tempDir()
    // Claims to be JSON but writes something else from seq 3 on.
    const fake: Serializer<string, string> = {
      name: 'waltz-json/1',
      encode: (r) =>
        new TextEncoder().encode(
          r.data === 'bad' ? '{oops' : JSON.stringify({ type: r.type, time: r.time, data: r.data }),
        ),
      decode: () => ({ type: '', time: 0, data: '' }),
    }
    await writeLog(dir, 4, (seq) => ({ type: 'x', data: seq >= 3 ? 'bad' : 'ok' }), { serializer: fake })
    expect(waltz('verify', dir).code).toBe(0) // every frame is intact
    const r = waltz('verify', dir, '--decode')
    expect(r.code).toBe(1)
    expect(r.stdout).toMatch(
      new RegExp(`^UNDECODABLE  seq 3  ${segmentFiles(dir)[0]} offset \\d+: .*JSON`, 'm'),
    )
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
    const clean = waltz('verify', dir, '--snapshots', snaps)
    expect(clean.code).toBe(0)
    expect(clean.stdout).toContain(`snapshots ${snaps}: 2 file(s)\n`)
    expect(clean.stdout).toMatch(/^ {2}ok {7}snapshot-00000000000000000010\.snap {2}seq 10 {2}codec test\/1/m)

    const broken = write(15)
    flipByte(broken, readFileSync(broken).length - 6)
    write(99)
    const r = waltz('verify', dir, '--snapshots', snaps)
    expect(r.code).toBe(1)
    expect(r.stdout).toContain(`\n  CORRUPT  SNAPSHOT_CORRUPT: ${broken}: checksum mismatch\n`)
    expect(r.stdout).toMatch(
      /^ {2}AHEAD {4}snapshot-00000000000000000099\.snap: seq 99 is past the log's last seq 20/m,
    )
    expect(r.stdout).toMatch(/^FAILED: 2 problem\(s\)/m)
    expect(waltz('verify', dir, '--snapshots', join(snaps, 'nope')).code).toBe(3)
  })
})
