/**
 * Builds write batches out of appended groups: encodes each group's frames back to back into a write
 * buffer, decides when a group must start a new segment (size or age), keeps buffers for reuse, and
 * queues sealed batches for the commit loop. Pure memory: no files, no promises.
 *
 * @internal
 */
import type { BlockCompressor } from './compression.js'
import { compressFrames, MAX_SYNC_DISTANCE, segmentHeaderSize } from './format.js'
import type { RecordCipher } from './record-cipher.js'
import { type AppendRecord, type FrameTarget, grow, RecordEncoder } from './record-encoder.js'
import { SEEK_FILE_SPACING, type SeekEntries } from './seek-file.js'
import type { FrameLocations, RawRecord, RecordShape, Serializer } from './serializer.js'

/** One write: frames of one or more whole groups, for one segment. */
export interface Batch extends FrameTarget {
  /** Bytes used in `buf`. */
  length: number
  firstSeq: number
  lastSeq: number
  /** Rotate to a new segment whose first seq is `firstSeq` before writing this batch. */
  newSegment: boolean
  /** Creation time of that new segment. */
  createdAt: number
  /** Per admitted group: settle its promise with its last seq. */
  resolves: Array<(seq: number) => void>
  rejects: Array<(err: Error) => void>
  seqs: number[]
}

/** What the builder is configured with. */
export interface BatchBuilderConfig {
  serializer: Serializer<string, unknown, RecordShape>
  maxRecordSize: number
  segmentSize: number
  segmentMaxAgeMs: number
  bufferSize: number
  /** Seal a batch once it holds this many bytes (`'background'` mode), else never. */
  sealAt: number
  /** Seals record data with data keys (an encrypted log). */
  cipher?: RecordCipher | undefined
  /** Compresses each atomic group into one block frame (when that is smaller). */
  compression?: BlockCompressor | undefined
}

/** The state of the active segment the builder plans rotations from. */
export interface SegmentPlan {
  /** Its first seq. */
  firstSeq: number
  /** Bytes in the segment, queued batches included. */
  size: number
  /** Whether it holds any frame (a segment without frames is never rotated away). */
  hasFrames: boolean
  createdAt: number
}

/** The largest write buffer kept for reuse between batches. */
const SPARE_LIMIT = 16 * 1024 * 1024

/**
 * The batch boundaries of one planned segment, about one per {@link SEEK_FILE_SPACING} bytes: where each
 * atomic group starts is one, since groups never share a frame. What the segment's seek file holds.
 */
class SegmentPoints {
  readonly seqs: number[]
  readonly offsets: number[]

  /** Starts with the segment's first frame, right after its header (or with known boundaries). */
  constructor(headerSize: number, firstSeq: number, known?: { offsets: number[]; seqs: number[] }) {
    this.seqs = known ? [...known.seqs] : [firstSeq]
    this.offsets = known ? [...known.offsets] : [headerSize]
  }

  /** A group starts at `offset` with `seq`: kept when it is far enough from the last boundary kept. */
  note(offset: number, seq: number): void {
    if (offset - this.offsets[this.offsets.length - 1]! >= SEEK_FILE_SPACING) {
      this.offsets.push(offset)
      this.seqs.push(seq)
    }
  }
}

/** See the module comment. */
export class BatchBuilder {
  private readonly config: BatchBuilderConfig
  private readonly encoder: RecordEncoder
  private readonly headerSize: number
  private building: Batch | undefined
  private readonly queue: Batch[] = []
  private spare: Buffer | undefined
  // Capacity of a fresh write buffer: the size of recent batches, so they need not regrow.
  private nextCapacity: number
  // The logical end of the log, including what is queued: drives rotation decisions at append time.
  private readonly plan: SegmentPlan
  /** Bytes of the group the last {@link admit} encoded. */
  admittedBytes = 0
  /** Batch boundaries per planned segment (by first seq), until the writer seals the segment. */
  private readonly points = new Map<number, SegmentPoints>()
  private planPoints: SegmentPoints

  /**
   * @param config - see {@link BatchBuilderConfig}
   * @param plan - the active segment as found at open
   * @param boundaries - the batch boundaries of the frames it holds, first frame first (recovery's)
   */
  constructor(
    config: BatchBuilderConfig,
    plan: SegmentPlan,
    boundaries?: { offsets: number[]; seqs: number[] },
  ) {
    this.config = config
    this.encoder = new RecordEncoder(config.serializer, config.maxRecordSize, config.cipher)
    this.headerSize = segmentHeaderSize(config.serializer.name)
    this.nextCapacity = config.bufferSize
    this.plan = { ...plan }
    // A segment reopened with frames: recovery's walk noted their boundaries.
    this.planPoints = new SegmentPoints(this.headerSize, plan.firstSeq, boundaries)
    this.points.set(plan.firstSeq, this.planPoints)
  }

  /**
   * The batch boundaries of a segment the writer is sealing (all of its batches are written), for
   * its seek file; forgotten here.
   *
   * @param firstSeq - the segment's first seq
   * @param lastSeq - its last seq
   * @returns the boundaries, or undefined when this builder did not plan the segment
   */
  takePoints(firstSeq: number, lastSeq: number): SeekEntries | undefined {
    const p = this.points.get(firstSeq)
    if (p === undefined) return undefined
    this.points.delete(firstSeq)
    const seqs = Float64Array.from(p.seqs)
    return { seqs, offsets: Float64Array.from(p.offsets), count: seqs.length, lastSeq }
  }

  /**
   * Encodes one atomic group (seqs `nextSeq`, `nextSeq + 1`, …) into the batch being built, rotating
   * when the segment would overflow or has aged out. All or nothing: a record that fails to encode
   * throws, and the batch is as it was.
   *
   * @param inputs - the group's records (raw: stored records whose data is already bytes)
   * @param raw - whether `inputs` are stored records
   * @param nextSeq - the seq of the group's first record
   * @param durableSeq - the highest seq already fdatasync'ed (recorded in each frame)
   * @param locations - when given, receives each record's frame offset in its segment and length
   * @returns the batch the group went into ({@link admittedBytes} says how many bytes it took)
   */
  admit(
    inputs: readonly AppendRecord[],
    raw: boolean,
    nextSeq: number,
    durableSeq: number,
    locations?: FrameLocations,
  ): Batch {
    const building = this.buildingBatch()
    const at = building.length
    let cursor = at
    const place = { seq: nextSeq, batchRemaining: 0, syncDistance: 0 }
    const firstDistance = nextSeq - durableSeq > MAX_SYNC_DISTANCE ? 0 : nextSeq - durableSeq
    for (let i = 0; i < inputs.length; i++) {
      place.seq = nextSeq + i
      place.batchRemaining = inputs.length - 1 - i
      const distance = place.seq - durableSeq
      place.syncDistance = distance > MAX_SYNC_DISTANCE ? 0 : distance
      const start = cursor
      cursor = raw
        ? this.encoder.encodeRaw(building, cursor, inputs[i] as RawRecord, place)
        : this.encoder.encode(building, cursor, inputs[i]!, place)
      if (locations) {
        locations.offsets[i] = start - at
        locations.lengths[i] = cursor - start
      }
    }
    const compression = this.config.compression
    if (compression !== undefined) {
      const plainEnd = cursor
      cursor = compressFrames(
        building.buf,
        at,
        cursor,
        nextSeq,
        inputs.length,
        firstDistance,
        compression.id,
        compression.compress,
        this.config.maxRecordSize,
      )
      if (locations && cursor !== plainEnd) {
        // Every record of the group is in the one block frame.
        for (let i = 0; i < inputs.length; i++) {
          locations.offsets[i] = 0
          locations.lengths[i] = cursor - at
        }
      }
    }
    const batch = this.place(building, at, cursor - at, nextSeq)
    if (locations) {
      // The plan now ends with this group: where it starts in its segment file.
      const groupStart = this.plan.size - (cursor - at)
      for (let i = 0; i < inputs.length; i++) locations.offsets[i]! += groupStart
    }
    batch.length += cursor - at
    this.admittedBytes = cursor - at
    batch.lastSeq = nextSeq + inputs.length - 1
    return batch
  }

  /** The next batch to write, or undefined when nothing is pending. */
  take(): Batch | undefined {
    const queued = this.queue.shift()
    if (queued) return queued
    const b = this.building
    if (!b || b.length === 0) return undefined
    this.building = undefined
    return b
  }

  /** Keeps a written batch's buffer for a later batch (two circulate: one filling, one writing). */
  recycle(batch: Batch): void {
    if (batch.buf.length <= SPARE_LIMIT) this.spare = batch.buf
    this.nextCapacity = Math.min(SPARE_LIMIT, Math.max(this.config.bufferSize, batch.buf.length))
  }

  /** Removes and returns every batch not yet taken (the writer failed or closed). */
  drain(): Batch[] {
    const batches = this.queue.splice(0)
    if (this.building) batches.push(this.building)
    this.building = undefined
    return batches
  }

  /**
   * The batch appends are encoded into, created when there is none. A batch holding `sealAt` bytes
   * is sealed into the queue first: while an fdatasync runs, appends go on filling fresh buffers
   * instead of regrowing (and copying) one ever larger buffer.
   */
  private buildingBatch(): Batch {
    let batch = this.building
    if (batch && batch.length >= this.config.sealAt) {
      this.queue.push(batch)
      batch = undefined
    }
    if (!batch) {
      batch = this.newBatch(false, 0)
      this.building = batch
    }
    return batch
  }

  /**
   * Decides which batch `size` freshly encoded bytes at `building.buf[at..]` (one atomic group) belong
   * to, rotating to a new segment when the current one would overflow or has aged out; moves the
   * bytes there when that is a new batch.
   *
   * @returns the batch, whose `length` is where the group starts
   */
  private place(building: Batch, at: number, size: number, firstSeq: number): Batch {
    const { segmentSize, segmentMaxAgeMs } = this.config
    const plan = this.plan
    let batch = building
    if (plan.hasFrames) {
      const now = Number.isFinite(segmentMaxAgeMs) ? Date.now() : 0
      if (
        plan.size + size > segmentSize ||
        (Number.isFinite(segmentMaxAgeMs) && now - plan.createdAt >= segmentMaxAgeMs)
      ) {
        // Rotate: what is built so far goes to the old segment; this group starts a new one. A group
        // never spans segments, so a batch is atomic within one file.
        const createdAt = now || Date.now()
        if (at === 0) {
          // The group is all this batch holds: the batch itself starts the new segment, no copy.
          building.newSegment = true
          building.createdAt = createdAt
        } else {
          this.queue.push(building)
          batch = this.newBatch(true, createdAt)
          this.building = batch
          grow(batch, size)
          building.buf.copy(batch.buf, 0, at, at + size)
        }
        plan.firstSeq = firstSeq
        plan.size = this.headerSize
        plan.hasFrames = false
        plan.createdAt = createdAt
        this.planPoints = new SegmentPoints(this.headerSize, firstSeq)
        this.points.set(firstSeq, this.planPoints)
      }
    }
    if (batch.length === 0) batch.firstSeq = firstSeq
    this.planPoints.note(plan.size, firstSeq)
    plan.size += size
    plan.hasFrames = true
    return batch
  }

  private newBatch(newSegment: boolean, createdAt: number): Batch {
    const buf = this.spare ?? Buffer.allocUnsafe(this.nextCapacity)
    this.spare = undefined
    return {
      buf,
      length: 0,
      firstSeq: 0,
      lastSeq: 0,
      newSegment,
      createdAt,
      resolves: [],
      rejects: [],
      seqs: [],
    }
  }
}
