/**
 * How many distinct streams a chain of index tables holds. A stream with records in several tables'
 * seq ranges appears in each of them, so the tables' own stream counts add up to more than the
 * store has: the names are merged (in name order, as every table is sorted) and counted once each.
 * One sequential pass over the tables' stream sections, a few KiB read at a time; nothing is held
 * but the names of streams that have only deletion markers (a delete of a stream never written),
 * which are rare, and which a later first event would otherwise count twice.
 *
 * @internal
 */
import { compareNames, type TableReader, type TableStream } from './index-table.js'

/** What {@link countTableStreams} found. */
export interface TableStreamCount {
  /** Distinct stream names in the tables. */
  distinct: number
  /** Streams whose newest part has revision 0: markers only, no event yet. */
  markerOnly: Set<string>
}

/** Names merged between two turns of the event loop: a long count never stalls the server. */
const NAMES_PER_TURN = 4096

const turn = () => new Promise<void>((resolve) => setImmediate(resolve))

/**
 * Counts the distinct streams of `tables`.
 *
 * @param tables - the tables in use, oldest first
 * @returns the count and the marker-only streams
 * @throws EventStoreError `EVENTSTORE_CORRUPT`, `EVENTSTORE_IO` from reading a table (one closed
 *   meanwhile fails too: the caller counts again with the tables it has then)
 */
export async function countTableStreams(tables: readonly TableReader[]): Promise<TableStreamCount> {
  const its = tables.map((t) => t.streamsFrom(''))
  const heads: (TableStream | undefined)[] = its.map((it) => it.next().value ?? undefined)
  const markerOnly = new Set<string>()
  let distinct = 0
  try {
    for (;;) {
      let min: string | undefined
      for (const h of heads)
        if (h !== undefined && (min === undefined || compareNames(h.name, min) < 0)) min = h.name
      if (min === undefined) break
      // Revisions only grow: the newest table holding the stream has its current revision.
      let newest: TableStream | undefined
      for (let i = 0; i < heads.length; i++) {
        if (heads[i]?.name !== min) continue
        newest = heads[i]
        heads[i] = its[i]!.next().value ?? undefined
      }
      distinct++
      if (newest!.revision === 0) markerOnly.add(min)
      if (distinct % NAMES_PER_TURN === 0) await turn()
    }
  } finally {
    for (const it of its) it.return(undefined)
  }
  return { distinct, markerOnly }
}
