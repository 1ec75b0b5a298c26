/**
 * Workload 10: compression. JSON order events (the kind an order-matching engine appends: ids, sides,
 * symbols, prices, quantities, times) are appended to a fresh `Wal` in `'background'` mode with one
 * `compression` setting, in atomic groups of `group` records (`appendBatch`; a group of 1 is a plain
 * `append`), then replayed. Reports bytes on disk, append and replay throughput. After an untimed
 * warm-up log of the same setting, so the codec and the JIT are warm.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import * as zlib from 'node:zlib'
import { type CompressionCodec, Wal } from '@waltz/core'
import { type Metrics, median, num, type Params, str } from './common.js'

const SYMBOLS = ['ACME', 'GLOBEX', 'INITECH', 'UMBRELLA', 'HOOLI', 'STARK', 'WAYNE', 'TYRELL']
const enc = new TextEncoder()

/** Event `i` of the workload: deterministic, varied like real order flow. */
export function orderEvent(i: number): { type: string; key: string; data: Uint8Array } {
  const symbol = SYMBOLS[(i * 7) % SYMBOLS.length]!
  const kind = i % 10 < 6 ? 'OrderPlaced' : i % 10 < 9 ? 'OrderMatched' : 'OrderCancelled'
  const body = {
    orderId: `ord-${(1_000_000 + i * 13) % 9_999_991}`,
    accountId: `acct-${(i * 31) % 5000}`,
    symbol,
    side: i % 3 === 0 ? 'sell' : 'buy',
    price: Math.round((100 + ((i * 37) % 2000) / 100) * 100) / 100,
    quantity: 1 + ((i * 11) % 500),
    timeInForce: i % 4 === 0 ? 'IOC' : 'GTC',
    placedAt: new Date(1_767_225_600_000 + i * 137).toISOString(),
  }
  return { type: kind, key: `book-${symbol}`, data: enc.encode(JSON.stringify(body)) }
}

const zstdAvailable =
  typeof (zlib as unknown as { zstdCompressSync?: unknown }).zstdCompressSync === 'function'

function diskBytes(dir: string): number {
  return readdirSync(dir)
    .filter((n) => n.endsWith('.wal'))
    .reduce((n, f) => n + statSync(join(dir, f)).size, 0)
}

async function writeLog(
  dir: string,
  compression: 'none' | CompressionCodec,
  records: number,
  group: number,
): Promise<{ ms: number; dataBytes: number }> {
  const wal = await Wal.open({ dir, sync: 'background', compression, segmentSize: 64 << 20 })
  let dataBytes = 0
  const started = performance.now()
  for (let i = 0; i < records; i += group) {
    const batch = []
    for (let k = i; k < Math.min(records, i + group); k++) {
      const e = orderEvent(k)
      dataBytes += e.data.byteLength
      batch.push(e)
    }
    if (batch.length === 1) await wal.append(batch[0]!)
    else await wal.appendBatch(batch)
  }
  await wal.flush()
  const ms = performance.now() - started
  await wal.close()
  return { ms, dataBytes }
}

async function replay(dir: string): Promise<{ ms: number; records: number }> {
  const reader = await Wal.openReader({ dir })
  const started = performance.now()
  let records = 0
  for await (const r of reader.records()) if (r.data.byteLength > 0) records++
  const ms = performance.now() - started
  await reader.close()
  return { ms, records }
}

async function compressionRun(dir: string, p: Params): Promise<Metrics> {
  const codec = str(p, 'codec') as 'none' | CompressionCodec
  const records = num(p, 'records')
  const group = num(p, 'group')
  const replays = num(p, 'replays')
  if (codec === 'zstd' && !zstdAvailable) return { available: 0 }
  const warm = mkdtempSync(join(dir, 'warm-'))
  await writeLog(warm, codec, Math.min(records, 20_000), group)
  await replay(warm)
  rmSync(warm, { recursive: true, force: true })
  const logDir = mkdtempSync(join(dir, 'log-'))
  const written = await writeLog(logDir, codec, records, group)
  const times: number[] = []
  for (let i = 0; i < replays; i++) {
    const r = await replay(logDir)
    if (r.records !== records) throw new Error(`replay returned ${r.records} records, not ${records}`)
    times.push(r.ms)
  }
  const bytes = diskBytes(logDir)
  rmSync(logDir, { recursive: true, force: true })
  return {
    available: 1,
    records,
    dataBytes: written.dataBytes,
    bytes,
    appendRps: (records / written.ms) * 1000,
    replayRps: (records / median(times)) * 1000,
  }
}

/** The tasks `worker.ts` runs for this workload. */
export const compressionTasks = { 'compression-run': compressionRun }
