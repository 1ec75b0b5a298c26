import { once } from 'node:events'
import { existsSync, readdirSync, readFileSync, statSync, truncateSync } from 'node:fs'
import { basename, join } from 'node:path'
import { Wal } from '@waltz/core'
import { describe, expect, it } from 'vitest'
import {
  BYTES_FRAME,
  bytesRecord,
  flipByte,
  headerSize,
  lines,
  segmentFiles,
  tempDir,
  waltz,
  waltzAsync,
  writeLog,
} from './helpers.js'

const seqs = (stdout: string) => lines(stdout).map((x) => (x as { seq: number }).seq)

describe('waltz tail', () => {
  it('prints the last records (-n, default 10) or from a seq, and exits', async () => {
    const dir = tempDir()
    await writeLog(dir, 40, bytesRecord, { segmentSize: 512 })
    expect(seqs(waltz('tail', dir).stdout)).toEqual(Array.from({ length: 10 }, (_, i) => i + 31))
    expect(seqs(waltz('tail', dir, '-n', '3').stdout)).toEqual([38, 39, 40])
    expect(seqs(waltz('tail', dir, '--from', '37').stdout)).toEqual([37, 38, 39, 40])
    expect(waltz('tail', dir, '-n', '0')).toMatchObject({ code: 0, stdout: '' })
    expect(waltz('tail', dir, '-n', '2', '--from', '3').code).toBe(2)
  })

  it('-f picks up records appended after it started, across a segment rotation, until killed', async () => {
    const dir = tempDir()
    await writeLog(dir, 5, bytesRecord)
    const child = waltzAsync('tail', dir, '-f', '-n', '1')
    let out = ''
    let stderr = ''
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
    const waitFor = async (count: number) => {
      while (out.split('\n').length - 1 < count) {
        const [chunk] = (await once(child.stdout, 'data')) as [Buffer]
        out += chunk.toString()
      }
    }
    try {
      await waitFor(1)
      expect(seqs(out)).toEqual([5])
      const wal = await Wal.open({ dir, segmentSize: 256 })
      for (let i = 6; i <= 14; i++) await wal.append({ type: 'late', data: new Uint8Array([i]) })
      await wal.close()
      expect(segmentFiles(dir).length).toBeGreaterThan(1)
      await waitFor(10)
      expect(seqs(out)).toEqual([5, 6, 7, 8, 9, 10, 11, 12, 13, 14])
      expect(lines(out)[1]).toMatchObject({ seq: 6, type: 'late', data: { $bytes: 'Bg==' } })
    } finally {
      child.kill('SIGTERM')
    }
    const [code] = (await once(child, 'exit')) as [number | null]
    expect(code).toBe(0)
    expect(stderr).toBe('')
  })
})

describe('waltz repair', () => {
  async function corruptLog() {
    const dir = tempDir()
    await writeLog(dir, 60, bytesRecord, { segmentSize: 1024 })
    const files = segmentFiles(dir)
    const cut = headerSize(files[1]!) + 2 * BYTES_FRAME // the third frame of the second segment
    flipByte(files[1]!, cut + 25)
    return { dir, files, cut, firstOfSecond: Number(basename(files[1]!).slice(0, 20)) }
  }

  it('without --yes prints exactly what would be dropped, changes nothing and exits 1', async () => {
    const { dir, files, cut, firstOfSecond } = await corruptLog()
    const before = files.map((f) => readFileSync(f))
    const r = waltz('repair', dir)
    expect(r.code).toBe(1)
    const dropped = statSync(files[1]!).size - cut
    const later = files.slice(2)
    const laterBytes = later.reduce((n, f) => n + statSync(f).size, 0)
    expect(r.stdout).toContain('reason:          frame checksum mismatch\n')
    expect(r.stdout).toContain(`cut:             ${files[1]} at offset ${cut}\n`)
    expect(r.stdout).toContain(`drops its last ${dropped} bytes`)
    for (const f of later) expect(r.stdout).toContain(`${f} (${statSync(f).size} bytes, whole file)`)
    expect(r.stdout).toContain(`total dropped:   ${dropped + laterBytes} bytes`)
    expect(r.stdout).toContain(`last seq after:  ${firstOfSecond + 1}\n`)
    expect(r.stdout).toMatch(/^refused: run again with --yes/m)
    expect(segmentFiles(dir)).toEqual(files)
    expect(files.map((f) => readFileSync(f))).toEqual(before)
    expect(readdirSync(dir).some((n) => n.startsWith('repair-'))).toBe(false)
  })

  it('with --yes cuts, keeps a copy of the dropped bytes, and the log then opens with the valid prefix', async () => {
    const { dir, files, cut, firstOfSecond } = await corruptLog()
    const tail = readFileSync(files[1]!).subarray(cut)
    const r = waltz('repair', dir, '--yes')
    expect(r.code).toBe(0)
    const backup = /^backup: +(\S+)/m.exec(r.stdout)?.[1]
    expect(backup).toBeDefined()
    expect(readFileSync(join(backup!, `${basename(files[1]!)}.from-${cut}`)).equals(tail)).toBe(true)
    for (const f of files.slice(2)) expect(existsSync(join(backup!, basename(f)))).toBe(true)
    expect(segmentFiles(dir)).toEqual(files.slice(0, 2))
    expect(statSync(files[1]!).size).toBe(cut)

    const wal = await Wal.open({ dir })
    try {
      expect(wal.lastSeq).toBe(firstOfSecond + 1)
      const read: number[] = []
      for await (const record of wal.records()) read.push(record.seq)
      expect(read).toEqual(Array.from({ length: firstOfSecond + 1 }, (_, i) => i + 1))
    } finally {
      await wal.close()
    }
    expect(waltz('verify', dir).code).toBe(0)
    expect(waltz('repair', dir)).toMatchObject({
      code: 0,
      stdout: `nothing to repair: ${dir} is clean (last seq ${firstOfSecond + 1})\n`,
    })
  })

  it('cuts a torn tail; refuses with exit 4 while a writer holds the lock', async () => {
    const dir = tempDir()
    await writeLog(dir, 10, bytesRecord)
    const newest = segmentFiles(dir).at(-1)!
    truncateSync(newest, statSync(newest).size - 2)
    const writer = await Wal.open({ dir })
    try {
      // The writer's open already cut the tail; damage it again under the live writer.
      truncateSync(newest, statSync(newest).size - 2)
      const r = waltz('repair', dir, '--yes')
      expect(r.code).toBe(4)
      expect(r.stderr).toMatch(/^waltz repair: WAL_LOCKED: .* is locked by pid \d+/)
      expect(statSync(newest).size).toBeGreaterThan(0)
    } finally {
      await writer.close().catch(() => {})
    }
    const r = waltz('repair', dir, '--yes')
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('reason:          partial frame payload\n')
    expect(r.stdout).toContain('removes:         no segment files\n')
    expect(r.stdout).toContain('last seq after:  8\n')
    expect(waltz('verify', dir, '--strict').code).toBe(0)
  })
})
