import { createHash } from 'node:crypto'
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { exited, onLines, waitForLine } from '../../../test-support/child-process.js'
import { payloadFor } from '../../../test-support/payload.mjs'
import { tempDir } from '../../../test-support/temp-dir.js'
import { Wal } from '../src/index.js'
import { faultyFiles, startFixture } from './helpers.js'
import { RecordingFiles } from './power-loss.js'

describe('file permissions and paths', () => {
  it('creates segments and the lock owner read/write only by default', async () => {
    const dir = tempDir()
    const wal = await Wal.open({ dir, segmentSize: 1024 })
    for (let i = 0; i < 20; i++) await wal.append({ type: 'r', data: payloadFor(i, 100) })
    for (const name of readdirSync(dir)) expect(statSync(join(dir, name)).mode & 0o777, name).toBe(0o600)
    await wal.close()
  })

  it('honours fileMode and rejects a bad one', async () => {
    const dir = tempDir()
    const wal = await Wal.open({ dir, fileMode: 0o640 })
    await wal.append({ type: 'r', data: payloadFor(1, 10) })
    for (const name of readdirSync(dir)) expect(statSync(join(dir, name)).mode & 0o777, name).toBe(0o640)
    await wal.close()
    await expect(Wal.open({ dir: tempDir(), fileMode: 0o1777 })).rejects.toMatchObject({
      code: 'WAL_INVALID_ARGUMENT',
    })
  })

  it('never touches a path outside its directory (appends, rotation, retention, recovery)', async () => {
    const dir = tempDir()
    const recording = new RecordingFiles()
    let wal = await Wal.open({ dir, segmentSize: 1024, files: recording.files })
    for (let i = 0; i < 50; i++) await wal.append({ type: 'r', data: payloadFor(i, 100) })
    await wal.truncateBefore(30)
    await wal.close()
    wal = await Wal.open({ dir, files: recording.files })
    await wal.close()
    const paths = recording.ops.flatMap((op) => ('path' in op ? [op.path] : []))
    expect(paths.length).toBeGreaterThan(10)
    for (const p of paths)
      expect(p.startsWith(`${dir}/`) && !p.slice(dir.length).includes('..'), p).toBe(true)
  })
})

describe('a read-only reader in another process', () => {
  it('tails every record while the writer appends, rotates and truncates', async () => {
    const dir = tempDir()
    const total = 400
    const writer = await Wal.open({ dir, sync: 'os-cache', segmentSize: 4096 })
    await writer.append({ type: 'first', data: payloadFor(1, 100) })
    const child = startFixture('tail-reader.mjs', [dir, String(total)])
    const seen: string[] = []
    onLines(child, (line) => {
      if (line !== 'ready') seen.push(line)
    })
    await waitForLine(child, (line) => line === 'ready')
    for (let i = 2; i <= total; i++) {
      await writer.append({ type: `t${i}`, data: payloadFor(i, 100) })
      if (i % 50 === 0) {
        // Give the reader time to pass, then drop segments it has already read.
        await new Promise((r) => setTimeout(r, 150))
        const readUpTo = seen.length
        await writer.truncateBefore(Math.max(1, readUpTo - 20))
      }
    }
    await exited(child)
    expect(child.exitCode).toBe(0)
    expect(writer.metrics().rotations).toBeGreaterThan(5)
    expect(writer.firstSeq).toBeGreaterThan(1)
    const expected = Array.from({ length: total }, (_, k) => {
      const seq = k + 1
      const hash = createHash('sha1').update(payloadFor(seq, 100)).digest('hex')
      return `rec ${seq} ${seq === 1 ? 'first' : `t${seq}`} ${hash}`
    })
    expect(seen).toEqual(expected)
    await writer.close()
  }, 30_000)
})

describe('creating the log directory', () => {
  it('fsyncs the parent of every directory it creates', async () => {
    const existing = faultyFiles()
    await (await Wal.open({ dir: tempDir(), files: existing.files })).close()
    expect(existing.calls.syncDir).toBe(1) // the first segment's creation only
    const nested = faultyFiles()
    await (await Wal.open({ dir: join(tempDir(), 'a', 'b', 'c'), files: nested.files })).close()
    expect(nested.calls.syncDir).toBe(1 + 3)
  })
})
