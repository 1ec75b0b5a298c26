/** Shared types and helpers of the benchmark parent (`main.ts`) and its child processes (`worker.ts`). */
import type BetterSqlite3 from 'better-sqlite3'

/** One task run by a child process: `task` names the function, `params` its inputs. */
export interface TaskSpec {
  task: string
  /** A directory the task may use; the parent creates and deletes it. */
  dir: string
  params: Record<string, string | number | boolean>
}

/** What a child sends back: named figures, and the peak RSS of the child process. */
export interface TaskResult {
  metrics: Record<string, number>
  maxRssMB: number
}

/** A task's parameters, and the named figures it returns. */
export type Params = TaskSpec['params']
export type Metrics = Record<string, number>

/** A numeric task parameter. */
export const num = (p: Params, k: string): number => {
  const v = p[k]
  if (typeof v !== 'number') throw new Error(`param ${k} must be a number`)
  return v
}
/** A string task parameter. */
export const str = (p: Params, k: string): string => {
  const v = p[k]
  if (typeof v !== 'string') throw new Error(`param ${k} must be a string`)
  return v
}

/** better-sqlite3, loaded only by the tasks that use it. */
export async function loadSqlite(): Promise<typeof BetterSqlite3> {
  return (await import('better-sqlite3')).default
}

/** Latencies kept per measurement (a Float64Array of 32 MB). */
export const MAX_LATENCIES = 4_000_000

/**
 * Runs `concurrency` loops, each awaiting `op` until `durationMs` have passed, and records the latency of
 * every call in `latencies` (when given). `op` gets a sequence number (from `firstSeq`, one per call) and
 * the number of its loop (0 to concurrency - 1).
 */
export async function drive(
  op: (seq: number, appender: number) => unknown,
  concurrency: number,
  durationMs: number,
  latencies: Float64Array | undefined,
  firstSeq: number,
): Promise<{ ops: number; ms: number; nextSeq: number }> {
  let seq = firstSeq
  let ops = 0
  const cap = latencies ? latencies.length : Number.POSITIVE_INFINITY
  const start = performance.now()
  const deadline = start + durationMs
  await Promise.all(
    Array.from({ length: concurrency }, async (_, appender) => {
      while (ops < cap && performance.now() < deadline) {
        const t = performance.now()
        await op(seq++, appender)
        const done = performance.now()
        if (latencies) latencies[ops] = done - t
        ops++
      }
    }),
  )
  return { ops, ms: performance.now() - start, nextSeq: seq }
}

/** A seeded xorshift32 generator of uint32s: the same seed gives every system the same sequence. */
export function random(seed: number): () => number {
  let x = seed | 0 || 0x9e3779b9
  return () => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return x >>> 0
  }
}

/** The median of `values` (NaN when empty). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN
  const s = [...values].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

/** The `q` quantile (0..1) of the first `n` entries of `values`, nearest rank; sorts them in place. */
export function quantile(values: Float64Array, n: number, q: number): number {
  if (n === 0) return Number.NaN
  const s = values.subarray(0, n).sort()
  return s[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))]!
}

/** 8-byte big-endian key of a sequence number (LevelDB keys then sort numerically). */
export function seqKey(seq: number): Uint8Array {
  const key = new Uint8Array(8)
  new DataView(key.buffer).setBigUint64(0, BigInt(seq))
  return key
}

/** A payload of `size` bytes of non-trivial content (so no layer can compress it away). */
export function payload(size: number, salt = 0): Uint8Array {
  const out = new Uint8Array(size)
  let x = 0x9e3779b9 ^ salt
  for (let i = 0; i < size; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

/**
 * `count` distinct payloads of `size` bytes, to be used round-robin: records differ from their
 * neighbours, so LevelDB's block compression (Snappy) finds no repeats to exploit.
 */
export function payloadPool(size: number, count = 1024): Buffer[] {
  return Array.from({ length: count }, (_, i) => Buffer.from(payload(size, i + 1)))
}

/**
 * The LevelDB peer's value for a record: time (f64 LE), type length (u8), type (UTF-8), data. This is
 * the layout of waltz's bytes serializer before core v2 moved the envelope into the frame: LevelDB
 * stores the same three fields, the same way, as in earlier runs.
 */
export class LevelValues {
  private readonly typeBytes = new Map<string, Buffer>()
  private lastType = ''
  private lastTypeBytes: Uint8Array = new Uint8Array(0)

  /** The value of a record. */
  encode(type: string, time: number, data: Uint8Array): Buffer {
    let name = this.typeBytes.get(type)
    if (name === undefined) {
      name = Buffer.from(type, 'utf8')
      this.typeBytes.set(type, name)
    }
    const out = Buffer.allocUnsafe(9 + name.length + data.byteLength)
    out.writeDoubleLE(time, 0)
    out[8] = name.length
    out.set(name, 9)
    out.set(data, 9 + name.length)
    return out
  }

  /** A value's record; `data` is a view into `value`. */
  decode(value: Uint8Array): { type: string; time: number; data: Uint8Array } {
    const view = new DataView(value.buffer, value.byteOffset, value.byteLength)
    const typeEnd = 9 + value[8]!
    return {
      type: this.typeName(value.subarray(9, typeEnd)),
      time: view.getFloat64(0, true),
      data: value.subarray(typeEnd),
    }
  }

  /** Decodes a type name, reusing the last one when the bytes are equal (a log has few types). */
  private typeName(bytes: Uint8Array): string {
    const last = this.lastTypeBytes
    let same = last.length === bytes.length
    for (let i = 0; same && i < bytes.length; i++) same = last[i] === bytes[i]
    if (same) return this.lastType
    this.lastType = Buffer.from(bytes).toString('utf8')
    this.lastTypeBytes = bytes.slice()
    return this.lastType
  }
}

/** Formats a number with thousands separators and `digits` decimals. */
export function fmt(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return 'n/a'
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

/** Formats a ratio like `12.3×` (2 significant decimals below 10). */
export function fmtRatio(value: number): string {
  if (!Number.isFinite(value)) return 'n/a'
  return `${value >= 10 ? value.toFixed(1) : value.toFixed(2)}×`
}
