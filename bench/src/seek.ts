/**
 * Workload 7: time to the first record of `records({ from })` in the middle of a 64 MiB sealed segment,
 * in a WAL instance opened afresh (so nothing of the segment is indexed in memory): with the segment's seek
 * file, and without it (the log's segments hard-linked into a directory without seek files: reads walk
 * the segment up to the seq, as every read did before seek files existed). `seek-prepare` writes the log
 * once; `seek-first` measures one of the two.
 */
import { linkSync, mkdirSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { Wal } from '@waltz/core'
import { type Metrics, median, num, type Params, payloadPool, str } from './common.js'

const MiB = 1 << 20
/** The log with seek files, and the same segments without them. */
const WITH = 'with-seek-file'
const WITHOUT = 'without-seek-file'

async function seekPrepare(dir: string, p: Params): Promise<Metrics> {
  const segmentSize = num(p, 'segmentMiB') * MiB
  const size = num(p, 'size')
  const pool = payloadPool(size)
  const withDir = join(dir, WITH)
  const wal = await Wal.open({ dir: withDir, sync: 'background', segmentSize })
  const started = performance.now()
  // Until the first segment is sealed and the second holds a little.
  let n = 0
  while (wal.metrics().segments < 2 || n % 10_000 !== 0) {
    const pending: Promise<number>[] = []
    for (let i = 0; i < 1000; i++, n++) pending.push(wal.append({ type: 'e', data: pool[n & 1023]! }))
    await Promise.all(pending)
  }
  await wal.close()
  const ms = performance.now() - started
  const withoutDir = join(dir, WITHOUT)
  mkdirSync(withoutDir)
  for (const name of readdirSync(withDir)) {
    if (name.endsWith('.wal')) linkSync(join(withDir, name), join(withoutDir, name))
  }
  const first = readdirSync(withDir)
    .filter((f) => f.endsWith('.wal'))
    .sort()[0]!
  const second = readdirSync(withDir)
    .filter((f) => f.endsWith('.wal'))
    .sort()[1]!
  return {
    records: n,
    ms,
    segmentBytes: statSync(join(withDir, first)).size,
    segmentLastSeq: Number(second.slice(0, 20)) - 1,
    seekFileBytes: statSync(join(withDir, `${first.slice(0, 20)}.seek`)).size,
  }
}

/** Opens a reader of `logDir` (a new instance) and times `records({ from })` to its first record. */
async function firstRecordMs(logDir: string, from: number): Promise<number> {
  const reader = await Wal.openReader({ dir: logDir })
  const started = performance.now()
  const it = reader.records({ from })[Symbol.asyncIterator]()
  const first = await it.next()
  const ms = performance.now() - started
  await it.return?.()
  await reader.close()
  if (first.done || first.value.seq !== from) throw new Error(`records({ from: ${from} }) began elsewhere`)
  return ms
}

/**
 * The first read of the process (cold), then `warmup` untimed reads, then `opens` timed ones, each with
 * a fresh reader, `from` spread over the middle half of the first segment.
 */
async function seekFirst(dir: string, p: Params): Promise<Metrics> {
  const system = str(p, 'system')
  const opens = num(p, 'opens')
  const warmup = num(p, 'warmup')
  const lastSeq = num(p, 'segmentLastSeq')
  const logDir = join(dir, system === 'seek-file' ? WITH : WITHOUT)
  const fromAt = (k: number, of: number) => Math.floor(lastSeq / 4 + ((k + 0.5) / of) * (lastSeq / 2))
  const coldMs = await firstRecordMs(logDir, fromAt(0, 1))
  for (let i = 0; i < warmup; i++) await firstRecordMs(logDir, fromAt(i, warmup) + 7)
  const times: number[] = []
  for (let i = 0; i < opens; i++) times.push(await firstRecordMs(logDir, fromAt(i, opens)))
  const sorted = [...times].sort((a, b) => a - b)
  return {
    coldMs,
    firstRecordMs: median(times),
    maxMs: sorted[sorted.length - 1] ?? Number.NaN,
    opens,
    warmup,
  }
}

/** The tasks `worker.ts` runs for this workload. */
export const seekTasks = { 'seek-prepare': seekPrepare, 'seek-first': seekFirst }
