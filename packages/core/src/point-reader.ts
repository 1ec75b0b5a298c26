/**
 * Reads records by seq, in any order: groups the seqs by segment, and in each segment walks from the
 * seek index's nearest batch boundary in small windows, so a record costs a few KiB of reading and
 * checking, not the segment up to it. A wanted frame is checked exactly as a sequential read checks
 * it; the frames before it in the window are only stepped over (`skimFrame`: length, seq chain,
 * checksum and batch field, no envelope parsing).
 *
 * A record whose caller knows where its frame lies (a {@link FrameLocations} entry, kept by an index
 * from `appendBatch` or `recordsLocated`) is read with one read of exactly its frame, no walk. The
 * frame found there must carry the wanted seq, have exactly the given length and pass its checksum;
 * if not (a stale location), the record is read through the seek index instead and the miss is
 * counted: a stale location costs a read, never an answer. (Locations are trusted to point at frame
 * boundaries: bytes inside another record's data that form a complete frame with the wanted seq and
 * length would pass these checks. Callers pass only locations the log reported.) Before the first
 * located read of a segment its header is checked, as the seek index checks it.
 *
 * @internal
 */
import { WalError } from './errors.js'
import type { Fd } from './files.js'
import { FRAME_HEADER_SIZE } from './format.js'
import { type ReadSource, RecordDecoder } from './reader.js'
import { FrameWalker, problemError, type SegmentRef, streamProblem } from './scanner.js'
import type { SeekPoint } from './seek-index.js'
import type { FrameLocations, WalRecord } from './serializer.js'

/**
 * Bytes per read of a point read: the seek entry lies about `SEEK_SPACING` (4 KiB) before the frame at
 * most (more only inside a long batch), so one window usually holds it; a longer frame is read whole.
 */
const WINDOW = 8 * 1024

/**
 * The records with seqs `seqs`, in the order given (a seq given twice yields the same record object
 * twice, unless only one of the two has a location). The caller has checked that every seq is
 * readable: stored and not above the readable end.
 *
 * @param source - where to read, and how to decode
 * @param seqs - seqs of readable records
 * @param locations - where some of them lie (parallel to `seqs`; see the module comment)
 * @returns one record per seq
 * @throws WalError `WAL_CORRUPT`, `WAL_TRUNCATED` (a segment removed while reading),
 *   `WAL_SERIALIZER_ERROR`, `WAL_SERIALIZER_MISMATCH`, `WAL_RECORD_TOO_LARGE`, `WAL_IO`
 */
export async function readRecordsAt(
  source: ReadSource,
  seqs: readonly number[],
  locations?: Readonly<FrameLocations>,
): Promise<WalRecord[]> {
  const order = Array.from(seqs.keys()).sort((a, b) => seqs[a]! - seqs[b]!)
  const out = new Array<WalRecord>(seqs.length)
  const reads: Promise<void>[] = []
  const decoder = new RecordDecoder(source.serializer, source.cipher, source.keepSealed)
  // Every read started is settled before this returns or throws (an abandoned one could reject with
  // nothing listening), and errors are kept in segment order: a synchronous one joins the list.
  let i = 0
  while (i < order.length) {
    const ref = source.state.segmentFor(seqs[order[i]!]!)
    if (ref === undefined) {
      reads.push(
        Promise.reject(WalError.TRUNCATED(`seq ${seqs[order[i]!]} was removed`, { seq: seqs[order[i]!]! })),
      )
      break
    }
    const next = source.state.after(ref)
    let j = i + 1
    while (j < order.length && (next === undefined || seqs[order[j]!]! < next.firstSeq)) j++
    const reader = new SegmentPointReader(source, ref, decoder, locations)
    const positions = order.slice(i, j)
    // Most point reads find the segment open and indexed: read it without a wait. Otherwise (or when
    // the frames need a closer look) the asynchronous path reads it.
    try {
      const left = reader.readSync(seqs, positions, out)
      if (left !== undefined) reads.push(reader.read(seqs, left.positions, out, left.located))
    } catch (err) {
      reads.push(Promise.reject(err))
    }
    i = j
  }
  if (reads.length === 0) return out
  // Segments are read concurrently; the failure reported is the one in the oldest segment.
  const settled = await Promise.allSettled(reads)
  for (const s of settled) if (s.status === 'rejected') throw s.reason
  return out
}

/** Seqs read with one walker: each one's seek point lies at or before the previous one's next frame. */
interface Run {
  readonly from: SeekPoint
  /** Positions in the caller's seqs, by ascending seq. */
  readonly positions: number[]
}

/** Point reads in one segment, through one descriptor of its file. */
class SegmentPointReader {
  private readonly source: ReadSource
  private readonly ref: SegmentRef
  private readonly decoder: RecordDecoder
  private readonly locations: Readonly<FrameLocations> | undefined
  private fd: Fd = -1
  /** The position the located reads looked at last (a seq given twice reuses its record). */
  private previous = -1

  /**
   * @param source - where to read
   * @param ref - the segment
   * @param decoder - decodes the records (one per call of {@link readRecordsAt}, shared by its segments)
   * @param locations - where some records lie (parallel to the caller's seqs)
   */
  constructor(
    source: ReadSource,
    ref: SegmentRef,
    decoder: RecordDecoder,
    locations: Readonly<FrameLocations> | undefined,
  ) {
    this.source = source
    this.ref = ref
    this.decoder = decoder
    this.locations = locations
  }

  /** The readable end of the segment for a located read (0: not readable now). */
  private readableEnd(): number {
    const bound = this.source.state.bound(this.ref)
    return bound.kind === 'newest' ? bound.end : bound.kind === 'sealed' ? Number.POSITIVE_INFINITY : 0
  }

  /** The location of `seqs[p]` when one was given and is plausible: [offset, length]. */
  private locationOf(p: number): [number, number] | undefined {
    const locations = this.locations
    if (locations === undefined) return undefined
    const offset = locations.offsets[p]
    const length = locations.lengths[p]
    if (
      typeof offset !== 'number' ||
      typeof length !== 'number' ||
      !Number.isSafeInteger(offset) ||
      !Number.isSafeInteger(length) ||
      offset < 0 ||
      length <= FRAME_HEADER_SIZE ||
      length > FRAME_HEADER_SIZE + this.source.maxRecordSize
    ) {
      return undefined
    }
    return [offset, length]
  }

  /**
   * Reads the records that have a location, each with one read of its frame, into `out`. The
   * segment's header must have been checked (see {@link read}).
   *
   * @returns the positions still to read (no location, or one that did not hold the record)
   */
  private readLocatedSync(seqs: readonly number[], positions: readonly number[], out: WalRecord[]): number[] {
    if (this.locations === undefined) return positions as number[]
    const rest: number[] = []
    const end = this.readableEnd()
    for (const p of positions) {
      if (this.sameAsPrevious(seqs, p, out)) continue
      const at = this.locationOf(p)
      const walker = at && this.locatedWalker(seqs[p]!, at[0], at[1], end)
      if (!(at && this.took(walker, walker?.nextSync(end), seqs[p]!, at, p, out))) rest.push(p)
    }
    return rest
  }

  /** {@link readLocatedSync} with asynchronous reads. */
  private async readLocated(
    seqs: readonly number[],
    positions: readonly number[],
    out: WalRecord[],
  ): Promise<number[]> {
    if (this.locations === undefined) return positions as number[]
    const rest: number[] = []
    const end = this.readableEnd()
    for (const p of positions) {
      if (this.sameAsPrevious(seqs, p, out)) continue
      const at = this.locationOf(p)
      const walker = at && this.locatedWalker(seqs[p]!, at[0], at[1], end)
      if (!(at && this.took(walker, await walker?.next(end), seqs[p]!, at, p, out))) rest.push(p)
    }
    return rest
  }

  /**
   * A seq given twice: the position right before `p` (positions come by ascending seq) holds it and
   * was read by location; `p` gets the same record object.
   */
  private sameAsPrevious(seqs: readonly number[], p: number, out: WalRecord[]): boolean {
    const q = this.previous
    this.previous = p
    if (q < 0 || seqs[q] !== seqs[p] || out[q] === undefined) return false
    out[p] = out[q]!
    return true
  }

  /**
   * Takes the frame the located walker read when it is the record (checked, exactly the located
   * length) and counts a hit; else counts a miss.
   */
  private took(
    walker: FrameWalker | undefined,
    result: string | undefined,
    seq: number,
    [offset, length]: [number, number],
    p: number,
    out: WalRecord[],
  ): boolean {
    const stats = this.source.located
    // A record in a compressed block: the block is open, its records before this one are in memory.
    while (result === 'ok' && walker !== undefined && walker.seq < seq && walker.batchOpen) {
      result = walker.nextBuffered()
    }
    if (
      walker === undefined ||
      result !== 'ok' ||
      walker.seq !== seq ||
      walker.frameEnd !== offset + length
    ) {
      stats.misses++
      return false
    }
    out[p] = this.decoder.decode(walker, this.ref.path)
    stats.hits++
    return true
  }

  /** A walker whose first read is exactly the frame at `offset`, which must carry `seq`. */
  private locatedWalker(seq: number, offset: number, length: number, end: number): FrameWalker | undefined {
    if (offset + length > end) return undefined
    const { files, maxRecordSize } = this.source
    return new FrameWalker(files, this.fd, offset, seq, maxRecordSize, length)
  }

  /**
   * {@link read} without waiting, as far as it can be done so: the segment's file is open, the file
   * interface reads synchronously, and (for records read through the seek index) the index covers
   * every seq and every frame on the way checks out.
   *
   * @param positions - positions in `seqs`, by ascending seq, all in this segment
   * @returns undefined when every record was read into `out`; else what {@link read} must still do
   *   (it overwrites any entry of `out` this left behind)
   */
  readSync(
    seqs: readonly number[],
    positions: readonly number[],
    out: WalRecord[],
  ): { positions: readonly number[]; located: boolean } | undefined {
    const { fds, seeks, files } = this.source
    if (files.readSync === undefined) return { positions, located: true }
    // Reads by location skip the walk that checks a segment's header on the way: the first read of a
    // segment checks it (asynchronously), so a damaged or foreign header is reported, never read past.
    if (this.locations !== undefined && !seeks.headerChecked(this.ref)) return { positions, located: true }
    const lease = fds.acquireSync(this.ref)
    if (lease === undefined) return { positions, located: true }
    this.fd = lease.fd
    try {
      // Located records are done (or missed, and counted) once: what is left goes through the seek index.
      const rest = this.readLocatedSync(seqs, positions, out)
      const left = { positions: rest, located: false }
      let run: Run | undefined
      let previous = 0
      for (let k = 0; k < rest.length; k++) {
        const seq = seqs[rest[k]!]!
        if (run === undefined || seq !== previous) {
          const point = seeks.seekSync(this.ref, seq)
          if (point === undefined) return left
          if (run === undefined || point.seq > previous + 1) {
            if (run !== undefined && !this.walkSync(run, seqs, out)) return left
            run = { from: point, positions: [] }
          }
          previous = seq
        }
        run.positions.push(rest[k]!)
      }
      return run === undefined || this.walkSync(run, seqs, out) ? undefined : left
    } finally {
      lease.release()
    }
  }

  /**
   * Reads `seqs[p]` into `out[p]` for every position `p` in `positions`: records with a location at
   * it, the others from their seek point (no I/O once the segment is indexed that far), walking the
   * runs concurrently.
   *
   * @param positions - positions in `seqs`, by ascending seq, all in this segment
   * @param located - whether to try the records' locations first
   */
  async read(
    seqs: readonly number[],
    positions: readonly number[],
    out: WalRecord[],
    located = true,
  ): Promise<void> {
    const { fds, seeks } = this.source
    const lease = await fds.acquire(this.ref)
    this.fd = lease.fd
    try {
      if (located && this.locations !== undefined) {
        await seeks.checkHeader(this.ref, this.fd)
        positions = await this.readLocated(seqs, positions, out)
      }
      const runs: Run[] = []
      let run: Run | undefined
      let previous = 0
      for (let k = 0; k < positions.length; k++) {
        const seq = seqs[positions[k]!]!
        if (run === undefined || seq !== previous) {
          const point = await seeks.seek(this.ref, this.fd, seq)
          // Walking on from the previous seq is no longer than walking from the seek point.
          if (run === undefined || point.seq > previous + 1) {
            run = { from: point, positions: [] }
            runs.push(run)
          }
          previous = seq
        }
        run.positions.push(positions[k]!)
      }
      const settled = await Promise.allSettled(runs.map((r) => this.walk(r, seqs, out)))
      for (const s of settled) if (s.status === 'rejected') throw s.reason
    } finally {
      lease.release()
    }
  }

  /** {@link walk} with synchronous reads; false at the first frame that does not check out. */
  private walkSync(run: Run, seqs: readonly number[], out: WalRecord[]): boolean {
    const { files, maxRecordSize } = this.source
    const { offset, seq: first, end } = run.from
    const walker = new FrameWalker(files, this.fd, offset, first, maxRecordSize, WINDOW)
    let last: WalRecord | undefined
    for (const p of run.positions) {
      const seq = seqs[p]!
      walker.skimBelow = seq
      while (last?.seq !== seq) {
        // 'end', 'incomplete' or 'invalid': the asynchronous path reads again and reports it.
        if (walker.nextSync(end) !== 'ok') return false
        if (walker.seq === seq) last = this.decoder.decode(walker, this.ref.path)
      }
      out[p] = last
    }
    return true
  }

  /** Walks from the run's seek point through its seqs, decoding each. */
  private async walk(run: Run, seqs: readonly number[], out: WalRecord[]): Promise<void> {
    const { files, maxRecordSize } = this.source
    const path = this.ref.path
    const { offset, seq: first, end } = run.from
    const walker = new FrameWalker(files, this.fd, offset, first, maxRecordSize, WINDOW)
    // A few KiB per seq, mostly from the page cache: a synchronous pread costs microseconds, a trip
    // through libuv's thread pool (four threads shared by every read) tens of them and more in a queue.
    const sync = files.readSync !== undefined
    let last: WalRecord | undefined
    for (const p of run.positions) {
      const seq = seqs[p]!
      // Frames on the way are stepped over (checksummed, not parsed): the wanted one is checked in full.
      walker.skimBelow = seq
      while (last?.seq !== seq) {
        const r = sync ? walker.nextSync(end) : await walker.next(end)
        if (r === 'ok') {
          if (walker.seq === seq) last = this.decoder.decode(walker, path)
        } else if (r === 'end') {
          // The log state says the seq is here and readable: the segment breaks off before it.
          throw WalError.CORRUPT(`${path} ends at seq ${walker.seq}, before seq ${seq}`, {
            file: path,
            offset: walker.frameEnd,
            seq: walker.seq + 1,
          })
        } else {
          throw problemError(path, await streamProblem(files, this.fd, walker, maxRecordSize))
        }
      }
      out[p] = last
    }
  }
}
