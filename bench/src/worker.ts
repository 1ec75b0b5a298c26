/**
 * One benchmark task in a fresh child process (fresh heap and JIT, and a peak RSS of its own), forked by
 * `main.ts`: `node bench/dist/worker.js '<TaskSpec as JSON>'`. The result goes back over IPC (or to stdout
 * when run by hand).
 */
import { spawnSync } from 'node:child_process'
import {
  closeSync,
  fdatasync,
  fdatasyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  writeSync,
} from 'node:fs'
import { join } from 'node:path'
import { type RecordShape, Wal } from '@waltz/core'
import { archiveTasks } from './archive.js'
import { clusterTasks } from './cluster.js'
import {
  drive,
  LevelValues,
  loadSqlite,
  MAX_LATENCIES,
  type Metrics,
  median,
  num,
  type Params,
  payload,
  payloadPool,
  quantile,
  seqKey,
  str,
  type TaskResult,
  type TaskSpec,
} from './common.js'
import { compressionTasks } from './compression.js'
import { encryptionTasks } from './encryption.js'
import { eventStoreTasks } from './eventstore.js'
import { seekTasks } from './seek.js'
import { type AnySerializer, type BenchRecord, type SerializerName, serializerCase } from './serializers.js'

async function openWal(
  dir: string,
  sync: 'always' | 'os-cache' | 'background',
  serializer?: AnySerializer,
  blockingSync = false,
) {
  return Wal.open<RecordShape>(
    serializer ? { dir, sync, serializer, blockingSync } : { dir, sync, blockingSync },
  )
}

/**
 * The size of the frame waltz writes for one appended record of `type` with `size` bytes of data (bytes
 * serializer), measured by appending one to a scratch log in `dir`: the node:fs rows write frames of
 * exactly this size, whatever core's frame layout is.
 */
async function waltzFrameSize(dir: string, type: string, size: number): Promise<number> {
  const wal = await openWal(join(dir, 'frame-size'), 'background')
  await wal.append({ type, time: 0, data: new Uint8Array(size) })
  const frameSize = wal.metrics().bytes
  await wal.close()
  return frameSize
}

const loadLevel = async () => (await import('classic-level')).ClassicLevel
const levelOptions = { keyEncoding: 'view', valueEncoding: 'view' } as const

// ---------------------------------------------------------------------------------------------------
// Workload 1: buffered append throughput. Timed until every record is at least in the OS page cache.

async function buffered(dir: string, p: Params): Promise<Metrics> {
  // Every system first runs the same workload, a fifth of the records, into a scratch store: the
  // timed run then measures steady throughput, not how fast V8 compiles this process's code.
  const warmup = join(dir, 'warmup')
  const timed = join(dir, 'timed')
  mkdirSync(warmup)
  mkdirSync(timed)
  await bufferedRun(warmup, p, Math.max(1000, Math.floor(num(p, 'n') / 5)))
  // Dirty pages left by earlier measurements (other processes) would throttle this one's writes.
  spawnSync('sync')
  return bufferedRun(timed, p, num(p, 'n'))
}

async function bufferedRun(dir: string, p: Params, n: number): Promise<Metrics> {
  const system = str(p, 'system')
  const size = num(p, 'size')
  const batchSize = 1000
  const pool = payloadPool(size)
  const data = pool[0]!
  const type = 'e'
  const extra: Metrics = {}
  let ms: number
  if (system.startsWith('waltz-')) {
    const sync = system.includes('os-cache') ? 'os-cache' : 'background'
    const wal = await openWal(join(dir, 'wal'), sync)
    const t = performance.now()
    if (system.endsWith('-batch')) {
      for (let i = 0; i < n; i += batchSize) {
        const batch: BenchRecord[] = []
        for (let k = i; k < Math.min(n, i + batchSize); k++)
          batch.push({ type, time: k, data: pool[k & 1023]! })
        await wal.appendBatch(batch)
      }
    } else {
      for (let i = 0; i < n; i++) await wal.append({ type, time: i, data: pool[i & 1023]! })
    }
    await wal.flush()
    ms = performance.now() - t
    const m = wal.metrics()
    extra.writes = m.batchesWritten
    extra.fsyncs = m.fsyncs
    extra.diskBytes = m.bytes
    await wal.close()
  } else if (system === 'sqlite-normal') {
    const Database = await loadSqlite()
    const db = new Database(join(dir, 'events.sqlite'))
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = NORMAL')
    db.exec('CREATE TABLE events (seq INTEGER PRIMARY KEY, type TEXT, time INTEGER, data BLOB)')
    const insert = db.prepare('INSERT INTO events (seq, type, time, data) VALUES (?, ?, ?, ?)')
    const insertMany = db.transaction((from: number, to: number) => {
      for (let k = from; k < to; k++) insert.run(k + 1, type, k, pool[k & 1023]!)
    })
    const t = performance.now()
    for (let i = 0; i < n; i += batchSize) insertMany(i, Math.min(n, i + batchSize))
    ms = performance.now() - t
    db.close()
  } else if (system === 'level-nosync') {
    const ClassicLevel = await loadLevel()
    const db = new ClassicLevel<Uint8Array, Uint8Array>(join(dir, 'level'), levelOptions)
    await db.open()
    const values = new LevelValues()
    const t = performance.now()
    for (let i = 0; i < n; i += batchSize) {
      const ops: Array<{ type: 'put'; key: Uint8Array; value: Uint8Array }> = []
      for (let k = i; k < Math.min(n, i + batchSize); k++) {
        ops.push({ type: 'put', key: seqKey(k + 1), value: values.encode(type, k, pool[k & 1023]!) })
      }
      await db.batch(ops, { sync: false })
    }
    ms = performance.now() - t
    await db.close()
  } else if (system === 'fs-large') {
    // The physical limit: frames of waltz's size, encoded beforehand, written in 1 MiB writes.
    const frameSize = await waltzFrameSize(dir, type, size)
    const perChunk = Math.max(1, Math.floor((1 << 20) / frameSize))
    const chunk = Buffer.alloc(perChunk * frameSize)
    for (let k = 0; k < perChunk; k++) data.copy(chunk, k * frameSize + frameSize - size)
    const fd = openSync(join(dir, 'frames.bin'), 'w')
    const t = performance.now()
    for (let i = 0; i < n; i += perChunk) {
      const frames = Math.min(perChunk, n - i)
      writeSync(fd, chunk, 0, frames * frameSize)
    }
    ms = performance.now() - t
    fdatasyncSync(fd)
    closeSync(fd)
    extra.diskBytes = n * frameSize
  } else {
    throw new Error(`unknown buffered system ${system}`)
  }
  return { records: n, ms, recordsPerSec: (n / ms) * 1000, mbPerSec: (n * size) / ms / 1000, ...extra }
}

// ---------------------------------------------------------------------------------------------------
// Workload 2: durable appends, N concurrent appenders for a fixed time, latency of every append.

async function durable(dir: string, p: Params): Promise<Metrics> {
  const system = str(p, 'system')
  const size = num(p, 'size')
  const concurrency = num(p, 'concurrency')
  const durationMs = num(p, 'durationMs')
  const pool = payloadPool(size)
  const data = pool[0]!
  const type = 'e'
  let op: (seq: number) => unknown
  let close: () => Promise<void> | void
  let fsyncs: (() => number) | undefined
  if (system === 'waltz-always' || system === 'waltz-always-blocking') {
    const wal = await openWal(join(dir, 'wal'), 'always', undefined, system === 'waltz-always-blocking')
    op = (seq) => wal.append({ type, time: seq, data: pool[seq & 1023]! })
    close = () => wal.close()
    fsyncs = () => wal.metrics().fsyncs
  } else if (system === 'sqlite-full') {
    const Database = await loadSqlite()
    const db = new Database(join(dir, 'events.sqlite'))
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = FULL')
    db.exec('CREATE TABLE events (seq INTEGER PRIMARY KEY, type TEXT, time INTEGER, data BLOB)')
    const insert = db.prepare('INSERT INTO events (seq, type, time, data) VALUES (?, ?, ?, ?)')
    // Autocommit: one transaction (one WAL commit and fsync) per event. The API is synchronous, so N
    // "concurrent" appenders run their transactions one after another.
    op = (seq) => insert.run(seq, type, seq, pool[seq & 1023]!)
    close = () => {
      db.close()
    }
  } else if (system === 'level-sync') {
    const ClassicLevel = await loadLevel()
    const db = new ClassicLevel<Uint8Array, Uint8Array>(join(dir, 'level'), levelOptions)
    await db.open()
    const values = new LevelValues()
    op = (seq) => db.put(seqKey(seq), values.encode(type, seq, pool[seq & 1023]!), { sync: true })
    close = () => db.close()
  } else if (system === 'fs-fdatasync' || system === 'fs-fdatasync-async') {
    // The limit: one write and one fdatasync per record, blocking (or with the fdatasync on the thread
    // pool, as an async API like waltz's must do it).
    const frame = Buffer.alloc(await waltzFrameSize(dir, type, size))
    data.copy(frame, frame.length - size)
    const fd = openSync(join(dir, 'frames.bin'), 'w')
    op =
      system === 'fs-fdatasync'
        ? () => {
            writeSync(fd, frame)
            fdatasyncSync(fd)
          }
        : () => {
            writeSync(fd, frame)
            return new Promise<void>((resolve, reject) =>
              fdatasync(fd, (err) => (err ? reject(err) : resolve())),
            )
          }
    close = () => closeSync(fd)
  } else {
    throw new Error(`unknown durable system ${system}`)
  }
  const warm = await drive(op, concurrency, Math.max(20, durationMs / 10), undefined, 1)
  const latencies = new Float64Array(MAX_LATENCIES)
  const fsyncsBefore = fsyncs?.() ?? 0
  const run = await drive(op, concurrency, durationMs, latencies, warm.nextSeq)
  const fsyncCount = (fsyncs?.() ?? Number.NaN) - fsyncsBefore
  await close()
  return {
    records: run.ops,
    ms: run.ms,
    recordsPerSec: (run.ops / run.ms) * 1000,
    p50Ms: quantile(latencies, run.ops, 0.5),
    p99Ms: quantile(latencies, run.ops, 0.99),
    recordsPerFsync: run.ops / fsyncCount,
  }
}

// ---------------------------------------------------------------------------------------------------
// Workload 3: replay. `replay-prepare` writes every store once; `replay` reads one of them.

async function replayPrepare(dir: string, p: Params): Promise<Metrics> {
  const n = num(p, 'n')
  const size = num(p, 'size')
  const out: Metrics = {}
  const batchSize = 1000
  for (const name of ['bytes', 'binary', 'json', 'proto'] as const) {
    const { serializer, record } = serializerCase(name, size)
    const wal = await openWal(join(dir, `wal-${name}`), 'background', serializer)
    const t = performance.now()
    for (let i = 0; i < n; i += batchSize) {
      const batch: BenchRecord[] = []
      for (let k = i; k < Math.min(n, i + batchSize); k++) batch.push(record(k))
      await wal.appendBatch(batch)
    }
    await wal.flush()
    out[`write.${name}.recordsPerSec`] = (n / (performance.now() - t)) * 1000
    out[`write.${name}.diskBytes`] = wal.metrics().bytes
    await wal.close()
  }
  const pool = payloadPool(size)
  {
    const Database = await loadSqlite()
    const db = new Database(join(dir, 'events.sqlite'))
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = NORMAL')
    db.exec('CREATE TABLE events (seq INTEGER PRIMARY KEY, type TEXT, time INTEGER, data BLOB)')
    const insert = db.prepare('INSERT INTO events (seq, type, time, data) VALUES (?, ?, ?, ?)')
    const insertMany = db.transaction((from: number, to: number) => {
      for (let k = from; k < to; k++) insert.run(k + 1, 'e', k, pool[k & 1023]!)
    })
    for (let i = 0; i < n; i += 10_000) insertMany(i, Math.min(n, i + 10_000))
    db.pragma('wal_checkpoint(TRUNCATE)')
    db.close()
  }
  {
    const ClassicLevel = await loadLevel()
    const db = new ClassicLevel<Uint8Array, Uint8Array>(join(dir, 'level'), levelOptions)
    await db.open()
    const values = new LevelValues()
    for (let i = 0; i < n; i += batchSize) {
      const ops: Array<{ type: 'put'; key: Uint8Array; value: Uint8Array }> = []
      for (let k = i; k < Math.min(n, i + batchSize); k++) {
        ops.push({ type: 'put', key: seqKey(k + 1), value: values.encode('e', k, pool[k & 1023]!) })
      }
      await db.batch(ops, { sync: false })
    }
    await db.compactRange(seqKey(0), seqKey(n + 1))
    await db.close()
  }
  return out
}

async function replay(dir: string, p: Params): Promise<Metrics> {
  const system = str(p, 'system')
  let count = 0
  let touched = 0
  let ms: number
  if (system.startsWith('waltz-')) {
    const name = system.slice('waltz-'.length).replace(/-iter$/, '') as SerializerName
    const { serializer } = serializerCase(name, 1)
    const wal = await Wal.openReader<RecordShape>({ dir: join(dir, `wal-${name}`), serializer })
    const t = performance.now()
    if (system.endsWith('-iter')) {
      for await (const r of wal.records()) {
        touched += r.seq & 1
        count++
      }
    } else {
      count = await wal.replayFrom(0, (r) => {
        touched += r.data === undefined ? 0 : 1
      })
    }
    ms = performance.now() - t
    await wal.close()
  } else if (system === 'sqlite') {
    const Database = await loadSqlite()
    const db = new Database(join(dir, 'events.sqlite'), { readonly: true })
    const select = db.prepare('SELECT seq, type, time, data FROM events ORDER BY seq').raw()
    const t = performance.now()
    for (const row of select.iterate() as Iterable<[number, string, number, Buffer]>) {
      touched += row[3].byteLength
      count++
    }
    ms = performance.now() - t
    db.close()
  } else if (system === 'level') {
    const ClassicLevel = await loadLevel()
    const db = new ClassicLevel<Uint8Array, Uint8Array>(join(dir, 'level'), levelOptions)
    await db.open()
    const values = new LevelValues()
    const t = performance.now()
    const it = db.iterator()
    for (;;) {
      const entries = await it.nextv(1000)
      if (entries.length === 0) break
      for (const [, value] of entries) {
        touched += values.decode(value).data.byteLength
        count++
      }
    }
    await it.close()
    ms = performance.now() - t
    await db.close()
  } else if (system === 'fs-read') {
    // The limit: the bytes serializer's segment files read in 1 MiB reads, no parsing.
    const walDir = join(dir, 'wal-bytes')
    const files = readdirSync(walDir)
      .filter((f) => f.endsWith('.wal'))
      .sort()
    const buf = Buffer.allocUnsafe(1 << 20)
    const t = performance.now()
    for (const f of files) {
      const fd = openSync(join(walDir, f), 'r')
      for (;;) {
        const got = readSync(fd, buf, 0, buf.length, null)
        if (got === 0) break
        touched += got
      }
      closeSync(fd)
    }
    ms = performance.now() - t
    count = num(p, 'n')
  } else {
    throw new Error(`unknown replay system ${system}`)
  }
  if (touched === 0) throw new Error('replay read nothing')
  return { records: count, ms, recordsPerSec: (count / ms) * 1000 }
}

// ---------------------------------------------------------------------------------------------------
// Workload 4: open/recovery time against the size of the log.

async function recoveryPrepare(dir: string, p: Params): Promise<Metrics> {
  const bytes = num(p, 'bytes')
  const recordSize = num(p, 'recordSize')
  const data = Buffer.from(payload(recordSize))
  const wal = await openWal(join(dir, 'wal'), 'background')
  const perBatch = Math.max(1, Math.floor((1 << 20) / recordSize))
  const t = performance.now()
  // Write about `bytes` in 1 MiB batches, then go on until a rotation, so that every log ends with a
  // newest segment of exactly one batch: open scans only that segment, and the comparison between log
  // sizes must not be one between tail sizes.
  let written = 0
  let seq = 0
  for (;;) {
    const before = wal.metrics().segments
    const batch: BenchRecord[] = []
    for (let k = 0; k < perBatch; k++) batch.push({ type: 'blob', time: seq++, data })
    await wal.appendBatch(batch)
    await wal.flush()
    written += perBatch * recordSize
    if (written >= bytes && wal.metrics().segments > before) break
  }
  await wal.sync()
  const ms = performance.now() - t
  const m = wal.metrics()
  await wal.close()
  return { ms, records: seq, diskBytes: m.bytes, segments: m.segments }
}

async function recoveryOpen(dir: string, p: Params): Promise<Metrics> {
  const opens = num(p, 'opens')
  const wall: number[] = []
  const inside: number[] = []
  let scannedBytes = 0
  let segments = 0
  for (let i = 0; i < opens; i++) {
    const t = performance.now()
    const wal = await openWal(join(dir, 'wal'), 'os-cache')
    wall.push(performance.now() - t)
    inside.push(wal.recovery.durationMs)
    scannedBytes = wal.recovery.scannedBytes
    segments = wal.recovery.segments
    await wal.close()
  }
  return {
    coldMs: wall[0]!,
    warmMs: median(wall.slice(1)),
    recoveryMs: median(inside.slice(1)),
    scannedBytes,
    segments,
  }
}

const tasks: Record<string, (dir: string, p: Params) => Promise<Metrics>> = {
  noop: async () => ({}),
  buffered,
  durable,
  'replay-prepare': replayPrepare,
  replay,
  'recovery-prepare': recoveryPrepare,
  'recovery-open': recoveryOpen,
  ...eventStoreTasks,
  ...seekTasks,
  ...archiveTasks,
  ...compressionTasks,
  ...clusterTasks,
  ...encryptionTasks,
  // Loaded by its own task only: emmett and sqlite3 would weigh on every other measurement's RSS.
  'emmett-commands': async (dir, p) => (await import('./emmett.js')).emmettCommands(dir, p),
}

const spec = JSON.parse(process.argv[2] ?? '{}') as TaskSpec
const fn = tasks[spec.task]
if (!fn) throw new Error(`unknown task ${spec.task}`)
const metrics = await fn(spec.dir, spec.params)
const result: TaskResult = { metrics, maxRssMB: process.resourceUsage().maxRSS / 1024 }
if (process.send) process.send(result)
else console.log(JSON.stringify(result))
