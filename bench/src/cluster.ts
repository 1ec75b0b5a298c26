/**
 * Workload 11: the event store on a 3-node NATS JetStream cluster (`EventStore.connect`, an R3 stream)
 * against the embedded store (`EventStore.open`, `'always'`) in the same run. `cluster-append`: N
 * appenders, each on its own stream, appending one event at a time with its expected revision.
 * `cluster-read`: `readStream` of 20-event streams by a fresh client after writing them: each stream
 * once (cold: the client knows nothing of it), then random ones again (warm). The parent (`main.ts`)
 * starts the cluster once and passes its URLs; every task uses a JetStream stream of its own.
 */
import { join } from 'node:path'
import { bytesSerializer, type RecordShape } from '@waltz/core'
import { EventStore, type EventStoreApi } from '@waltz/eventstore'
import {
  drive,
  MAX_LATENCIES,
  type Metrics,
  num,
  type Params,
  payloadPool,
  quantile,
  random,
  str,
} from './common.js'

type Bytes = RecordShape<string, Uint8Array>

/** The store a task measures: the cluster's (R3) or an embedded one in the task's directory. */
function openStore(dir: string, p: Params): Promise<EventStoreApi<Bytes>> {
  const system = str(p, 'system')
  if (system === 'embedded') {
    return EventStore.open<Bytes>({ dir: join(dir, 'store'), serializer: bytesSerializer(), sync: 'always' })
  }
  if (system !== 'nats') throw new Error(`unknown cluster system ${system}`)
  return EventStore.connect<Bytes>({
    servers: str(p, 'servers').split(','),
    // Each Node of `--node` runs the task too: a JetStream stream per process keeps their streams apart.
    stream: `${str(p, 'stream')}-${process.pid}`,
    replicas: 3,
    serializer: bytesSerializer(),
  })
}

async function clusterAppend(dir: string, p: Params): Promise<Metrics> {
  const concurrency = num(p, 'concurrency')
  const durationMs = num(p, 'durationMs')
  const pool = payloadPool(num(p, 'size'))
  const store = await openStore(dir, p)
  const names = Array.from({ length: concurrency }, (_, a) => `appender-${a}`)
  const revisions = new Array<number>(concurrency).fill(0)
  const op = async (seq: number, a: number) => {
    const r = await store.appendToStream(names[a]!, [{ type: 'e', data: pool[seq & 1023]! }], {
      expectedRevision: revisions[a]!,
    })
    revisions[a] = r.nextExpectedRevision
  }
  const warm = await drive(op, concurrency, Math.max(200, durationMs / 10), undefined, 1)
  const latencies = new Float64Array(MAX_LATENCIES)
  const run = await drive(op, concurrency, durationMs, latencies, warm.nextSeq)
  const total = revisions.reduce((s, r) => s + r, 0)
  if (total !== warm.ops + run.ops)
    throw new Error(`streams hold ${total} events, ${warm.ops + run.ops} appended`)
  await store.close()
  return {
    records: run.ops,
    recordsPerSec: (run.ops / run.ms) * 1000,
    p50Ms: quantile(latencies, run.ops, 0.5),
    p99Ms: quantile(latencies, run.ops, 0.99),
  }
}

/** Appends in flight at once while writing the streams read. */
const WRITE_CONCURRENCY = 64

async function clusterRead(dir: string, p: Params): Promise<Metrics> {
  const streams = num(p, 'streams')
  const perStream = num(p, 'perStream')
  const reads = num(p, 'reads')
  const pool = payloadPool(num(p, 'size'))
  const writer = await openStore(dir, p)
  // Revision by revision over all streams, so a stream's events are spread through the log.
  for (let revision = 1; revision <= perStream; revision++) {
    for (let s = 0; s < streams; s += WRITE_CONCURRENCY) {
      const pending: Promise<unknown>[] = []
      for (let k = s; k < Math.min(streams, s + WRITE_CONCURRENCY); k++) {
        pending.push(
          writer.appendToStream(`stream-${k}`, [{ type: 'e', data: pool[(k + revision) & 1023]! }], {
            expectedRevision: revision - 1,
          }),
        )
      }
      await Promise.all(pending)
    }
  }
  await writer.close()
  // A fresh client (a new connection; embedded: a reopened store) knows nothing of the streams: its
  // first read of each is cold. Later reads of the same streams are warm.
  const store = await openStore(dir, p)
  const readOne = async (s: number) => {
    let n = 0
    for await (const e of store.readStream(`stream-${s}`)) {
      if (e.revision !== ++n || e.data.byteLength !== pool[(s + n) & 1023]!.byteLength) {
        throw new Error(`stream-${s}: wrong event at revision ${n}`)
      }
    }
    if (n !== perStream) throw new Error(`stream-${s} read ${n} events, not ${perStream}`)
  }
  const next = random(0x7ead)
  const order = Array.from({ length: streams }, (_, s) => s)
  for (let i = streams - 1; i > 0; i--) {
    const j = next() % (i + 1)
    ;[order[i], order[j]] = [order[j]!, order[i]!]
  }
  const cold = new Float64Array(streams)
  for (let i = 0; i < streams; i++) {
    const t = performance.now()
    await readOne(order[i]!)
    cold[i] = performance.now() - t
  }
  const latencies = new Float64Array(reads)
  const started = performance.now()
  for (let i = 0; i < reads; i++) {
    const t = performance.now()
    await readOne(next() % streams)
    latencies[i] = performance.now() - t
  }
  const ms = performance.now() - started
  await store.close()
  return {
    reads,
    readsPerSec: (reads / ms) * 1000,
    p50Ms: quantile(latencies, reads, 0.5),
    p99Ms: quantile(latencies, reads, 0.99),
    coldP50Ms: quantile(cold, streams, 0.5),
    coldP99Ms: quantile(cold, streams, 0.99),
  }
}

/** The tasks `worker.ts` runs for this workload. */
export const clusterTasks = { 'cluster-append': clusterAppend, 'cluster-read': clusterRead }
