import { describe, expect, it, vi } from 'vitest'
import { collect } from '../../../test-support/collect.js'
import { payloadFor } from '../../../test-support/payload.mjs'
import { tempDir } from '../../../test-support/temp-dir.js'
import { Wal } from '../src/index.js'
import { faultyFiles } from './helpers.js'

describe.each([false, true])("sync: 'always', blockingSync: %s", (blockingSync) => {
  it('resolves each append only after an fdatasync covers it', async () => {
    const fault = faultyFiles()
    const wal = await Wal.open({ dir: tempDir(), sync: 'always', blockingSync, files: fault.files })
    const before = { ...fault.calls }
    for (let i = 1; i <= 20; i++) {
      const seq = await wal.append({ type: 'a', data: payloadFor(i, 50) })
      expect(wal.metrics().durableSeq).toBeGreaterThanOrEqual(seq)
    }
    // The appends' fdatasyncs went through the call the option selects, and only through it.
    const blocking = (fault.calls.fdatasyncSync ?? 0) - (before.fdatasyncSync ?? 0)
    const pooled = (fault.calls.fdatasync ?? 0) - (before.fdatasync ?? 0)
    expect(blockingSync ? blocking : pooled).toBe(20)
    expect(blockingSync ? pooled : blocking).toBe(0)
    await wal.close()
  })

  it('group-commits concurrent appends: far fewer fsyncs and writes than appends', async () => {
    const wal = await Wal.open({ dir: tempDir(), sync: 'always', blockingSync })
    const before = wal.metrics().fsyncs
    const appenders = 32
    const each = 20
    await Promise.all(
      Array.from({ length: appenders }, async (_, a) => {
        for (let i = 0; i < each; i++) {
          const seq = await wal.append({ type: `a${a}`, data: payloadFor(a * 1000 + i, 100) })
          // Acknowledged means durable, even inside a shared batch.
          expect(wal.metrics().durableSeq).toBeGreaterThanOrEqual(seq)
        }
      }),
    )
    const m = wal.metrics()
    expect(m.appends).toBe(appenders * each)
    const fsyncs = m.fsyncs - before
    // Each round of the 32 appenders shares one write + fdatasync; allow slack for scheduling.
    expect(fsyncs).toBeLessThan((appenders * each) / 4)
    expect(m.batchesWritten).toBeLessThan((appenders * each) / 4)
    expect(m.fsyncLatencyMs.p99).toBeGreaterThanOrEqual(m.fsyncLatencyMs.p50)
    const seqs = (await collect(wal.records())).map((r) => r.seq)
    expect(seqs).toEqual(Array.from({ length: appenders * each }, (_, i) => i + 1))
    await wal.close()
  })

  it('appenders whose next append comes promise hops after their acknowledgement share one batch per round', async () => {
    // As an event store's appenders: bookkeeping and the caller's own awaits lie between an
    // acknowledgement and the next append. Each round must still be one write + one fdatasync.
    const wal = await Wal.open({ dir: tempDir(), sync: 'always', blockingSync })
    const before = wal.metrics()
    const appenders = 32
    const rounds = 20
    const hops = async (n: number) => {
      for (let h = 0; h < n; h++) await Promise.resolve()
    }
    await Promise.all(
      Array.from({ length: appenders }, async (_, a) => {
        for (let i = 0; i < rounds; i++) {
          await wal.append({ type: 'h', data: payloadFor(a * 1000 + i, 40) })
          await hops(1 + (a % 8))
        }
      }),
    )
    const after = wal.metrics()
    expect(after.appends - before.appends).toBe(appenders * rounds)
    expect(after.fsyncs - before.fsyncs).toBe(rounds)
    expect(after.batchesWritten - before.batchesWritten).toBe(rounds)
    await wal.close()
  })

  it('lets timers run between the fdatasyncs of a sequential appender', async () => {
    const wal = await Wal.open({ dir: tempDir(), sync: 'always', blockingSync })
    let done = 0
    let doneWhenTimerFired = -1
    setTimeout(() => {
      doneWhenTimerFired = done
    }, 0)
    for (let i = 0; i < 50; i++) {
      await wal.append({ type: 't', data: payloadFor(i, 20) })
      done++
    }
    // 50 fdatasyncs take milliseconds; the 1 ms timer must not wait for all of them.
    expect(doneWhenTimerFired).toBeGreaterThanOrEqual(0)
    expect(doneWhenTimerFired).toBeLessThan(50)
    await wal.close()
  })

  it('a burst of synchronous appends shares a single write and fdatasync', async () => {
    const wal = await Wal.open({ dir: tempDir(), sync: 'always', blockingSync })
    const before = wal.metrics()
    const seqs = await Promise.all(
      Array.from({ length: 100 }, (_, i) => wal.append({ type: 'b', data: payloadFor(i, 64) })),
    )
    expect(seqs).toEqual(Array.from({ length: 100 }, (_, i) => i + 1))
    const after = wal.metrics()
    expect(after.fsyncs - before.fsyncs).toBe(1)
    expect(after.batchesWritten - before.batchesWritten).toBe(1)
    await wal.close()
  })
})

describe("sync: 'os-cache'", () => {
  it('resolves after the write, fsyncs on the interval, and sync() makes everything durable', async () => {
    const wal = await Wal.open({ dir: tempDir(), sync: 'os-cache', syncIntervalMs: 50 })
    const seq = await wal.append({ type: 'a', data: payloadFor(1, 10) })
    const m = wal.metrics()
    expect(m.writtenSeq).toBeGreaterThanOrEqual(seq)
    expect(m.fsyncs).toBe(0)
    await new Promise((r) => setTimeout(r, 200))
    expect(wal.metrics().durableSeq).toBe(seq)
    expect(wal.metrics().fsyncs).toBeGreaterThanOrEqual(1)
    const seq2 = await wal.append({ type: 'a', data: payloadFor(2, 10) })
    await wal.sync()
    expect(wal.metrics().durableSeq).toBe(seq2)
    await wal.close()
  })
})

describe("sync: 'background'", () => {
  it('resolves once buffered; flush() writes, the interval writes and fsyncs', async () => {
    const dir = tempDir()
    const wal = await Wal.open({ dir, sync: 'background', syncIntervalMs: 50, bufferSize: 1 << 20 })
    const seqs = await Promise.all(
      Array.from({ length: 10 }, (_, i) => wal.append({ type: 'a', data: payloadFor(i, 10) })),
    )
    expect(seqs).toEqual(Array.from({ length: 10 }, (_, i) => i + 1))
    expect(wal.metrics().writtenSeq).toBe(0) // still only in memory
    await wal.flush()
    expect(wal.metrics().writtenSeq).toBe(10)
    await wal.append({ type: 'a', data: payloadFor(11, 10) })
    await new Promise((r) => setTimeout(r, 200))
    expect(wal.metrics().durableSeq).toBe(11)
    await wal.close()
    const reopened = await Wal.open({ dir })
    expect(reopened.lastSeq).toBe(11)
    await reopened.close()
  })

  it('writes when the buffer reaches bufferSize', async () => {
    const wal = await Wal.open({
      dir: tempDir(),
      sync: 'background',
      syncIntervalMs: 60_000,
      bufferSize: 4096,
    })
    for (let i = 0; i < 100; i++) await wal.append({ type: 'a', data: payloadFor(i, 100) })
    // No timer fires within this test (60 s interval): only the full buffer can trigger the write.
    await vi.waitFor(() => expect(wal.metrics().writtenSeq).toBeGreaterThan(0), { timeout: 2000 })
    expect(wal.metrics().fsyncs).toBe(0)
    await wal.close()
  })
})

describe("sync: 'background' while an fdatasync runs", () => {
  it('fills fresh buffer-sized batches instead of regrowing one, and keeps every record in order', async () => {
    const dir = tempDir()
    const fault = faultyFiles()
    let release: () => void = () => {}
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    let hold = false
    const fdatasync = fault.files.fdatasync
    fault.files.fdatasync = async (fd) => {
      if (hold) await gate // the interval fdatasync blocks the writer loop until released
      return fdatasync(fd)
    }
    const writes: number[] = []
    const writeSync = fault.files.writeSync
    fault.files.writeSync = (fd, buf, offset, length, position) => {
      writes.push(length)
      writeSync(fd, buf, offset, length, position)
    }
    const wal = await Wal.open({
      dir,
      sync: 'background',
      syncIntervalMs: 1,
      bufferSize: 4096,
      segmentSize: 64 * 1024,
      files: fault.files,
    })
    const group = (first: number) =>
      Array.from({ length: 10 }, (_, i) => ({ type: 'g', data: payloadFor(first + i, 100) }))
    hold = true
    await wal.appendBatch(group(1))
    await wal.flush()
    await new Promise((r) => setTimeout(r, 20)) // the interval fdatasync starts and blocks
    for (let g = 1; g < 100; g++) await wal.appendBatch(group(g * 10 + 1))
    expect(wal.metrics().writtenSeq).toBeLessThan(1000) // held behind the blocked fdatasync
    release()
    await wal.close()
    const frameBytes = 10 * (20 + 9 + 1 + 100) // one group of 10 frames
    expect(writes.length).toBeGreaterThan(10)
    for (const length of writes) expect(length).toBeLessThanOrEqual(4096 + frameBytes)
    const reopened = await Wal.open({ dir })
    const records = await collect(reopened.records())
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1))
    for (const r of records) expect(r.data).toEqual(payloadFor(r.seq, 100))
    expect(reopened.metrics().segments).toBeGreaterThan(1)
    await reopened.close()
  })
})

describe('backpressure', () => {
  it('bounds pending bytes: a producer faster than the disk waits, and order is kept', async () => {
    const wal = await Wal.open({ dir: tempDir(), sync: 'always', maxPendingBytes: 16 * 1024 })
    let peak = 0
    const all = Array.from({ length: 2000 }, (_, i) => {
      const p = wal.append({ type: 'p', data: payloadFor(i, 200) })
      peak = Math.max(peak, wal.metrics().pendingBytes)
      return p
    })
    const seqs = await Promise.all(all)
    expect(seqs).toEqual(Array.from({ length: 2000 }, (_, i) => i + 1))
    // Admission stops once pending bytes reach the limit; at most one record overshoots it.
    expect(peak).toBeLessThanOrEqual(16 * 1024 + 256)
    await wal.close()
  })
})

describe('acknowledgement order', () => {
  it.each(['always', 'os-cache', 'background'] as const)(
    "'%s': appends that waited for admission are acknowledged in seq order with later ones",
    async (sync) => {
      const wal = await Wal.open({ dir: tempDir(), sync, maxPendingBytes: 1000, bufferSize: 1000 })
      const order: number[] = []
      const done: Promise<unknown>[] = []
      const append = (size: number) => {
        const p = wal.append({ type: 'e', data: new Uint8Array(size) }).then((seq) => order.push(seq))
        done.push(p)
        return p
      }
      void append(2000) // over maxPendingBytes: the next ones wait for admission
      // Appended from a flush's continuation, straight into the batch the waiting ones are admitted to.
      done.push(wal.flush().then(() => append(10)))
      for (let i = 0; i < 5; i++) void append(10)
      await Promise.all(done)
      expect(order).toEqual([...order].sort((a, b) => a - b))
      expect(order).toHaveLength(7)
      await wal.close()
    },
  )
})

describe('failed state', () => {
  it('an fdatasync error fails the WAL: pending and later appends reject, reopen recovers the acknowledged', async () => {
    const dir = tempDir()
    const fault = faultyFiles()
    const wal = await Wal.open({ dir, sync: 'always', files: fault.files })
    for (let i = 1; i <= 10; i++) await wal.append({ type: 'ok', data: payloadFor(i, 30) })
    fault.fail('fdatasync', 'EIO')
    const pending = Array.from({ length: 5 }, (_, i) => wal.append({ type: 'lost', data: payloadFor(i, 30) }))
    for (const p of pending) await expect(p).rejects.toMatchObject({ code: 'WAL_IO' })
    fault.heal('fdatasync')
    // Never retry an fsync and report success: the WAL stays failed.
    await expect(wal.append({ type: 'later', data: new Uint8Array(1) })).rejects.toMatchObject({
      code: 'WAL_IO',
    })
    await expect(wal.sync()).rejects.toMatchObject({ code: 'WAL_IO' })
    await wal.close().catch(() => {})
    const reopened = await Wal.open({ dir })
    const records = await collect(reopened.records({ from: 1, to: 10 }))
    expect(records.map((r) => r.type)).toEqual(Array(10).fill('ok'))
    await reopened.close()
  })

  it('a blocking fdatasync error (blockingSync) fails the WAL the same way', async () => {
    const dir = tempDir()
    const fault = faultyFiles()
    const wal = await Wal.open({ dir, sync: 'always', blockingSync: true, files: fault.files })
    for (let i = 1; i <= 5; i++) await wal.append({ type: 'ok', data: payloadFor(i, 30) })
    fault.fail('fdatasyncSync', 'EIO')
    await expect(wal.append({ type: 'lost', data: new Uint8Array(1) })).rejects.toMatchObject({
      code: 'WAL_IO',
      cause: { code: 'EIO' },
    })
    fault.heal('fdatasyncSync')
    await expect(wal.append({ type: 'later', data: new Uint8Array(1) })).rejects.toMatchObject({
      code: 'WAL_IO',
    })
    await wal.close().catch(() => {})
    const reopened = await Wal.open({ dir })
    const types = (await collect(reopened.records({ from: 1, to: 5 }))).map((r) => r.type)
    expect(types).toEqual(Array(5).fill('ok'))
    await reopened.close()
  })

  it('a write error (ENOSPC) fails the WAL with WAL_IO carrying the cause', async () => {
    const fault = faultyFiles()
    const wal = await Wal.open({ dir: tempDir(), sync: 'os-cache', files: fault.files })
    fault.fail('write', 'ENOSPC')
    const err = await wal.append({ type: 'x', data: new Uint8Array(5) }).catch((e) => e)
    expect(err).toMatchObject({ code: 'WAL_IO' })
    expect((err as Error).cause).toMatchObject({ code: 'ENOSPC' })
    await wal.close().catch(() => {})
  })
})

describe('interval fdatasync under a busy append chain', () => {
  it("'os-cache' still fdatasyncs every syncIntervalMs while awaited appends keep the event loop busy", async () => {
    const wal = await Wal.open({ dir: tempDir(), sync: 'os-cache', syncIntervalMs: 10 })
    const start = performance.now()
    let i = 0
    // Each append resolves in a microtask after its write: timers cannot run inside this loop.
    while (performance.now() - start < 150) await wal.append({ type: 'a', data: payloadFor(i++, 50) })
    expect(wal.metrics().fsyncs).toBeGreaterThan(2)
    await wal.close()
  })
})

describe('option validation', () => {
  it('rejects byte sizes that are not integers or are too small, and a non-boolean blockingSync', async () => {
    for (const options of [
      { bufferSize: 0.5 },
      { bufferSize: 10 },
      { segmentSize: 1.5 },
      { maxRecordSize: 0 },
      { blockingSync: 'yes' as unknown as boolean },
    ]) {
      await expect(Wal.open({ dir: tempDir(), ...options })).rejects.toMatchObject({
        code: 'WAL_INVALID_ARGUMENT',
      })
    }
  })
})
