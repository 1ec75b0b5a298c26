import { once } from 'node:events'
import { existsSync, readdirSync, readFileSync, statSync, truncateSync } from 'node:fs'
import { basename, join } from 'node:path'
import { Wal } from '@waltz/core'
import { scanLog } from '@waltz/core/inspect'
import { describe, expect, it } from 'vitest'
import { onLines, waitForLine } from '../../../test-support/child-process.js'
import { collect } from '../../../test-support/collect.js'
import { flipByte } from '../../../test-support/damage.js'
import { tempDir } from '../../../test-support/temp-dir.js'
import {
  bytesRecord,
  headerSize,
  lines,
  segmentFiles,
  waltz,
  waltzAsync,
  waltzProcess,
  writeLog,
} from './helpers.js'

const seqs = (stdout: string) => lines(stdout).map((x) => (x as { seq: number }).seq)

describe('waltz tail', () => {
  it('prints the last records (-n, default 10) or from a seq, and exits', async () => {
    const dir = tempDir()
    await writeLog(dir, 40, bytesRecord, { segmentSize: 512 })
    expect(seqs((await waltz('tail', dir)).stdout)).toEqual(Array.from({ length: 10 }, (_, i) => i + 31))
    expect(seqs((await waltz('tail', dir, '-n', '3')).stdout)).toEqual([38, 39, 40])
    expect(seqs((await waltz('tail', dir, '--from', '37')).stdout)).toEqual([37, 38, 39, 40])
    expect(await waltz('tail', dir, '-n', '0')).toMatchObject({ code: 0, stdout: '' })
    expect((await waltz('tail', dir, '-n', '2', '--from', '3')).code).toBe(2)
  })

  it('-f follows with a reader (no lock) while a writer appends, across a segment rotation, until killed', async () => {
    const dir = tempDir()
    await writeLog(dir, 5, bytesRecord)
    const child = waltzAsync('tail', dir, '-f', '-n', '1')
    const out: string[] = []
    onLines(child, (line) => out.push(line))
    let stderr = ''
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
    const waitFor = async (count: number) => {
      if (out.length < count) await waitForLine(child, () => out.length >= count)
    }
    try {
      await waitFor(1)
      expect(seqs(out.join('\n'))).toEqual([5])
      // The writer takes the lock while tail runs: tail holds none.
      const wal = await Wal.open({ dir, segmentSize: 256 })
      for (let i = 6; i <= 14; i++) {
        await wal.append({ type: 'late', key: `k${i}`, headers: { n: String(i) }, data: new Uint8Array([i]) })
      }
      await wal.close()
      expect((await segmentFiles(dir)).length).toBeGreaterThan(1)
      await waitFor(10)
      expect(seqs(out.join('\n'))).toEqual([5, 6, 7, 8, 9, 10, 11, 12, 13, 14])
      expect(JSON.parse(out[1]!)).toMatchObject({
        seq: 6,
        type: 'late',
        key: 'k6',
        headers: { n: '6' },
        data: { $bytes: 'Bg==' },
      })
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
    await writeLog(dir, 90, bytesRecord, { segmentSize: 512 })
    const files = await segmentFiles(dir)
    flipByte(files[1]!, headerSize(files[1]!) + 80) // inside the third frame of the second segment
    const segment = (await scanLog(dir)).segments[1]!
    expect(segment.verdict).toBe('corrupt')
    return { dir, files, cut: segment.validEnd, lastSeq: segment.lastSeq, reason: segment.problem!.reason }
  }

  it('without --yes prints exactly what would be dropped, changes nothing and exits 1', async () => {
    const { dir, files, cut, lastSeq, reason } = await corruptLog()
    const before = files.map((f) => readFileSync(f))
    const r = await waltz('repair', dir)
    expect(r.code).toBe(1)
    const dropped = statSync(files[1]!).size - cut
    const later = files.slice(2)
    const laterBytes = later.reduce((n, f) => n + statSync(f).size, 0)
    expect(r.stdout).toContain(`reason:          ${reason}\n`)
    expect(r.stdout).toContain(`cut:             ${files[1]} at offset ${cut}\n`)
    expect(r.stdout).toContain(`drops its last ${dropped} bytes`)
    for (const f of later) expect(r.stdout).toContain(`${f} (${statSync(f).size} bytes, whole file)`)
    expect(r.stdout).toContain(`total dropped:   ${dropped + laterBytes} bytes`)
    expect(r.stdout).toContain(`last seq after:  ${lastSeq}\n`)
    expect(r.stdout).toMatch(/^refused: run again with --yes/m)
    expect(await segmentFiles(dir)).toEqual(files)
    expect(files.map((f) => readFileSync(f))).toEqual(before)
    expect(readdirSync(dir).some((n) => n.startsWith('repair-'))).toBe(false)
  })

  it('with --yes cuts, keeps a copy of the dropped bytes, and the log then opens with the valid prefix', async () => {
    const { dir, files, cut, lastSeq } = await corruptLog()
    const tail = readFileSync(files[1]!).subarray(cut)
    const r = await waltz('repair', dir, '--yes')
    expect(r.code).toBe(0)
    const backup = /^backup: +(\S+)/m.exec(r.stdout)?.[1]
    expect(backup).toBeDefined()
    expect(readFileSync(join(backup!, `${basename(files[1]!)}.from-${cut}`)).equals(tail)).toBe(true)
    for (const f of files.slice(2)) expect(existsSync(join(backup!, basename(f)))).toBe(true)
    expect(await segmentFiles(dir)).toEqual(files.slice(0, 2))
    expect(statSync(files[1]!).size).toBe(cut)

    const wal = await Wal.open({ dir })
    try {
      expect(wal.lastSeq).toBe(lastSeq)
      expect((await collect(wal.records())).map((r) => r.seq)).toEqual(
        Array.from({ length: lastSeq }, (_, i) => i + 1),
      )
    } finally {
      await wal.close()
    }
    expect((await waltz('verify', dir)).code).toBe(0)
    expect(await waltz('repair', dir)).toMatchObject({
      code: 0,
      stdout: `nothing to repair: ${dir} is clean (last seq ${lastSeq})\n`,
    })
  })

  it('cuts a torn tail; refuses with exit 4 while a writer in another process holds the lock', async () => {
    const dir = tempDir()
    await writeLog(dir, 10, bytesRecord)
    const newest = (await segmentFiles(dir)).at(-1)!
    truncateSync(newest, statSync(newest).size - 2)
    const writer = await Wal.open({ dir })
    try {
      // The writer's open already cut the tail; damage it again under the live writer.
      truncateSync(newest, statSync(newest).size - 2)
      const r = waltzProcess('repair', dir, '--yes')
      expect(r.code).toBe(4)
      expect(r.stderr).toMatch(/^waltz repair: WAL_LOCKED: .* is locked by pid \d+/)
      expect(statSync(newest).size).toBeGreaterThan(0)
    } finally {
      await writer.close().catch(() => {})
    }
    const torn = (await scanLog(dir)).segments.at(-1)!
    expect(torn.verdict).toBe('torn')
    const r = await waltz('repair', dir, '--yes')
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(`reason:          ${torn.problem!.reason}\n`)
    expect(r.stdout).toContain('removes:         no segment files\n')
    expect(r.stdout).toContain(`last seq after:  ${torn.lastSeq}\n`)
    expect((await waltz('verify', dir, '--strict')).code).toBe(0)
  })
})
