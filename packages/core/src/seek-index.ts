/**
 * Where to start reading a seq inside a segment: per segment, a sparse sorted list of batch boundaries
 * (the file offset where a batch starts, and the seq of its first frame), about one per
 * {@link SEEK_SPACING} bytes. A {@link FrameWalker} may start at a batch boundary, so a read of a seq
 * deep in a segment walks a few KiB instead of the segment from its start.
 *
 * Boundaries come from two places, and a read starts only at a verified one:
 * - A walk of the segment's frames with every check a read makes (header, checksum, length, seq and
 *   batch chains). The walk is lazy and resumable: a seek walks on from where the last one stopped,
 *   as far as the seq it needs and through the rest of the chunk it read, never past the segment's
 *   readable end, so every frame is walked about once however the seeks arrive, and the growing
 *   newest segment is indexed as it grows.
 * - A sealed segment's seek file (`seek-file.ts`), read when a seek would otherwise walk, so the first
 *   read in the middle of a large segment opened afresh does not walk it. Its entries are hints: the
 *   frame at an entry is checked (intact, carrying the entry's seq) before a read starts there, and a
 *   file whose entry fails is dropped for a walk. A writer writes a seek file after a complete walk of
 *   a sealed segment that had none (or an unusable one).
 *
 * Entries live in typed arrays (16 bytes each). The log state owns the segment list: it says when a
 * segment is removed, and its entries go with it.
 *
 * @internal
 */
import { WalError } from './errors.js'
import type { Fd, Files } from './files.js'
import { FRAME_HEADER_SIZE } from './format.js'
import type { LogState } from './log-state.js'
import type { WalLogger } from './logger.js'
import {
  expectHeader,
  FrameWalker,
  type HeaderRead,
  problemError,
  readHeader,
  type SegmentRef,
  streamProblem,
} from './scanner.js'
import {
  readSeekFile,
  SEEK_SPACING,
  type SeekEntries,
  seekFileName,
  sparseEntries,
  writeSeekFile,
} from './seek-file.js'

export { SEEK_SPACING } from './seek-file.js'

/** Bytes of the read that checks the frame at a seek file's entry (a longer frame is read whole). */
const HINT_CHUNK = 1024

/** A batch boundary: the frame at `offset` is the first of a batch and carries `seq`. */
export interface SeekPoint {
  readonly offset: number
  readonly seq: number
  /** How far a walk from here may read: the readable end of the newest segment, or a sealed one's size. */
  readonly end: number
}

/** A segment header a caller read, and whether the segment was sealed when that read began. */
export interface KnownHeader {
  readonly read: HeaderRead
  readonly sealedBefore: boolean
}

/** What the index reads segments with. */
export interface SeekIndexSource {
  readonly files: Files
  readonly maxRecordSize: number
  /** The serializer name segment headers must carry; undefined accepts any. */
  readonly serializerName: string | undefined
  readonly state: LogState
  /** The log directory, where seek files live. */
  readonly dir: string
  /** Whether this index may write seek files (a writer's; a reader changes nothing on disk). */
  readonly writeSeekFiles: boolean
  /** The mode of seek files it writes. */
  readonly fileMode: number
  readonly logger: WalLogger
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
  /** The segment header's creation time (what binds a seek file to it). */
  readonly createdAt: number
  /**
   * Per entry when the entries came from a seek file: 1 once the frame at the entry was checked, 0
   * before (an unchecked entry is a hint, never a place to start reading); undefined for entries
   * that a walk verified.
   */
  checked: Uint8Array | undefined
  /** The seek file was looked for (found missing or unusable when {@link checked} is undefined). */
  seekFileTried: boolean

  constructor(firstOffset: number, firstSeq: number, capacity: number, createdAt: number) {
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
    this.createdAt = createdAt
    this.checked = undefined
    this.seekFileTried = false
  }

  /** The entries of a sealed segment's seek file: complete, every entry to be checked before use. */
  static fromSeekFile(file: SeekEntries, size: number, createdAt: number): SegmentEntries {
    const entries = new SegmentEntries(file.offsets[0]!, file.seqs[0]!, 1, createdAt)
    entries.seqs = file.seqs
    entries.offsets = file.offsets
    entries.length = file.count
    entries.walkedOffset = size
    entries.walkedSeq = file.lastSeq + 1
    entries.size = size
    entries.complete = true
    entries.checked = new Uint8Array(file.count)
    entries.seekFileTried = true
    return entries
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
    const i = this.floorIndex(seq)
    if (i < 0) return { offset: this.walkedOffset, seq: this.walkedSeq, end }
    return { offset: this.offsets[i]!, seq: this.seqs[i]!, end }
  }

  /** The index of the last entry at or before `seq`, or -1 for the walked boundary. */
  floorIndex(seq: number): number {
    if (seq >= this.walkedSeq) return -1
    let lo = 0
    let hi = this.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (this.seqs[mid]! <= seq) lo = mid
      else hi = mid - 1
    }
    return lo
  }

  /** Whether a read may start at the entry for `seq` without I/O: verified by a walk or checked. */
  usable(seq: number): boolean {
    const checked = this.checked
    if (checked === undefined) return true
    const i = this.floorIndex(seq)
    return i < 0 || checked[i] === 1
  }

  /** The entries as a seek file holds them (a complete walk's). */
  toSeekFile(): SeekEntries {
    return { seqs: this.seqs, offsets: this.offsets, count: this.length, lastSeq: this.walkedSeq - 1 }
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
  /** Seek files being written, one after the other. */
  private writes: Promise<void> = Promise.resolve()
  private closed = false

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
   * @param header - the segment's header as the caller just read it (saves reading it again)
   * @returns where a walk toward `seq` may start, and how far it may read
   * @throws WalError `WAL_CORRUPT`, `WAL_SERIALIZER_MISMATCH`, `WAL_FORMAT_UNSUPPORTED`,
   *   `WAL_RECORD_TOO_LARGE`, `WAL_IO`
   */
  async seek(ref: SegmentRef, fd: Fd, seq: number, header?: KnownHeader): Promise<SeekPoint> {
    let entries = this.segments.get(ref.firstSeq) ?? (await this.start(ref, fd, header))
    if (seq > entries.walkedSeq && !entries.complete && !entries.seekFileTried) {
      entries = await this.loadSeekFile(entries, ref, fd)
    }
    if (entries.checked !== undefined) {
      const point = await this.checkEntry(entries, ref, fd, seq)
      if (point !== undefined) return point
      entries = this.segments.get(ref.firstSeq) ?? (await this.start(ref, fd))
    }
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
   * Writes no more seek files; resolves once those being written are written (or failed: a seek file
   * is a cache). A writer's close calls it before it releases the lock.
   */
  close(): Promise<void> {
    this.closed = true
    return this.writes
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
    if (!entries.usable(seq)) return undefined
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
  private async start(ref: SegmentRef, fd: Fd, given?: KnownHeader): Promise<SegmentEntries> {
    const { files, serializerName, state } = this.source
    let read: HeaderRead
    // The file size a header read gives is the sealed size only if the segment was sealed when the
    // read began: the newest segment may be sealed while it runs, and then it has grown since.
    let sealedBefore: boolean
    if (given !== undefined) {
      read = given.read
      sealedBefore = given.sealedBefore
    } else {
      sealedBefore = state.bound(ref).kind === 'sealed'
      try {
        read = await readHeader(files, fd, ref)
      } catch (err) {
        throw WalError.IO(`cannot read the header of ${ref.path}`, { file: ref.path, cause: err })
      }
    }
    const header = expectHeader(read, ref, serializerName)
    const known = this.segments.get(ref.firstSeq)
    if (known !== undefined) return known
    // Room for a few entries: a walk grows the arrays as it goes, and a sealed segment's usually come
    // from its seek file instead (sized to fit a whole segment, they cost an allocation per open).
    const entries = new SegmentEntries(header.headerSize, header.firstSeq, 64, header.createdAt)
    if (sealedBefore) entries.size = read.fileSize
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
        this.finish(entries, ref)
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
    if (sealed && entries.walkedOffset === end) this.finish(entries, ref)
  }

  /**
   * The walk reached the end of a sealed segment. A writer whose seek file for it was missing or
   * unusable writes one from the verified entries.
   */
  private finish(entries: SegmentEntries, ref: SegmentRef): void {
    entries.finish()
    const { files, dir, fileMode, logger, writeSeekFiles, state } = this.source
    if (!writeSeekFiles || !entries.seekFileTried || this.closed) return
    const binding = { firstSeq: ref.firstSeq, createdAt: entries.createdAt, size: entries.size }
    const file = sparseEntries(entries.toSeekFile())
    this.writes = this.writes
      .then(() => writeSeekFile(files, dir, binding, file, fileMode, () => state.has(ref)))
      .catch((err: Error) => {
        logger.warn('writing a seek file failed (reads walk the segment instead)', {
          file: seekFileName(ref.firstSeq),
          error: err.message,
        })
      })
  }

  /**
   * Looks for the seek file of a sealed segment: when it is there and agrees with the segment, its
   * entries replace `entries` (whose walk has not reached the end).
   *
   * @returns the entries to seek with
   */
  private async loadSeekFile(entries: SegmentEntries, ref: SegmentRef, fd: Fd): Promise<SegmentEntries> {
    entries.seekFileTried = true
    const { files, dir, logger, state } = this.source
    if (state.bound(ref).kind !== 'sealed') return entries
    const size = await this.readLimit(entries, ref, fd)
    const binding = { firstSeq: ref.firstSeq, createdAt: entries.createdAt, size }
    let file: Awaited<ReturnType<typeof readSeekFile>>
    try {
      file = await readSeekFile(files, dir, binding, entries.offsets[0]!)
    } catch (err) {
      file = `it cannot be read (${(err as Error).message})`
    }
    // A sealed segment ends right before the next one begins.
    const next = state.after(ref)
    if (typeof file === 'object' && file.lastSeq !== (next ? next.firstSeq - 1 : file.lastSeq + 1)) {
      file = `its last seq ${file.lastSeq} is not ${next ? next.firstSeq - 1 : 'known'}`
    }
    if (typeof file === 'string') {
      logger.warn('ignoring a seek file that does not fit its segment (reads walk the segment)', {
        file: seekFileName(ref.firstSeq),
        reason: file,
      })
    }
    if (typeof file !== 'object') return entries
    const loaded = SegmentEntries.fromSeekFile(file, size, entries.createdAt)
    // Keep what another read put there meanwhile; a removed segment keeps nothing.
    if (this.segments.get(ref.firstSeq) !== entries) return this.segments.get(ref.firstSeq) ?? entries
    this.segments.set(ref.firstSeq, loaded)
    return loaded
  }

  /**
   * The entry of a seek file to start reading `seq` at, once the frame there proves to be the one the
   * entry names (intact, carrying its seq). When it is not, the file is not trusted again: the
   * segment's entries start afresh from its header (returns undefined), and a walk decides.
   */
  private async checkEntry(
    entries: SegmentEntries,
    ref: SegmentRef,
    fd: Fd,
    seq: number,
  ): Promise<SeekPoint | undefined> {
    const i = entries.floorIndex(seq)
    const point = entries.floor(seq, entries.size)
    if (i < 0 || entries.checked![i] === 1) return point
    const { files, maxRecordSize, logger } = this.source
    // Numbers a checksum-valid file could hold that no frame can have: refused before any read.
    const plausible =
      Number.isSafeInteger(point.offset) &&
      point.offset >= entries.offsets[0]! &&
      point.offset + FRAME_HEADER_SIZE <= entries.size &&
      Number.isSafeInteger(point.seq) &&
      point.seq >= entries.seqs[0]! &&
      point.seq <= seq
    if (plausible) {
      const walker = new FrameWalker(files, fd, point.offset, point.seq, maxRecordSize, HINT_CHUNK)
      if ((await walker.next(entries.size)) === 'ok') {
        entries.checked![i] = 1
        return point
      }
    }
    logger.warn('a seek file entry does not match its segment; walking the segment instead', {
      file: seekFileName(ref.firstSeq),
      offset: point.offset,
      seq: point.seq,
    })
    if (this.segments.get(ref.firstSeq) === entries) {
      const fresh = new SegmentEntries(
        entries.offsets[0]!,
        entries.seqs[0]!,
        Math.max(16, entries.length + 1),
        entries.createdAt,
      )
      fresh.size = entries.size
      fresh.seekFileTried = true
      this.segments.set(ref.firstSeq, fresh)
    }
    return undefined
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
