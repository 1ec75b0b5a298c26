import { expect } from 'vitest'
import type { EventStore } from '../src/index.js'
import { eventFor, json } from './fixtures/events.mjs'
import type { TestEvent } from './helpers.js'

/** An event as the log holds it (read raw, without the stream index). */
export interface LoggedEvent {
  stream: string
  revision: number
  position: number
  id: string
  type: string
  time: number
  data: unknown
  metadata: Record<string, string>
}

/** A stream as the log says it is. */
export interface LoggedStream {
  /** Its events, every one ever appended (deleted ones too), in revision order. */
  events: LoggedEvent[]
  revision: number
  deletedRevision: number
  tombstoned: boolean
}

/**
 * The truth about a store, read from its WAL record by record with none of the store's own state:
 * what the stream index, rebuilt or recovered, must answer.
 */
export interface LogTruth {
  events: Map<number, LoggedEvent>
  markers: Map<number, { stream: string; type: string; revision: number }>
  streams: Map<string, LoggedStream>
  /** Positions of each event id. */
  positions: Map<string, number[]>
  lastPosition: number
}

/**
 * Reads every record of the store's WAL and checks the log itself: each stream's revisions are
 * 1..n without a gap in position order, markers carry the stream's revision, nothing follows a
 * tombstone, and every event is the one its id names.
 *
 * @param store - an open store (its `wal` is read raw)
 * @returns the log's truth
 */
export async function readLogTruth(store: EventStore<TestEvent>): Promise<LogTruth> {
  const truth: LogTruth = {
    events: new Map(),
    markers: new Map(),
    streams: new Map(),
    positions: new Map(),
    lastPosition: 0,
  }
  for await (const r of store.wal.recordsRaw()) {
    truth.lastPosition = r.seq
    const stream = r.key!
    const headers = r.headers ?? {}
    const revision = Number(headers.$rev)
    let s = truth.streams.get(stream)
    if (!s) {
      s = { events: [], revision: 0, deletedRevision: 0, tombstoned: false }
      truth.streams.set(stream, s)
    }
    if (s.tombstoned) expect.fail(`a record of ${stream} after its tombstone, at ${r.seq}`)
    if (r.type === '$deleted' || r.type === '$tombstone') {
      if (revision !== s.revision) expect(revision, `marker of ${stream} at ${r.seq}`).toBe(s.revision)
      truth.markers.set(r.seq, { stream, type: r.type, revision })
      s.deletedRevision = revision
      s.tombstoned = r.type === '$tombstone'
      continue
    }
    if (revision !== s.revision + 1) {
      expect(revision, `revision of the event of ${stream} at ${r.seq} (gap-free)`).toBe(s.revision + 1)
    }
    s.revision = revision
    const metadata: Record<string, string> = {}
    for (const k of Object.keys(headers)) if (!k.startsWith('$')) metadata[k] = headers[k]!
    const e: LoggedEvent = {
      stream,
      revision,
      position: r.seq,
      id: headers.$id!,
      type: r.type,
      time: r.time,
      data: json.decode(r.data, r.type),
      metadata,
    }
    const wanted = eventFor(e.id)
    const stored = { type: e.type, data: e.data, metadata: e.metadata }
    const sent = { type: wanted.type, data: wanted.data, metadata: wanted.metadata ?? {} }
    if (JSON.stringify(stored) !== JSON.stringify(sent)) expect(stored, `the event at ${r.seq}`).toEqual(sent)
    s.events.push(e)
    truth.events.set(r.seq, e)
    const seen = truth.positions.get(e.id)
    if (seen) seen.push(r.seq)
    else truth.positions.set(e.id, [r.seq])
  }
  return truth
}

/** The events a read of the stream must yield: those after its last delete, none once tombstoned. */
export function visibleEvents(s: LoggedStream | undefined): LoggedEvent[] {
  if (!s || s.tombstoned) return []
  return s.events.filter((e) => e.revision > s.deletedRevision)
}

/** Whether the stream exists for `streamExists`. */
export function exists(s: LoggedStream | undefined): boolean {
  return s !== undefined && !s.tombstoned && s.revision > s.deletedRevision
}
