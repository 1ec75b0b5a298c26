/**
 * A stream read with emmett's `from`/`to`/`maxCount`, on a waltz store. Positions are inclusive stream
 * positions (waltz revisions), as in emmett's PostgreSQL and SQLite stores.
 */
import type { RecordShape } from '@waltz/core'
import type { EventStore, StoredEvent } from '@waltz/eventstore'
import { toPosition } from './expected.js'

/** The bounds of a read, as given (emmett's `ReadStreamOptions` without schema and expectation). */
export interface ReadBounds {
  from?: unknown
  to?: unknown
  maxCount?: unknown
}

/** What a read found. */
export interface StreamSlice {
  /** The events in the bounds, in stream order. */
  events: StoredEvent[]
  /** The stream's revision now (before the bounds). */
  revision: number
  /** Whether the stream has visible events now. */
  exists: boolean
  /** The stream's version as of the read's upper bound: `min(revision, upper bound)`. */
  version: number
}

/** The inclusive positions `[lo, hi]` a read asks for; `hi` is Infinity when unbounded. */
interface Range {
  lo: number
  hi: number
}

/**
 * Validates the bounds. `from` 0 and 1 both mean the first event; `maxCount` 0 (like a missing one)
 * means no limit, as in emmett's own stores.
 *
 * @throws EventStoreError `EVENTSTORE_INVALID_ARGUMENT`
 */
function rangeOf(bounds: ReadBounds | undefined, stream: string): Range | undefined {
  if (bounds === undefined) return undefined
  const { from, to, maxCount } = bounds
  if (from === undefined && to === undefined && maxCount === undefined) return undefined
  const lo = Math.max(1, from === undefined ? 1 : toPosition('from', from, stream))
  let hi = to === undefined ? Number.POSITIVE_INFINITY : toPosition('to', to, stream)
  const count = maxCount === undefined ? 0 : toPosition('maxCount', maxCount, stream)
  if (count > 0) hi = Math.min(hi, lo + count - 1)
  return { lo, hi }
}

function push(events: StoredEvent[], e: StoredEvent): StoredEvent[] {
  events.push(e)
  return events
}

/** Collects every event of a stream, shredded ones too: a read shows them, marked. */
const collect = { initialState: (): StoredEvent[] => [], evolve: push, onShredded: push }

/**
 * Reads a stream, or the bounded part of it.
 *
 * @throws EventStoreError `EVENTSTORE_INVALID_ARGUMENT` (bounds, stream name), `EVENTSTORE_CLOSED`;
 *   WalError from reading
 */
export async function readSlice(
  store: EventStore<RecordShape>,
  stream: string,
  bounds: ReadBounds | undefined,
): Promise<StreamSlice> {
  const range = rangeOf(bounds, stream)
  if (range !== undefined) {
    // The newest event gives the revision without reading the stream; its absence sends the read to
    // the path below, which reads nothing more for a stream with no visible events.
    let last: StoredEvent | undefined
    for await (const e of store.readStream(stream, { direction: 'backwards', maxCount: 1 })) last = e
    if (last !== undefined) {
      const revision = last.revision
      const hi = Math.min(range.hi, revision)
      const events: StoredEvent[] = []
      if (range.lo <= hi) {
        // waltz starts a read at the first visible revision and counts visible events: after a soft
        // delete `from` may be below that start, so the revision, not the count, ends the read. The
        // count only caps the work (no more than hi - lo + 1 revisions fit in the bounds).
        for await (const e of store.readStream(stream, { from: range.lo, maxCount: hi - range.lo + 1 })) {
          if (e.revision > hi) break
          events.push(e)
        }
      }
      return { events, revision, exists: true, version: hi }
    }
  }
  // The whole stream through aggregateStream: it waits for appends in flight on the stream, so a
  // command deciding on this state does not conflict with an append that was already on its way.
  const whole = await store.aggregateStream(stream, collect)
  const { revision, exists } = whole
  if (range === undefined) return { events: whole.state, revision, exists, version: revision }
  const hi = Math.min(range.hi, revision)
  const events = whole.state.filter((e) => e.revision >= range.lo && e.revision <= hi)
  return { events, revision, exists, version: hi }
}
