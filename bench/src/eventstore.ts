/**
 * Workload 6: `@waltz/eventstore`, in the same child processes as the other workloads (`worker.ts` runs
 * these tasks). `es-append` compares `appendToStream` with a numeric expected revision to plain
 * `Wal.append`; `es-prepare` writes the read dataset once (an event store and a SQLite table holding the
 * same events); `es-read` reads random streams from one of them; `es-open` opens the store (persisted
 * index, or rebuilding it) or its WAL alone.
 */
import { cpSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { bytesSerializer, type RecordShape, Wal } from '@waltz/core'
import { EventStore } from '@waltz/eventstore'
import {
  drive,
  loadSqlite,
  MAX_LATENCIES,
  type Metrics,
  median,
  num,
  type Params,
  payloadPool,
  quantile,
  random,
  str,
} from './common.js'

type Bytes = RecordShape<string, Uint8Array>

/** The store's directory inside a dataset, its copy for the rebuild opens, and the peers' files. */
const STORE = 'store'
const REBUILD_COPY = 'store-rebuild'
const SQLITE = 'events.sqlite'
/** Every event's position, as a Float64Array indexed by `stream * perStream + revision - 1`. */
const POSITIONS = 'positions.f64'

const streamName = (s: number) => `stream-${s}`
/** The payload of event `revision` of stream `s`: the same bytes in every store. */
const payloadIndex = (s: number, revision: number) => (s * 31 + revision) & 1023

function openStore(dir: string, sync: 'always' | 'background'): Promise<EventStore<Bytes>> {
  return EventStore.open<Bytes>({ dir, serializer: bytesSerializer(), sync })
}

/** Bytes of every file under `dir`. */
function duSync(dir: string): number {
  let total = 0
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += statSync(join(entry.parentPath, entry.name)).size
  }
  return total
}

// ---------------------------------------------------------------------------------------------------
// Append with an expected revision: N appenders, each on its own stream, tracking its revision.

async function esAppend(dir: string, p: Params): Promise<Metrics> {
  const system = str(p, 'system')
  const size = num(p, 'size')
  const concurrency = num(p, 'concurrency')
  const durationMs = num(p, 'durationMs')
  const pool = payloadPool(size)
  const names = Array.from({ length: concurrency }, (_, a) => streamName(a))
  let op: (seq: number, appender: number) => Promise<unknown>
  let wal: Wal<Bytes>
  let close: () => Promise<void>
  let check: (appended: number) => void = () => {}
  if (system === 'store') {
    const store = await openStore(join(dir, STORE), 'always')
    const revisions = new Array<number>(concurrency).fill(0)
    op = async (seq, a) => {
      const result = await store.appendToStream(names[a]!, [{ type: 'e', data: pool[seq & 1023]! }], {
        expectedRevision: revisions[a]!,
      })
      revisions[a] = result.nextExpectedRevision
    }
    wal = store.wal
    close = () => store.close()
    check = (appended) => {
      const sum = revisions.reduce((s, r) => s + r, 0)
      if (sum !== appended) throw new Error(`streams hold ${sum} events, ${appended} were appended`)
    }
  } else if (system === 'wal') {
    const plain = await Wal.open<Bytes>({ dir: join(dir, 'wal'), sync: 'always' })
    op = (seq, a) => plain.append({ type: 'e', key: names[a]!, data: pool[seq & 1023]! })
    wal = plain
    close = () => plain.close()
  } else {
    throw new Error(`unknown event store append system ${system}`)
  }
  const warm = await drive(op, concurrency, Math.max(20, durationMs / 10), undefined, 1)
  const latencies = new Float64Array(MAX_LATENCIES)
  const fsyncsBefore = wal.metrics().fsyncs
  const run = await drive(op, concurrency, durationMs, latencies, warm.nextSeq)
  const m = wal.metrics()
  const appended = warm.ops + run.ops
  check(appended)
  await close()
  return {
    records: run.ops,
    ms: run.ms,
    recordsPerSec: (run.ops / run.ms) * 1000,
    p50Ms: quantile(latencies, run.ops, 0.5),
    p99Ms: quantile(latencies, run.ops, 0.99),
    recordsPerFsync: run.ops / (m.fsyncs - fsyncsBefore),
    bytesPerRecord: m.bytes / appended,
  }
}

// ---------------------------------------------------------------------------------------------------
// The read dataset: `streams` × `perStream` events, written round by round (revision 1 of every stream
// in a shuffled order, then revision 2, ...), so a stream's events are spread through the whole log.

/** Appends in flight at once while writing the store ('background': the WAL groups them). */
const PREPARE_CONCURRENCY = 1024

async function esPrepare(dir: string, p: Params): Promise<Metrics> {
  const streams = num(p, 'streams')
  const perStream = num(p, 'perStream')
  const pool = payloadPool(num(p, 'size'))
  const total = streams * perStream
  const positions = new Float64Array(total)
  const order = Int32Array.from({ length: streams }, (_, s) => s)
  const next = random(0x5eed)
  const storeDir = join(dir, STORE)
  const out: Metrics = { events: total }

  let t = performance.now()
  const store = await openStore(storeDir, 'background')
  for (let revision = 1; revision <= perStream; revision++) {
    for (let i = streams - 1; i > 0; i--) {
      const j = next() % (i + 1)
      const s = order[i]!
      order[i] = order[j]!
      order[j] = s
    }
    for (let i = 0; i < streams; i += PREPARE_CONCURRENCY) {
      const pending: Promise<void>[] = []
      for (let k = i; k < Math.min(streams, i + PREPARE_CONCURRENCY); k++) {
        const s = order[k]!
        const data = pool[payloadIndex(s, revision)]!
        pending.push(
          store
            .appendToStream(streamName(s), [{ type: 'e', data }], { expectedRevision: revision - 1 })
            .then((r) => {
              positions[s * perStream + revision - 1] = r.position
            }),
        )
      }
      await Promise.all(pending)
    }
  }
  await store.close()
  out['store.ms'] = performance.now() - t
  out['store.eventsPerSec'] = (total / out['store.ms']) * 1000
  out['store.indexBytes'] = duSync(join(storeDir, 'index'))
  out['store.bytes'] = duSync(storeDir)
  writeFileSync(join(dir, POSITIONS), positions)
  // The rebuild opens delete and rewrite the index: they get a copy, so every run reads the same files.
  cpSync(storeDir, join(dir, REBUILD_COPY), { recursive: true })

  // SQLite: the same events in the same (log) order, with the store's positions.
  const byPosition = Int32Array.from({ length: total }, (_, i) => i)
  byPosition.sort((a, b) => positions[a]! - positions[b]!)
  t = performance.now()
  const Database = await loadSqlite()
  const db = new Database(join(dir, SQLITE))
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  db.exec(
    'CREATE TABLE events (stream TEXT, revision INTEGER, position INTEGER, type TEXT, data BLOB, PRIMARY KEY (stream, revision))',
  )
  const insert = db.prepare(
    'INSERT INTO events (stream, revision, position, type, data) VALUES (?, ?, ?, ?, ?)',
  )
  const insertMany = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const e = byPosition[i]!
      const s = Math.floor(e / perStream)
      const revision = (e % perStream) + 1
      insert.run(streamName(s), revision, positions[e]!, 'e', pool[payloadIndex(s, revision)]!)
    }
  })
  for (let i = 0; i < total; i += 10_000) insertMany(i, Math.min(total, i + 10_000))
  db.pragma('wal_checkpoint(TRUNCATE)')
  db.close()
  out['sqlite.ms'] = performance.now() - t
  out['sqlite.eventsPerSec'] = (total / out['sqlite.ms']) * 1000
  out['sqlite.bytes'] = statSync(join(dir, SQLITE)).size
  return out
}

// ---------------------------------------------------------------------------------------------------
// readStream of random whole streams, one at a time; every event is checked against the dataset.

async function esRead(dir: string, p: Params): Promise<Metrics> {
  const system = str(p, 'system')
  const streams = num(p, 'streams')
  const perStream = num(p, 'perStream')
  const warmup = num(p, 'warmup')
  const reads = num(p, 'reads')
  const minReads = num(p, 'minReads')
  const maxMs = num(p, 'maxMs')
  const positions = new Float64Array(new Uint8Array(readFileSync(join(dir, POSITIONS))).buffer)
  const wrong = (name: string, what: string) => new Error(`${system} read of ${name}: ${what}`)
  let read: (s: number) => Promise<number> | number
  let close: () => Promise<void> | void
  let extra: Metrics = {}
  if (system === 'store') {
    const store = await openStore(join(dir, STORE), 'always')
    extra = { tables: store.metrics().index.tables }
    read = async (s) => {
      const name = streamName(s)
      let n = 0
      let bytes = 0
      for await (const e of store.readStream(name)) {
        if (e.stream !== name || e.revision !== n + 1 || e.position !== positions[s * perStream + n]) {
          throw wrong(name, `event ${n + 1} is ${e.stream}@${e.revision} at ${e.position}`)
        }
        bytes += e.data.byteLength
        n++
      }
      if (n !== perStream) throw wrong(name, `${n} events`)
      return bytes
    }
    close = () => store.close()
  } else if (system === 'sqlite') {
    const Database = await loadSqlite()
    const db = new Database(join(dir, SQLITE), { readonly: true })
    const select = db
      .prepare('SELECT revision, position, type, data FROM events WHERE stream = ? ORDER BY revision')
      .raw()
    read = (s) => {
      const name = streamName(s)
      const rows = select.all(name) as Array<[number, number, string, Buffer]>
      let bytes = 0
      for (let n = 0; n < rows.length; n++) {
        const [revision, position, , data] = rows[n]!
        if (revision !== n + 1 || position !== positions[s * perStream + n]) {
          throw wrong(name, `row ${n + 1} is revision ${revision} at ${position}`)
        }
        bytes += data.byteLength
      }
      if (rows.length !== perStream) throw wrong(name, `${rows.length} rows`)
      return bytes
    }
    close = () => {
      db.close()
    }
  } else {
    throw new Error(`unknown event store read system ${system}`)
  }
  // Every system reads the same streams, in the same order. Warm-up and timed reads stop at a count
  // or a time limit, whichever comes first: the timed ones not before `minReads` (for a p99), unless
  // reads are so slow that even that would take more than three times the limit.
  const pick = random(0xbead)
  let touched = 0
  const warmDeadline = performance.now() + maxMs / 4
  for (let i = 0; i < warmup && performance.now() < warmDeadline; i++) touched += await read(pick() % streams)
  const latencies = new Float64Array(reads)
  const start = performance.now()
  const deadline = start + maxMs
  let n = 0
  const hardDeadline = start + 3 * maxMs
  while (n < reads) {
    const now = performance.now()
    if (now >= hardDeadline || (now >= deadline && n >= minReads)) break
    const s = pick() % streams
    const t = performance.now()
    touched += await read(s)
    latencies[n++] = performance.now() - t
  }
  const ms = performance.now() - start
  await close()
  if (touched === 0) throw new Error('read nothing')
  return {
    reads: n,
    ms,
    readsPerSec: (n / ms) * 1000,
    eventsPerSec: ((n * perStream) / ms) * 1000,
    p50Ms: quantile(latencies, n, 0.5),
    p99Ms: quantile(latencies, n, 0.99),
    ...extra,
  }
}

// ---------------------------------------------------------------------------------------------------
// Open: the store with its persisted index, the store after deleting its index (a full rebuild), or
// its WAL alone. The first open of the process also gives the RSS right after it.

async function esOpen(dir: string, p: Params): Promise<Metrics> {
  const system = str(p, 'system')
  const opens = num(p, 'opens')
  const storeDir = join(dir, system === 'rebuild' ? REBUILD_COPY : STORE)
  const wall: number[] = []
  const catchUp: number[] = []
  const out: Metrics = {}
  const rssBefore = process.memoryUsage().rss
  for (let i = 0; i < opens; i++) {
    if (system === 'rebuild') rmSync(join(storeDir, 'index'), { recursive: true, force: true })
    let close: () => Promise<void>
    const t = performance.now()
    if (system === 'wal') {
      const wal = await Wal.open<Bytes>({ dir: storeDir, serializer: bytesSerializer(), sync: 'always' })
      wall.push(performance.now() - t)
      close = () => wal.close()
    } else if (system === 'store' || system === 'rebuild') {
      const store = await openStore(storeDir, 'always')
      wall.push(performance.now() - t)
      const index = store.metrics().index
      catchUp.push(index.catchUpMs)
      out.caughtUp = index.caughtUp
      out.tables = index.tables
      close = () => store.close()
    } else {
      throw new Error(`unknown event store open system ${system}`)
    }
    if (i === 0) {
      const m = process.memoryUsage()
      out.rssAfterOpenMB = m.rss / 2 ** 20
      out.rssGrowthMB = (m.rss - rssBefore) / 2 ** 20
      out.heapUsedMB = m.heapUsed / 2 ** 20
    }
    await close()
  }
  if (catchUp.length > 0) out.catchUpMs = median(catchUp.length > 1 ? catchUp.slice(1) : catchUp)
  return { ...out, firstMs: wall[0]!, openMs: median(wall.length > 1 ? wall.slice(1) : wall) }
}

/** The tasks of this workload, by name. */
export const eventStoreTasks: Record<string, (dir: string, p: Params) => Promise<Metrics>> = {
  'es-append': esAppend,
  'es-prepare': esPrepare,
  'es-read': esRead,
  'es-open': esOpen,
}
