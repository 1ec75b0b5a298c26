/**
 * The writer's stats file, `<dir>/stats.wzs`: opt-in, advisory. Only the writing process measures
 * its appends and fsyncs (`metrics()`); a reader in another process (`waltz ui`) cannot see them.
 * {@link publishStats} samples the writer's metrics every few seconds and keeps the last minutes of
 * samples in this small file, which readers read with {@link readWriterStats}.
 *
 * Crash safety, the seek file's rules (`docs/FORMAT.md`): the file is rewritten whole under a temp
 * name and renamed into place, so a reader sees the old file or the new one, never a mix; it is
 * checksummed, so one that a power loss left empty, short or garbled is told apart (`WAL_CORRUPT`)
 * and replaced at the next sample. It is not fsync'ed: it only describes the log, losing it loses
 * samples and nothing else, and an fsync every few seconds would add to the disk load it measures.
 * Only the lock holder writes it, and never once its log is closed (another writer may own the
 * directory then).
 */
import { renameSync, writeFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import type { ArchiveCounters } from './archive.js'
import { WalError } from './errors.js'
import { silentLogger, type WalLogger } from './logger.js'
import type { RetentionCounters } from './retention.js'
import type { RecordShape } from './serializer.js'
import type { Wal } from './wal.js'

/** The stats file's name in the log directory. */
export const STATS_FILE = 'stats.wzs'
/** Where a new version is written before it is renamed into place. */
const STATS_TEMP = `${STATS_FILE}.tmp`
const MAGIC = 0x5453_5a57 // "WZST" little-endian
const VERSION = 1
const HEADER_SIZE = 16
/** Far above what any `keepMs` / `everyMs` allows: a larger length is damage. */
const MAX_BODY = 4 * 1024 * 1024
/** The most samples kept, whatever `keepMs / everyMs` is: the file stays a few tens of KiB. */
const MAX_SAMPLES = 1000

/** Options of {@link publishStats}. */
export interface StatsOptions {
  /** Milliseconds between samples: 10 to 3,600,000. Default 5000. */
  everyMs?: number
  /**
   * Milliseconds of samples kept in the file (at least `everyMs`; at most 1000 samples are kept).
   * Default 600,000 (ten minutes).
   */
  keepMs?: number
  /** Where a failing write is reported (once per error code). Default: silent. */
  logger?: WalLogger
}

/** One sample of the writer's metrics; counters are since the writer opened the log. */
export interface WriterStatsSample {
  /** When it was taken, ms since the epoch. */
  time: number
  /** The newest appended seq. */
  lastSeq: number
  /** The newest seq known durable. */
  durableSeq: number
  /** Records appended. */
  appends: number
  /** Bytes written. */
  bytes: number
  /** fsyncs (fdatasyncs) of segments. */
  fsyncs: number
  /** Median fsync latency of the writer's latest 1024 fsyncs at that time (0 before the first). */
  fsyncP50Ms: number
  /** 99th percentile of the same window. */
  fsyncP99Ms: number
}

/** What the stats file holds. */
export interface WriterStats {
  /** The writing process. */
  pid: number
  /** The sampling interval. */
  everyMs: number
  /** The samples, oldest first. */
  samples: WriterStatsSample[]
  /** Local segments at the newest sample. */
  segments: number
  /** Retention's counters at the newest sample (all 0 without retention). */
  retention: RetentionCounters
  /** The archive uploader's counters at the newest sample (all 0 without an archive). */
  archive: Pick<ArchiveCounters, 'archived' | 'uploadedBytes' | 'failures' | 'pending'>
}

/** A running {@link publishStats}. */
export interface StatsPublisher {
  /** The file written. */
  readonly file: string
  /** Stops sampling (the file stays, with the samples so far). Idempotent. */
  stop(): void
}

const COLUMNS = [
  'time',
  'lastSeq',
  'durableSeq',
  'appends',
  'bytes',
  'fsyncs',
  'fsyncP50Ms',
  'fsyncP99Ms',
] as const satisfies readonly (keyof WriterStatsSample)[]

/** Whether the log is still open: `closed` is set before a writer's close releases the lock. */
function isOpen(wal: Wal<RecordShape>): boolean {
  return !wal.isClosed
}

function checkInterval(name: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > 3_600_000) {
    throw WalError.INVALID_ARGUMENT(
      `${name} must be an integer from ${min} to 3600000 (ms), got ${String(value)}`,
    )
  }
  return value
}

/** The file's bytes: header (magic, version, body length, body CRC-32) then the JSON body. */
function encodeStats(stats: WriterStats): Buffer {
  const columns: Record<string, number[]> = {}
  for (const c of COLUMNS) columns[c] = stats.samples.map((s) => s[c])
  const body = Buffer.from(
    JSON.stringify({
      pid: stats.pid,
      everyMs: stats.everyMs,
      segments: stats.segments,
      retention: stats.retention,
      archive: stats.archive,
      columns,
    }),
  )
  const header = Buffer.alloc(HEADER_SIZE)
  header.writeUInt32LE(MAGIC, 0)
  header.writeUInt16LE(VERSION, 4)
  header.writeUInt32LE(body.length, 8)
  header.writeUInt32LE(crc32(body), 12)
  return Buffer.concat([header, body])
}

/**
 * Samples `wal.metrics()` every `everyMs` into `<wal.dir>/stats.wzs`, so that a reader in another
 * process can chart the writer's append rate and fsync latency over the last minutes. Opt-in: the
 * file exists only while some writer publishes (and after, with its last samples). The timer does
 * not keep the process alive; the first sample is written at once.
 *
 * @param wal - the log, open for writing (this process holds its lock)
 * @param options - see {@link StatsOptions}
 * @returns the publisher; stop it before closing the log (a closed log's publisher stops by itself,
 *   without writing)
 * @throws WalError `WAL_INVALID_ARGUMENT` for a bad option, `WAL_CLOSED` for a closed log
 * @example
 * ```ts no-run
 * const wal = await Wal.open({ dir: './events' })
 * const stats = publishStats(wal) // a sample every 5 s, ten minutes kept
 * // ... at shutdown:
 * stats.stop()
 * await wal.close()
 * ```
 */
export function publishStats<Rec extends RecordShape>(
  wal: Wal<Rec>,
  options: StatsOptions = {},
): StatsPublisher {
  const log = wal as unknown as Wal<RecordShape>
  if (!isOpen(log)) throw WalError.CLOSED('the WAL is closed')
  const everyMs = checkInterval('everyMs', options.everyMs ?? 5000, 10)
  const keepMs = checkInterval('keepMs', options.keepMs ?? 600_000, everyMs)
  const keep = Math.min(MAX_SAMPLES, Math.floor(keepMs / everyMs) + 1)
  const logger = options.logger ?? silentLogger
  const file = join(wal.dir, STATS_FILE)
  const temp = join(wal.dir, STATS_TEMP)
  const samples: WriterStatsSample[] = []
  const reported = new Set<string>()
  let timer: NodeJS.Timeout | undefined

  const stop = () => {
    clearInterval(timer)
    timer = undefined
  }
  const sample = () => {
    if (!isOpen(log)) {
      stop()
      return
    }
    const m = log.metrics()
    samples.push({
      time: Date.now(),
      lastSeq: m.lastSeq,
      durableSeq: m.durableSeq,
      appends: m.appends,
      bytes: m.bytes,
      fsyncs: m.fsyncs,
      fsyncP50Ms: m.fsyncLatencyMs.p50,
      fsyncP99Ms: m.fsyncLatencyMs.p99,
    })
    if (samples.length > keep) samples.shift()
    const { archived, uploadedBytes, failures, pending } = m.archive
    const bytes = encodeStats({
      pid: process.pid,
      everyMs,
      samples,
      segments: m.segments,
      retention: { ...m.retention },
      archive: { archived, uploadedBytes, failures, pending },
    })
    try {
      // Synchronous, so that nothing (a close releasing the lock) runs between the check and the
      // rename. A few KiB into the page cache, once every few seconds.
      writeFileSync(temp, bytes, { mode: 0o600 })
      if (isOpen(log)) renameSync(temp, file)
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'EIO'
      if (!reported.has(code)) {
        reported.add(code)
        logger.warn('writing the stats file failed (retried at each sample)', { file, code })
      }
    }
  }
  sample()
  timer = setInterval(sample, everyMs)
  timer.unref()
  return { file, stop }
}

function corrupt(file: string, why: string): WalError {
  return WalError.CORRUPT(`stats file ${file}: ${why}`, { file })
}

function finite(file: string, what: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw corrupt(file, `${what} is not a non-negative number`)
  }
  return value
}

function counters<K extends string>(
  file: string,
  what: string,
  value: unknown,
  keys: readonly K[],
): Record<K, number> {
  if (typeof value !== 'object' || value === null) throw corrupt(file, `${what} is missing`)
  const out = {} as Record<K, number>
  for (const k of keys) out[k] = finite(file, `${what}.${k}`, (value as Record<string, unknown>)[k])
  return out
}

/**
 * Decodes a stats file's bytes.
 *
 * @param bytes - the file's content
 * @param file - its path, for errors
 * @returns what it holds
 * @throws WalError `WAL_CORRUPT` (short, cut, checksum, not the expected JSON),
 *   `WAL_FORMAT_UNSUPPORTED` (another version)
 * @internal
 */
export function decodeStats(bytes: Buffer, file: string): WriterStats {
  if (bytes.length < HEADER_SIZE) throw corrupt(file, `${bytes.length} bytes, shorter than its header`)
  if (bytes.readUInt32LE(0) !== MAGIC) throw corrupt(file, 'bad magic')
  if (bytes.readUInt16LE(6) !== 0) throw corrupt(file, 'reserved bytes are not 0')
  const version = bytes.readUInt16LE(4)
  if (version !== VERSION) {
    throw WalError.FORMAT_UNSUPPORTED(
      `stats file ${file} is version ${version}; this waltz reads version ${VERSION}`,
      {
        file,
      },
    )
  }
  const length = bytes.readUInt32LE(8)
  if (length > MAX_BODY || length !== bytes.length - HEADER_SIZE) {
    throw corrupt(
      file,
      `its header gives ${length} bytes of body, the file holds ${bytes.length - HEADER_SIZE}`,
    )
  }
  const body = bytes.subarray(HEADER_SIZE)
  if (crc32(body) !== bytes.readUInt32LE(12)) throw corrupt(file, 'checksum mismatch')
  let parsed: Record<string, unknown>
  try {
    parsed = JSON.parse(body.toString('utf8')) as Record<string, unknown>
  } catch {
    throw corrupt(file, 'its body is not JSON')
  }
  if (typeof parsed !== 'object' || parsed === null) throw corrupt(file, 'its body is not an object')
  const columns = parsed.columns as Record<string, unknown> | undefined
  if (typeof columns !== 'object' || columns === null) throw corrupt(file, 'columns are missing')
  const n = (columns.time as unknown[] | undefined)?.length
  if (n === undefined || n > MAX_SAMPLES) throw corrupt(file, 'no time column')
  const samples = Array.from({ length: n }, () => ({}) as WriterStatsSample)
  for (const c of COLUMNS) {
    const col = columns[c]
    if (!Array.isArray(col) || col.length !== n)
      throw corrupt(file, `column ${c} is missing or of another length`)
    for (let i = 0; i < n; i++) samples[i]![c] = finite(file, `${c}[${i}]`, col[i])
  }
  const pid = finite(file, 'pid', parsed.pid)
  const everyMs = finite(file, 'everyMs', parsed.everyMs)
  return {
    pid,
    everyMs,
    samples,
    segments: finite(file, 'segments', parsed.segments),
    retention: counters(file, 'retention', parsed.retention, ['passes', 'segmentsRemoved', 'bytesRemoved']),
    archive: counters(file, 'archive', parsed.archive, ['archived', 'uploadedBytes', 'failures', 'pending']),
  }
}

/**
 * Reads the stats file a writer publishes ({@link publishStats}) in `dir`. Never takes the lock.
 * The samples are as old as the writer left them: compare the newest `time` with the clock (and the
 * lock) to tell a running writer's from a stopped one's.
 *
 * @param dir - the log directory
 * @returns the stats, or undefined when no writer has published any
 * @throws WalError `WAL_CORRUPT` (damaged: a writer that publishes replaces it at its next sample),
 *   `WAL_FORMAT_UNSUPPORTED`, `WAL_IO`
 * @example
 * ```ts no-run
 * const stats = await readWriterStats('./events')
 * const newest = stats?.samples.at(-1)
 * console.log(newest && `fsync p99 ${newest.fsyncP99Ms} ms`)
 * ```
 */
export async function readWriterStats(dir: string): Promise<WriterStats | undefined> {
  const file = join(dir, STATS_FILE)
  let bytes: Buffer
  try {
    bytes = await readFile(file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw WalError.IO(`reading ${file} failed`, { file, cause: err })
  }
  return decodeStats(bytes, file)
}
