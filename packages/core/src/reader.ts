/**
 * Reads records in seq order across segments: seeks to the segment holding the first wanted seq,
 * validates every frame (a problem inside readable bytes is corruption, never an end), checks the seq
 * chain across segment boundaries, and decodes with the serializer.
 *
 * @internal
 */
import { WalError } from './errors.js'
import type { Fd, Files } from './files.js'
import { expectHeader, FrameReader, oversizeError, readHeader, type SegmentRef } from './segment.js'
import type { EncodableRecord, Serializer, WalRecord } from './serializer.js'

/** What a reader needs from the WAL: files, codec, and the live segment list with readable bounds. */
export interface ReadSource {
  readonly files: Files
  readonly serializer: Serializer<string, unknown, EncodableRecord>
  readonly maxRecordSize: number
  /** The segment list, oldest first (live: it grows on rotation and shrinks on truncation). */
  readonly segments: readonly SegmentRef[]
  /** How far a segment may be read: Infinity for sealed ones, the readable end for the newest. */
  bound(ref: SegmentRef): number
}

/**
 * Finds the index of the segment that holds `seq`: the last one whose first seq is not above it.
 *
 * @returns the index, or -1 when `seq` is before the first segment
 */
export function segmentIndexFor(segments: readonly SegmentRef[], seq: number): number {
  let lo = 0
  let hi = segments.length - 1
  let found = -1
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    if (segments[mid]!.firstSeq <= seq) {
      found = mid
      lo = mid + 1
    } else {
      hi = mid - 1
    }
  }
  return found
}

/** A record as stored: its seq and the serializer's bytes, undecoded. */
export interface StoredFrame {
  /** The record's sequence number. */
  readonly seq: number
  /** The payload: a view into a read buffer that is never reused. */
  readonly payload: Uint8Array
}

/**
 * A resumable cursor over records `from..to` (inclusive). Call {@link fill} repeatedly; each call puts
 * the next records into {@link records} and resolves false when nothing more is readable for now.
 */
export class RecordReader {
  /**
   * What the last {@link fill} read (the array is reused between calls): decoded {@link WalRecord}s,
   * or {@link StoredFrame}s when the reader is raw.
   */
  readonly records: Array<WalRecord | StoredFrame> = []
  /** True once `to` has been reached. */
  done = false

  private readonly source: ReadSource
  private readonly to: number
  private readonly raw: boolean
  private nextSeq: number
  // The seq of the last frame of the segment read before (the chain the next segment must continue).
  private chainSeq = 0
  private segment: SegmentRef | undefined
  private fd: Fd = -1
  private frames: FrameReader | undefined

  /**
   * @param source - where to read
   * @param from - first seq wanted
   * @param to - last seq wanted (Infinity for no end)
   * @param raw - yield stored frames instead of decoding them
   */
  constructor(source: ReadSource, from: number, to: number, raw = false) {
    this.source = source
    this.raw = raw
    this.nextSeq = from
    this.to = to
    this.segment = undefined
    this.frames = undefined
    this.done = from > to
  }

  /**
   * Reads the next batch of records into {@link records}.
   *
   * @param max - the most records to return at once
   * @returns true when `records` holds at least one record
   * @throws WalError `WAL_CORRUPT`, `WAL_SERIALIZER_ERROR`, `WAL_SERIALIZER_MISMATCH`, `WAL_TRUNCATED`, `WAL_IO`
   */
  async fill(max = 4096): Promise<boolean> {
    const out = this.records
    out.length = 0
    while (!this.done) {
      let frames = this.frames
      if (!frames) {
        frames = await this.openNext()
        if (!frames) break
      }
      let r: 'ok' | 'invalid' | 'more' | 'incomplete' | 'end' = frames.nextBuffered()
      if (r === 'more') {
        if (out.length > 0) break // hand over what is decoded before doing I/O
        r = await frames.next(this.source.bound(this.segment!))
      }
      if (r === 'ok') {
        const seq = frames.seq
        if (seq < this.nextSeq) continue
        if (seq > this.to) {
          this.finish()
          break
        }
        out.push(this.raw ? { seq, payload: frames.payload } : this.decode(frames))
        this.nextSeq = seq + 1
        if (seq === this.to) this.finish()
        else if (out.length >= max) break
      } else if (r === 'end') {
        if (this.source.bound(this.segment!) !== Number.POSITIVE_INFINITY) break // newest: wait for more
        if (frames.batchOpen) this.corrupt(frames, 'segment ends inside an atomic batch')
        this.chainSeq = frames.seq
        await this.closeSegment()
      } else {
        if (r === 'invalid' && frames.cursor.oversize) await this.checkOversize(frames)
        this.corrupt(frames, frames.cursor.problem)
      }
    }
    return out.length > 0
  }

  /** Releases the open segment. */
  async close(): Promise<void> {
    this.done = true
    await this.closeSegment()
  }

  private finish(): void {
    this.done = true
    void this.closeSegment()
  }

  private decode(frames: FrameReader): WalRecord {
    let rec: EncodableRecord
    try {
      rec = this.source.serializer.decode(frames.payload)
    } catch (err) {
      throw new WalError(
        'WAL_SERIALIZER_ERROR',
        `decoding seq ${frames.seq} in ${this.segment!.path} failed`,
        {
          cause: err,
          seq: frames.seq,
          file: this.segment!.path,
          offset: frames.frameStart,
        },
      )
    }
    if (typeof rec !== 'object' || rec === null || typeof rec.type !== 'string') {
      throw new WalError('WAL_SERIALIZER_ERROR', `the serializer returned no record for seq ${frames.seq}`, {
        seq: frames.seq,
        file: this.segment!.path,
      })
    }
    return { seq: frames.seq, type: rec.type, time: rec.time, data: rec.data }
  }

  /** Throws `WAL_RECORD_TOO_LARGE` when the rejected frame is an intact record over maxRecordSize. */
  private async checkOversize(frames: FrameReader): Promise<void> {
    const { files, maxRecordSize } = this.source
    const size = await files.size(this.fd)
    if (await frames.rejectedIntactOversize(size)) {
      throw oversizeError(this.segment!.path, frames.frameEnd, frames.cursor, maxRecordSize)
    }
  }

  private corrupt(frames: FrameReader, problem: string): never {
    const file = this.segment!.path
    throw new WalError('WAL_CORRUPT', `${file} at offset ${frames.frameEnd}: ${problem}`, {
      file,
      offset: frames.frameEnd,
      seq: frames.seq + 1,
    })
  }

  private async closeSegment(): Promise<void> {
    this.frames = undefined
    if (this.fd >= 0) {
      const fd = this.fd
      this.fd = -1
      await this.source.files.close(fd).catch(() => {})
    }
  }

  /** Opens the segment holding `nextSeq`, checking it continues the chain. Undefined if none yet. */
  private async openNext(): Promise<FrameReader | undefined> {
    const segments = this.source.segments
    const previous = this.segment
    let ref: SegmentRef | undefined
    if (previous === undefined) {
      const first = segments[0]
      if (first !== undefined && this.nextSeq < first.firstSeq) {
        throw new WalError(
          'WAL_TRUNCATED',
          `seq ${this.nextSeq} was removed (the log starts at ${first.firstSeq})`,
          {
            seq: this.nextSeq,
          },
        )
      }
      ref = segments[segmentIndexFor(segments, this.nextSeq)]
    } else {
      ref = segments.find((s) => s.firstSeq > previous.firstSeq)
      if (ref !== undefined && ref.firstSeq !== this.chainSeq + 1) {
        throw new WalError(
          'WAL_CORRUPT',
          `gap between segments: ${previous.path} ends at seq ${this.chainSeq}, the next starts at ${ref.firstSeq}`,
          { file: ref.path, seq: this.chainSeq + 1 },
        )
      }
    }
    // A segment that is not readable yet (being created, or not yet validated by a read-only
    // instance) is opened later, once it is.
    if (ref === undefined || this.source.bound(ref) === 0) return undefined
    const { files } = this.source
    let fd: Fd
    try {
      fd = await files.open(ref.path, 'r')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new WalError('WAL_TRUNCATED', `${ref.path} was removed while reading`, {
          file: ref.path,
          cause: err,
        })
      }
      throw new WalError('WAL_IO', `cannot open ${ref.path}`, { file: ref.path, cause: err })
    }
    this.fd = fd
    this.segment = ref
    let read: Awaited<ReturnType<typeof readHeader>>
    try {
      read = await readHeader(files, fd, ref)
    } catch (err) {
      throw new WalError('WAL_IO', `cannot read the header of ${ref.path}`, { file: ref.path, cause: err })
    }
    const header = expectHeader(read, ref, this.source.serializer.name)
    this.frames = new FrameReader(files, fd, header.headerSize, header.firstSeq, this.source.maxRecordSize)
    return this.frames
  }
}
