import { type Archive, segmentFileName } from '@waltz/core'
import { archiveFailure } from './archive-failure.js'
import { CliError } from './errors.js'

/** An archived segment as its name and its successor's name place it. */
export interface ListedSegment {
  /** The file name, e.g. `00000000000000000001.wal`. */
  readonly name: string
  /** Its first seq, from the name. */
  readonly firstSeq: number
  /**
   * The next segment's first seq − 1: the last seq it holds if the archive has no gap there (only
   * reading it tells: `archive verify`). Undefined for the newest, whose end only its content tells.
   */
  readonly lastSeq: number | undefined
  /** Bytes stored. */
  readonly size: number
}

/** The first seq a segment file name encodes, when `name` is exactly core's name for that seq. */
function firstSeqOf(name: string): number | undefined {
  const seq = Number(name.slice(0, 20))
  return Number.isSafeInteger(seq) && seq >= 1 && segmentFileName(seq) === name ? seq : undefined
}

/**
 * Every segment of the archive, oldest first, with the seq range its name and the next one's give it.
 *
 * @param archive - the archive
 * @param signal - aborts the listing
 * @param note - told about each listed name that is not a segment's (and is skipped)
 * @returns at least one segment
 * @throws CliError `NOT_AN_ARCHIVE` (exit 3) when the archive holds no segment; the archive's own
 *   failures as {@link archiveFailure}
 */
export async function listSegments(
  archive: Archive,
  signal: AbortSignal,
  note: (message: string) => void,
): Promise<ListedSegment[]> {
  let entries: Awaited<ReturnType<Archive['list']>>
  try {
    entries = await archive.list(signal)
  } catch (err) {
    throw archiveFailure(err, archive.name, 'listing the archive')
  }
  const named: { name: string; firstSeq: number; size: number }[] = []
  for (const entry of entries) {
    const firstSeq = firstSeqOf(entry.name)
    if (firstSeq === undefined) note(`note: skipped ${entry.name}: not a segment file name`)
    else named.push({ ...entry, firstSeq })
  }
  if (named.length === 0) {
    // `s3://bucket/orders` lists keys `orders00000000000000000001.wal`, not `orders/…`.
    const hint = /^s3:\/\/[^/]+\/.*[^/]$/.test(archive.name) ? ` (did you mean ${archive.name}/ ?)` : ''
    throw CliError.NOT_AN_ARCHIVE(`${archive.name} holds no segment files${hint}`)
  }
  named.sort((a, b) => a.firstSeq - b.firstSeq)
  return named.map((s, i) => {
    const next = named[i + 1]
    return { ...s, lastSeq: next === undefined ? undefined : next.firstSeq - 1 }
  })
}
