/**
 * Where to start reading a seq inside a segment: per segment, a sparse sorted list of batch boundaries
 * (the file offset where a batch starts, and the seq of its first frame), about one per
 * {@link SEEK_SPACING} bytes. A {@link FrameWalker} may start at a batch boundary, so a read of a seq
 * deep in a segment walks a few KiB instead of the segment from its start.
 *
 * Boundaries come only from a walk of the segment's frames with every check a read makes (header,
 * checksum, length, seq and batch chains): an offset is never trusted before its frames were verified.
 * The walk is lazy and resumable: a seek walks on from where the last one stopped, as far as the seq
 * it needs and through the rest of the chunk it read, never past the segment's readable end, so every
 * frame is walked about once however the seeks arrive, and the growing newest segment is indexed as
 * it grows. Entries live in typed arrays (16 bytes each). The log state owns the segment list: it
 * says when a segment is removed, and its entries go with it.
 *
 * @internal
 */
import { WalError } from './errors.js'
import type { Fd, Files } from './files.js'
import type { LogState } from './log-state.js'
import {
  expectHeader,
  FrameWalker,
  problemError,
  readHeader,
  type SegmentRef,
  streamProblem,
} from './scanner.js'

/** Bytes of segment between two entries, at least (a batch longer than that has one entry). */
export const SEEK_SPACING = 4096

/** A batch boundary: the frame at `offset` is the first of a batch and carries `seq`. */
export interface SeekPoint {
  readonly offset: number
  readonly seq: number
  /** How far a walk from here may read: the readable end of the newest segment, or a sealed one's size. */
  readonly end: number
}

/** What the index reads segments with. */
export interface SeekIndexSource {
  readonly files: Files
  readonly maxRecordSize: number
  /** The serializer name segment headers must carry; undefined accepts any. */
  readonly serializerName: string | undefined
  readonly state: LogState
}

/** The entries of one segment, and how far its walk got. */
class SegmentEntries {
  /** `seqs[i]` is the seq of the frame at `offsets[i]`; both ascend. Entry 0 is the first frame. */
  seqs: Float64Array
  offsets: Float64Array
  length: number
  /** The batch boundary the walk reached: every frame before it was verified. */
  walkedOffset: number
  /** The seq of the frame at {@link walkedOffset}. */
  walkedSeq: number
  /** The file size once the segment is sealed (it no longer changes), -1 before. */
  size: number
  /** Sealed and walked to its end: nothing more to index. */
  complete: boolean
  /** The walk under way, if any: one at a time per segment. */
  walking: Promise<void> | undefined

  constructor(firstOffset: number, firstSeq: number, capacity: number) {
    this.seqs = new Float64Array(capacity)
    this.offsets = new Float64Array(capacity)
    this.seqs[0] = firstSeq
    this.offsets[0] = firstOffset
    this.length = 1
    this.walkedOffset = firstOffset
    this.walkedSeq = firstSeq
    this.size = -1
    this.complete = false
    this.walking = undefined
  }

  /** The walk verified everything before the boundary at `offset`, whose frame carries `seq`. */
  reached(offset: number, seq: number): void {
    this.walkedOffset = offset
    this.walkedSeq = seq
    if (offset - this.offsets[this.length - 1]! < SEEK_SPACING) return
    if (this.length === this.seqs.length) {
      this.seqs = grow(this.seqs)
      this.offsets = grow(this.offsets)
    }
    this.seqs[this.length] = seq
    this.offsets[this.length] = offset
    this.length++
  }

  /** The walk reached the end of the sealed segment: drop the spare capacity. */
  finish(): void {
    this.complete = true
    this.seqs = this.seqs.slice(0, this.length)
    this.offsets = this.offsets.slice(0, this.length)
  }

  /** The last boundary at or before `seq` (the walked boundary counts: it lies past every entry). */
  floor(seq: number, end: number): SeekPoint {
    if (seq >= this.walkedSeq) return { offset: this.walkedOffset, seq: this.walkedSeq, end }
    let lo = 0
    let hi = this.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (this.seqs[mid]! <= seq) lo = mid
      else hi = mid - 1
    }
    return { offset: this.offsets[lo]!, seq: this.seqs[lo]!, end }
  }
}

function grow(a: Float64Array): Float64Array {
  const next = new Float64Array(a.length * 2)
  next.set(a)
  return next
}

/** See the module comment. */
export class SeekIndex {
  private readonly source: SeekIndexSource
  /** By segment first seq; only segments a read has sought into. */
  private readonly segments = new Map<number, SegmentEntries>()

  /** @param source - files, limits and the log state (whose removals it follows) */
  constructor(source: SeekIndexSource) {
    this.source = source
    source.state.onRemove((ref) => this.segments.delete(ref.firstSeq))
  }

  /**
   * The nearest batch boundary at or before `seq` in segment `ref`, walking the segment on first
   * where it is not indexed that far. A problem in the frames up to `seq` fails the seek; one past
   * it is left to the read that gets there.
   *
   * @param ref - a readable segment of the log
   * @param fd - `ref` open for reading (the caller closes it)
   * @param seq - the seq wanted; at or after the segment's first
   * @returns where a walk toward `seq` may start, and how far it may read
   * @throws WalError `WAL_CORRUPT`, `WAL_SERIALIZER_MISMATCH`, `WAL_FORMAT_UNSUPPORTED`,
   *   `WAL_RECORD_TOO_LARGE`, `WAL_IO`
   */
  async seek(ref: SegmentRef, fd: Fd, seq: number): Promise<SeekPoint> {
    const entries = this.segments.get(ref.firstSeq) ?? (await this.start(ref, fd))
    for (;;) {
      if (seq <= entries.walkedSeq || entries.complete) break
      const other = entries.walking
      if (other !== undefined) {
        // Another read is walking this segment: see how far it gets (its failure is its own).
        await other.catch(() => {})
        continue
      }
      const own = this.walk(entries, ref, fd, seq)
      entries.walking = own
      try {
        await own
      } finally {
        entries.walking = undefined
      }
      break
    }
    return entries.floor(seq, await this.readLimit(entries, ref, fd))
  }

  /**
   * Whether segment `ref`'s header was read and checked (magic, version, serializer, first seq).
   *
   * @param ref - a segment of the log
   * @returns true once a seek into it (or {@link checkHeader}) succeeded
   */
  headerChecked(ref: SegmentRef): boolean {
    return this.segments.has(ref.firstSeq)
  }

  /**
   * Reads and checks segment `ref`'s header unless that was done: what a read by location relies on.
   *
   * @param ref - a readable segment of the log
   * @param fd - `ref` open for reading
   * @throws WalError `WAL_CORRUPT`, `WAL_SERIALIZER_MISMATCH`, `WAL_FORMAT_UNSUPPORTED`, `WAL_IO`
   */
  async checkHeader(ref: SegmentRef, fd: Fd): Promise<void> {
    if (!this.segments.has(ref.firstSeq)) await this.start(ref, fd)
  }

  /**
   * {@link seek} without I/O: the boundary when segment `ref` is already indexed up to `seq` and its
   * read limit is known (what repeated point reads meet), else undefined (then use {@link seek}).
   *
   * @param ref - a readable segment of the log
   * @param seq - the seq wanted; at or after the segment's first
   * @returns where a walk toward `seq` may start, and how far it may read; or undefined
   */
  seekSync(ref: SegmentRef, seq: number): SeekPoint | undefined {
    const entries = this.segments.get(ref.firstSeq)
    if (entries === undefined || entries.walking !== undefined) return undefined
    if (seq > entries.walkedSeq && !entries.complete) return undefined
    const bound = this.source.state.bound(ref)
    let end: number
    if (bound.kind !== 'sealed') end = bound.kind === 'newest' ? bound.end : 0
    else if (entries.size >= 0) end = entries.size
    else return undefined
    return entries.floor(seq, end)
  }

  /**
   * The segments indexed, by first seq, with their entry counts and bytes held (tests and tuning).
   *
   * @returns one row per segment sought into, oldest first
   */
  stats(): { firstSeq: number; entries: number; bytes: number; walkedTo: number; complete: boolean }[] {
    return [...this.segments]
      .sort((a, b) => a[0] - b[0])
      .map(([firstSeq, e]) => ({
        firstSeq,
        entries: e.length,
        bytes: e.seqs.byteLength + e.offsets.byteLength,
        walkedTo: e.walkedOffset,
        complete: e.complete,
      }))
  }

  /** Reads and checks the segment's header: the first entry is its first frame. */
  private async start(ref: SegmentRef, fd: Fd): Promise<SegmentEntries> {
    const { files, serializerName, state } = this.source
    let read: Awaited<ReturnType<typeof readHeader>>
    try {
      read = await readHeader(files, fd, ref)
    } catch (err) {
      throw WalError.IO(`cannot read the header of ${ref.path}`, { file: ref.path, cause: err })
    }
    const header = expectHeader(read, ref, serializerName)
    const known = this.segments.get(ref.firstSeq)
    if (known !== undefined) return known
    const entries = new SegmentEntries(
      header.headerSize,
      header.firstSeq,
      Math.max(16, Math.ceil(read.fileSize / SEEK_SPACING) + 1),
    )
    if (state.bound(ref).kind === 'sealed') entries.size = read.fileSize
    // Removed while the header was read: keep nothing for it.
    if (state.segmentFor(ref.firstSeq)?.firstSeq === ref.firstSeq) this.segments.set(ref.firstSeq, entries)
    return entries
  }

  /**
   * Walks from the walked boundary through the frame of `seq` (or to the readable end), then on
   * through what the last read chunk holds.
   */
  private async walk(entries: SegmentEntries, ref: SegmentRef, fd: Fd, seq: number): Promise<void> {
    const { files, maxRecordSize } = this.source
    const end = await this.readLimit(entries, ref, fd)
    const sealed = entries.size >= 0
    const walker = new FrameWalker(files, fd, entries.walkedOffset, entries.walkedSeq, maxRecordSize)
    while (walker.seq < seq) {
      const r = await walker.next(end)
      if (r === 'ok') {
        if (!walker.batchOpen) entries.reached(walker.frameEnd, walker.seq + 1)
      } else if (r === 'end') {
        if (!sealed) return
        if (walker.batchOpen) {
          throw problemError(ref.path, {
            code: 'batch-open',
            reason: 'the segment ends inside an atomic batch',
            offset: walker.committedEnd,
            seq: walker.committedSeq + 1,
          })
        }
        entries.finish()
        return
      } else {
        throw problemError(ref.path, await streamProblem(files, fd, walker, maxRecordSize))
      }
    }
    // Frames already read cost no I/O: index them too, stopping silently at anything that is not a
    // frame (a read that needs to go there finds it and says so).
    while (walker.nextBuffered() === 'ok') {
      if (!walker.batchOpen) entries.reached(walker.frameEnd, walker.seq + 1)
    }
    if (sealed && entries.walkedOffset === end) entries.finish()
  }

  /**
   * How far a walk in `ref` may read: the readable end of the newest segment (0 for one not readable
   * yet), or the size of a sealed one (asked once: a sealed segment does not change).
   */
  private async readLimit(entries: SegmentEntries, ref: SegmentRef, fd: Fd): Promise<number> {
    const bound = this.source.state.bound(ref)
    if (bound.kind !== 'sealed') return bound.kind === 'newest' ? bound.end : 0
    if (entries.size < 0) {
      try {
        entries.size = await this.source.files.size(fd)
      } catch (err) {
        throw WalError.IO(`cannot read the size of ${ref.path}`, { file: ref.path, cause: err })
      }
    }
    return entries.size
  }
}
