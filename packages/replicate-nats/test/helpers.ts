import { type RawRecord, Wal, type WalReader } from '@waltz/core'
import { expect } from 'vitest'
import { collect } from '../../../test-support/collect.js'
import { type RestoreOptions, type RestoreResult, restoreFromJetStream } from '../src/index.js'
import { type Event, eventSerializer } from './fixtures/events.mjs'

export { appendEvents, type Event, eventAt, eventSerializer } from './fixtures/events.mjs'

/** Opens a source WAL with the test serializer. */
export function openSource(dir: string, segmentSize?: number): Promise<Wal<Event>> {
  return Wal.open({ dir, serializer: eventSerializer, ...(segmentSize === undefined ? {} : { segmentSize }) })
}

/** Every record of a log as stored (envelope and data bytes), with the data as a Buffer for diffs. */
async function storedRecords(log: WalReader<Event>): Promise<RawRecord[]> {
  return (await collect(log.recordsRaw())).map((r) => ({ ...r, data: Buffer.from(r.data) }))
}

/**
 * Asserts that the replica in `dir` holds exactly the source's records: the same seqs, types, times,
 * keys and headers (absent where absent) and data bytes, stored under the source serializer's name;
 * and that a reader opened with the application's serializer reads the same records as the source.
 */
export async function expectReplicaEquals(source: Wal<Event>, dir: string): Promise<void> {
  const replica = await Wal.openReader({ dir, serializer: eventSerializer })
  try {
    expect(replica.serializerName).toBe(source.serializerName)
    expect(replica.firstSeq).toBe(source.firstSeq)
    expect(replica.lastSeq).toBe(source.lastSeq)
    const [theirs, ours] = [await collect(source.records()), await collect(replica.records())]
    expect(ours.length).toBe(source.lastSeq - source.firstSeq + 1)
    expect(ours).toStrictEqual(theirs)
    expect(await storedRecords(replica)).toStrictEqual(await storedRecords(source))
  } finally {
    await replica.close()
  }
}

/** A restore in follow mode: its progress (the replica's last seq), and `stop()` to abort and await it. */
export function followStream(options: Omit<RestoreOptions, 'follow' | 'signal' | 'onProgress'>): {
  progress: () => number
  signal: AbortSignal
  stop: () => Promise<RestoreResult>
} {
  const abort = new AbortController()
  let progress = 0
  const done = restoreFromJetStream({
    ...options,
    follow: true,
    signal: abort.signal,
    onProgress: (seq) => {
      progress = seq
    },
  })
  done.catch(() => {}) // awaited by stop(); no unhandled rejection if a test fails first
  return {
    progress: () => progress,
    signal: abort.signal,
    stop: () => {
      abort.abort()
      return done
    },
  }
}
