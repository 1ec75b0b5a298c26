/**
 * The archive's state for the overview, from a listing of it: at most one listing per
 * {@link LISTING_TTL_MS} (an S3 LIST costs a request and money; the archive changes once per sealed
 * segment), and never two at once.
 *
 * @internal
 */
import type { EventStoreReader } from '@waltz/eventstore'
import type { SegmentFile } from './disk.js'

/** How long a listing is shown before the archive is listed again. */
export const LISTING_TTL_MS = 15_000

/** What the overview shows of the archive. */
export interface ArchiveView {
  /** The archive's name, e.g. `s3://events/orders/`. */
  name: string
  /** When it was listed (ms since the epoch). */
  listedAt: number
  /** Segments it holds. */
  segments?: number
  /** Their bytes. */
  bytes?: number
  /** The first position of its oldest segment. */
  oldestPosition?: number | undefined
  /**
   * Local sealed segments (all but the newest) it does not hold: copies not made yet (or, with the
   * listing that old, made since).
   */
  notArchived?: number
  /** Why it could not be listed. */
  error?: string
}

type Listed = Awaited<ReturnType<EventStoreReader['archiveSummary']>>

/** Lists the reader's archive, at most once per {@link LISTING_TTL_MS}. */
export class ArchiveStatus {
  private last: { at: number; summary?: Listed; error?: string } | undefined
  private listing: Promise<void> | undefined

  constructor(private readonly reader: EventStoreReader) {}

  /**
   * The archive's state, or undefined without an archive.
   *
   * @param local - the local segments, oldest first
   */
  async view(local: readonly SegmentFile[]): Promise<ArchiveView | undefined> {
    const archive = this.reader.archive
    if (archive === undefined) return undefined
    if (this.last === undefined || Date.now() - this.last.at > LISTING_TTL_MS) {
      this.listing ??= this.reader
        .archiveSummary()
        .then(
          (summary) => {
            this.last = { at: Date.now(), summary }
          },
          (err: unknown) => {
            // The archive's own reason (credentials, network) is the useful part.
            const cause = (err as Error).cause as Error | undefined
            const error = `${(err as Error).message}${cause?.message ? `: ${cause.message}` : ''}`
            this.last = { at: Date.now(), error }
          },
        )
        .finally(() => {
          this.listing = undefined
        })
      await this.listing
    }
    const { at, summary, error } = this.last!
    if (summary === undefined) return { name: archive.name, listedAt: at, error: error ?? 'not listed' }
    const held = new Set(summary.firstSeqs)
    const notArchived = local.slice(0, -1).filter((s) => !held.has(s.firstSeq)).length
    return {
      name: summary.name,
      listedAt: at,
      segments: summary.segments,
      bytes: summary.bytes,
      oldestPosition: summary.oldestPosition,
      notArchived,
    }
  }
}
