/**
 * What an archive holds, from its listing: the segments (by the first seq their names give) and
 * their bytes. Used to find where a log with retention starts (its oldest archived record) and to
 * show an archive's state.
 *
 * @internal
 */
import type { Archive } from '@waltz/core'
import { EventStoreError } from './errors.js'

/** An archive's contents, from one listing. */
export interface ArchiveSummary {
  /** The archive's name, e.g. `s3://events/orders/`. */
  name: string
  /** Segments the archive holds. */
  segments: number
  /** Bytes of those segments. */
  bytes: number
  /** The first seq of its oldest segment; undefined when it holds none. */
  oldestPosition: number | undefined
  /** The first seq of each of its segments, oldest first. */
  firstSeqs: number[]
}

/** Segment file names: the first seq, 20 digits (`docs/FORMAT.md`). */
const SEGMENT_NAME = /^(\d{20})\.wal$/

/**
 * Lists `archive`.
 *
 * @param archive - the archive
 * @param timeoutMs - the listing is abandoned after this long
 * @returns its segments
 * @throws EventStoreError `EVENTSTORE_IO` when the listing fails (the archive's error as `cause`)
 */
export async function summarizeArchive(archive: Archive, timeoutMs = 60_000): Promise<ArchiveSummary> {
  let entries: Awaited<ReturnType<Archive['list']>>
  try {
    entries = await archive.list(AbortSignal.timeout(timeoutMs))
  } catch (err) {
    throw EventStoreError.IO(`listing the archive ${archive.name} failed`, { cause: err })
  }
  const firstSeqs: number[] = []
  let bytes = 0
  for (const entry of entries) {
    const firstSeq = Number(SEGMENT_NAME.exec(entry.name)?.[1])
    if (!Number.isSafeInteger(firstSeq) || firstSeq < 1) continue
    firstSeqs.push(firstSeq)
    bytes += entry.size
  }
  firstSeqs.sort((a, b) => a - b)
  return { name: archive.name, segments: firstSeqs.length, bytes, oldestPosition: firstSeqs[0], firstSeqs }
}
