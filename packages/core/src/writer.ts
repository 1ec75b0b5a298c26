/**
 * The append pipeline: sequence numbers, batching, group commit, sync policies, backpressure, rotation
 * and the failed state. One writer loop per WAL: it takes everything appended since its last write,
 * writes it with one call and, per policy, covers it with one fdatasync. Appends that arrive while a
 * write or fdatasync runs form the next batch: that is group commit.
 *
 * @internal
 */
import { join } from 'node:path'
import { WalError } from './errors.js'
import type { Fd, Files } from './files.js'
import {
  encodeSegmentHeader,
  FRAME_HEADER_SIZE,
  segmentFileName,
  segmentHeaderSize,
  writeFrameHeader,
} from './format.js'
import type { WalLogger } from './logger.js'
import { LatencyWindow } from './metrics.js'
import type { SegmentRef } from './segment.js'
import type { EncodableRecord, Serializer } from './serializer.js'

/**
 * When an append's promise resolves:
 * - `'always'`: after an fdatasync covers the record (survives power loss). Concurrent appends share
 *   one write and one fdatasync (group commit).
 * - `'os-cache'`: after the record is written to the OS (survives a process crash); an fdatasync runs
 *   every `syncIntervalMs`.
 * - `'background'`: as soon as the record is buffered in memory (survives nothing until written); the
 *   buffer is written when it reaches `bufferSize`, and written and fdatasync'ed every `syncIntervalMs`.
 */
export type SyncPolicy = 'always' | 'os-cache' | 'background'

/** Everything the writer is configured with. */
export interface WriterConfig {
  files: Files
  dir: string
  serializer: Serializer<string, unknown, EncodableRecord>
  sync: SyncPolicy
  segmentSize: number
  segmentMaxAgeMs: number
  syncIntervalMs: number
  bufferSize: number
  maxRecordSize: number
  maxPendingBytes: number
  fileMode: number
  /** fdatasync with the blocking call on the main thread instead of the thread pool. */
  blockingSync: boolean
  logger: WalLogger
}

/** The segment being appended to. */
export interface ActiveSegment {
  ref: SegmentRef
  fd: Fd
  size: number
  createdAt: number
  headerSize: number
}

/** Where readers may read up to: everything in older segments, and `end` bytes of `firstSeq`'s. */
export interface ReadableEnd {
  segmentFirstSeq: number
  end: number
  seq: number
}

interface Batch {
  buf: Buffer
  length: number
  firstSeq: number
  lastSeq: number
  /** Rotate to a new segment whose first seq is `firstSeq` before writing this batch. */
  newSegment: boolean
  createdAt: number
  resolves: Array<(seq: number) => void>
  rejects: Array<(err: Error) => void>
  seqs: number[]
}

type Waiting =
  | { kind: 'one'; input: AppendRecord; resolve: (seq: number) => void; reject: (err: Error) => void }
  | {
      kind: 'batch'
      input: readonly AppendRecord[]
      resolve: (seq: number) => void
      reject: (err: Error) => void
    }
  | { kind: 'flush' | 'sync'; resolve: () => void; reject: (err: Error) => void }

interface SeqWaiter {
  seq: number
  resolve: () => void
  reject: (err: Error) => void
}

/** What `append` accepts, untyped (the facade types it). */
export interface AppendRecord {
  type: string
  data: unknown
  time?: number
}

/** Counters exposed through `metrics()`. */
export interface WriterStats {
  appends: number
  bytes: number
  batches: number
  fsyncs: number
  rotations: number
  fsyncLatency: LatencyWindow
}

/** The append pipeline of one WAL. */
export class Writer {
  /** The next seq to assign. */
  nextSeq: number
  /** Highest seq written to the OS. */
  writtenSeq: number
  /** Highest seq covered by an fdatasync. */
  durableSeq: number
  /** Bytes appended but not yet written. */
  pendingBytes = 0
  /** The failure that closed the pipeline, if any. */
  failed: WalError | undefined
  readonly stats: WriterStats = {
    appends: 0,
    bytes: 0,
    batches: 0,
    fsyncs: 0,
    rotations: 0,
    fsyncLatency: new LatencyWindow(),
  }
  readonly readable: ReadableEnd

  private active: ActiveSegment
  private readonly segments: SegmentRef[]
  private readonly config: WriterConfig
  private readonly onReadable: () => void
  private building: Batch | undefined
  private spare: Buffer | undefined
  private readonly queue: Batch[] = []
  private readonly waiting: Waiting[] = []
  private readonly flushWaiters: SeqWaiter[] = []
  private readonly syncWaiters: SeqWaiter[] = []
  private running = false
  private lastSyncAt = performance.now()
  // Capacity of a fresh write buffer: the size of recent batches, so they need not regrow.
  private nextCapacity: number
  // Payload lengths of the group being admitted by appendBatch (reused).
  private lengths: number[] = []
  private syncRequested = false
  private closed = false
  private timer: NodeJS.Timeout | undefined
  // The logical end of the log, including what is queued: drives rotation decisions at append time.
  private projectedSize: number
  private projectedFrames: number
  private projectedCreatedAt: number

  /**
   * @param config - options
   * @param segments - the WAL's segment list (the writer appends to it on rotation)
   * @param active - the open tail segment, positioned after its last valid frame
   * @param lastSeq - the last seq in the log
   * @param frames - whether the active segment already holds frames
   * @param onReadable - called when newly written records become readable
   */
  constructor(
    config: WriterConfig,
    segments: SegmentRef[],
    active: ActiveSegment,
    lastSeq: number,
    frames: boolean,
    onReadable: () => void,
  ) {
    this.config = config
    this.segments = segments
    this.active = active
    this.onReadable = onReadable
    this.nextSeq = lastSeq + 1
    this.writtenSeq = lastSeq
    this.durableSeq = lastSeq
    this.failed = undefined
    this.building = undefined
    this.spare = undefined
    this.nextCapacity = config.bufferSize
    this.timer = undefined
    this.readable = { segmentFirstSeq: active.ref.firstSeq, end: active.size, seq: lastSeq }
    this.projectedSize = active.size
    this.projectedFrames = frames ? 1 : 0
    this.projectedCreatedAt = active.createdAt
    if (config.sync !== 'always') {
      this.timer = setInterval(() => this.requestSync(), config.syncIntervalMs)
      // An idle WAL must not keep the process alive; close() syncs whatever is left.
      this.timer.unref()
    }
  }

  /** Appends one record; see {@link SyncPolicy} for when the promise resolves. */
  append(input: AppendRecord): Promise<number> {
    const blocked = this.blocked()
    if (blocked) return blocked
    if (this.waiting.length > 0 || this.pendingBytes >= this.config.maxPendingBytes) {
      return new Promise((resolve, reject) => this.waiting.push({ kind: 'one', input, resolve, reject }))
    }
    return this.admitOne(input)
  }

  /** Appends records as one atomic batch; resolves to the last seq. */
  appendBatch(inputs: readonly AppendRecord[]): Promise<number> {
    const blocked = this.blocked()
    if (blocked) return blocked
    if (inputs.length === 0) {
      return Promise.reject(new WalError('WAL_INVALID_ARGUMENT', 'appendBatch needs at least one record'))
    }
    if (this.waiting.length > 0 || this.pendingBytes >= this.config.maxPendingBytes) {
      return new Promise((resolve, reject) =>
        this.waiting.push({ kind: 'batch', input: inputs, resolve, reject }),
      )
    }
    return this.admitBatch(inputs)
  }

  /** Resolves once everything appended before the call is written to the OS. */
  flush(): Promise<void> {
    return this.barrier('flush')
  }

  /** Resolves once everything appended before the call is covered by an fdatasync. */
  sync(): Promise<void> {
    return this.barrier('sync')
  }

  /** Makes everything durable, stops the timer and closes the segment. Rejects later appends. */
  async close(): Promise<void> {
    if (this.closed) return
    let error: unknown
    try {
      if (!this.failed) await this.sync()
    } catch (err) {
      error = err
    }
    this.closed = true
    if (this.timer) clearInterval(this.timer)
    this.rejectAll(new WalError('WAL_CLOSED', 'the WAL was closed'))
    if (this.active.fd >= 0) {
      const fd = this.active.fd
      this.active.fd = -1
      try {
        await this.config.files.close(fd)
      } catch (err) {
        error ??= new WalError('WAL_IO', 'closing the active segment failed', { cause: err })
      }
    }
    if (error) throw error
  }

  /** The segment being appended to. */
  get activeSegment(): ActiveSegment {
    return this.active
  }

  private blocked(): Promise<never> | undefined {
    if (this.failed) return Promise.reject(this.failed)
    if (this.closed) return Promise.reject(new WalError('WAL_CLOSED', 'the WAL is closed'))
    return undefined
  }

  private barrier(kind: 'flush' | 'sync'): Promise<void> {
    const blocked = this.blocked()
    if (blocked) return blocked
    if (this.waiting.length > 0) {
      return new Promise((resolve, reject) => this.waiting.push({ kind, resolve, reject }))
    }
    return new Promise((resolve, reject) => this.addSeqWaiter(kind, resolve, reject))
  }

  private addSeqWaiter(kind: 'flush' | 'sync', resolve: () => void, reject: (err: Error) => void): void {
    const seq = this.nextSeq - 1
    if ((kind === 'flush' ? this.writtenSeq : this.durableSeq) >= seq) {
      resolve()
      return
    }
    ;(kind === 'flush' ? this.flushWaiters : this.syncWaiters).push({ seq, resolve, reject })
    if (kind === 'sync') this.syncRequested = true
    this.kick()
  }

  private requestSync(): void {
    if (this.failed || this.closed) return
    if (this.durableSeq < this.nextSeq - 1) {
      this.syncRequested = true
      this.kick()
    }
  }

  /**
   * Encodes `input` as a frame payload straight into `batch.buf` at `at + FRAME_HEADER_SIZE` (through
   * the serializer's `encodeInto` when it has one, else `encode` and one copy), growing the buffer as
   * needed. Nothing is committed: `batch.length` is unchanged, so a failure leaves the batch as it was.
   *
   * @returns the payload length
   */
  private encodeAt(batch: Batch, at: number, input: AppendRecord): number {
    const record = (
      input.time === undefined ? { type: input.type, time: Date.now(), data: input.data } : input
    ) as EncodableRecord
    const { serializer, maxRecordSize } = this.config
    const start = at + FRAME_HEADER_SIZE
    let length: number
    try {
      if (serializer.encodeInto) {
        let end = serializer.encodeInto(record, batch.buf, start)
        while (end < 0) {
          if (batch.buf.length - start > maxRecordSize) {
            throw new WalError(
              'WAL_RECORD_TOO_LARGE',
              `a '${input.type}' record encodes to over ${maxRecordSize} bytes`,
            )
          }
          grow(batch, batch.buf.length * 2)
          end = serializer.encodeInto(record, batch.buf, start)
        }
        length = end - start
      } else {
        const bytes = serializer.encode(record)
        if (!(bytes instanceof Uint8Array)) throw new TypeError('encode returned no Uint8Array')
        length = bytes.byteLength
        if (length > 0 && length <= maxRecordSize) {
          grow(batch, start + length)
          batch.buf.set(bytes, start)
        }
      }
    } catch (err) {
      if (err instanceof WalError) throw err
      throw new WalError('WAL_SERIALIZER_ERROR', `encoding a '${input.type}' record failed`, { cause: err })
    }
    if (length === 0) {
      throw new WalError('WAL_SERIALIZER_ERROR', `serializer returned no bytes for a '${input.type}' record`)
    }
    if (length > maxRecordSize) {
      throw new WalError(
        'WAL_RECORD_TOO_LARGE',
        `a '${input.type}' record encodes to ${length} bytes, over maxRecordSize ${maxRecordSize}`,
      )
    }
    return length
  }

  private admitOne(input: AppendRecord): Promise<number> {
    const building = this.buildingBatch()
    const at = building.length
    let length: number
    try {
      length = this.encodeAt(building, at, input)
    } catch (err) {
      return Promise.reject(err)
    }
    const size = FRAME_HEADER_SIZE + length
    const batch = this.place(building, at, size, 1)
    const seq = this.nextSeq++
    batch.length = writeFrameHeader(batch.buf, batch.length, seq, 0, length)
    batch.lastSeq = seq
    this.admitted(size, 1)
    if (this.config.sync === 'background') return Promise.resolve(seq)
    return new Promise((resolve, reject) => {
      batch.resolves.push(resolve)
      batch.rejects.push(reject)
      batch.seqs.push(seq)
    })
  }

  private admitBatch(inputs: readonly AppendRecord[]): Promise<number> {
    // Encode everything first, back to back after the batch's committed bytes: a record that fails to
    // encode rejects the whole batch, using no seq and leaving nothing behind.
    const building = this.buildingBatch()
    const at = building.length
    const lengths = this.lengths.length >= inputs.length ? this.lengths : new Array<number>(inputs.length)
    let cursor = at
    try {
      for (let i = 0; i < inputs.length; i++) {
        const length = this.encodeAt(building, cursor, inputs[i]!)
        lengths[i] = length
        cursor += FRAME_HEADER_SIZE + length
      }
    } catch (err) {
      return Promise.reject(err)
    }
    this.lengths = lengths
    const size = cursor - at
    const batch = this.place(building, at, size, inputs.length)
    for (let i = 0; i < inputs.length; i++) {
      batch.length = writeFrameHeader(
        batch.buf,
        batch.length,
        this.nextSeq++,
        inputs.length - 1 - i,
        lengths[i]!,
      )
    }
    const lastSeq = this.nextSeq - 1
    batch.lastSeq = lastSeq
    this.admitted(size, inputs.length)
    if (this.config.sync === 'background') return Promise.resolve(lastSeq)
    return new Promise((resolve, reject) => {
      batch.resolves.push(resolve)
      batch.rejects.push(reject)
      batch.seqs.push(lastSeq)
    })
  }

  /**
   * The batch appends are encoded into, created when there is none. In `'background'` mode a batch
   * holding a buffer's worth is sealed into the queue first: while an fdatasync runs, appends go on
   * filling fresh buffers instead of regrowing (and copying) one ever larger buffer.
   */
  private buildingBatch(): Batch {
    let batch = this.building
    if (batch && this.config.sync === 'background' && batch.length >= this.config.bufferSize) {
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
   * Decides which batch `size` freshly encoded bytes at `building.buf[at..]` (`frames` frames, one
   * atomic group) belong to, rotating to a new segment when the current one would overflow or has
   * aged out; moves the bytes there when that is a new batch.
   *
   * @returns the batch, whose `length` is where the group starts
   */
  private place(building: Batch, at: number, size: number, frames: number): Batch {
    const { segmentSize, segmentMaxAgeMs } = this.config
    let batch = building
    if (this.projectedFrames > 0) {
      const now = Number.isFinite(segmentMaxAgeMs) ? Date.now() : 0
      if (
        this.projectedSize + size > segmentSize ||
        (Number.isFinite(segmentMaxAgeMs) && now - this.projectedCreatedAt >= segmentMaxAgeMs)
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
        this.projectedSize = segmentHeaderSize(this.config.serializer.name)
        this.projectedFrames = 0
        this.projectedCreatedAt = createdAt
      }
    }
    if (batch.length === 0) batch.firstSeq = this.nextSeq
    this.projectedSize += size
    this.projectedFrames += frames
    return batch
  }

  private newBatch(newSegment: boolean, createdAt: number): Batch {
    const buf = this.spare ?? Buffer.allocUnsafe(this.nextCapacity)
    this.spare = undefined
    return {
      buf,
      length: 0,
      firstSeq: this.nextSeq,
      lastSeq: this.nextSeq - 1,
      newSegment,
      createdAt,
      resolves: [],
      rejects: [],
      seqs: [],
    }
  }

  private admitted(bytes: number, records: number): void {
    this.pendingBytes += bytes
    this.stats.appends += records
    this.stats.bytes += bytes
    // In 'background' mode, write once a buffer's worth is pending (queued batches included).
    if (this.config.sync !== 'background' || this.pendingBytes >= this.config.bufferSize) {
      this.kick()
    }
  }

  /** Starts the writer loop (after the current tick, so synchronous appends share a batch). */
  private kick(): void {
    if (this.running || this.failed) return
    this.running = true
    queueMicrotask(() => void this.run())
  }

  private takeBuilding(): Batch | undefined {
    const b = this.building
    if (!b || b.length === 0) return undefined
    this.building = undefined
    return b
  }

  private async run(): Promise<void> {
    let current: Batch | undefined
    try {
      for (;;) {
        current = this.queue.shift() ?? this.takeBuilding()
        if (current) {
          await this.writeBatch(current)
          current = undefined
          // The interval fdatasync also runs while appends keep this loop busy (a chain of appends
          // can keep the event loop from running the timer): the loss bound of the policy holds.
          if (
            this.config.sync !== 'always' &&
            this.durableSeq < this.writtenSeq &&
            performance.now() - this.lastSyncAt >= this.config.syncIntervalMs
          ) {
            await this.fdatasync()
          }
        } else if (this.syncRequested && this.durableSeq < this.writtenSeq) {
          await this.fdatasync()
        } else {
          break
        }
      }
      this.syncRequested = false
    } catch (err) {
      const failure =
        err instanceof WalError
          ? err
          : new WalError('WAL_IO', 'write failed; the WAL is now failed', { cause: err })
      if (current) for (const reject of current.rejects) reject(failure)
      this.fail(failure)
    }
    this.running = false
  }

  private async writeBatch(batch: Batch): Promise<void> {
    if (batch.newSegment) await this.rotate(batch.firstSeq, batch.createdAt)
    const active = this.active
    this.config.files.writeSync(active.fd, batch.buf, 0, batch.length, active.size)
    active.size += batch.length
    this.pendingBytes -= batch.length
    this.stats.batches++
    this.writtenSeq = batch.lastSeq
    if (this.config.sync === 'always') await this.fdatasync()
    for (let i = 0; i < batch.resolves.length; i++) batch.resolves[i]!(batch.seqs[i]!)
    this.readable.segmentFirstSeq = active.ref.firstSeq
    this.readable.end = active.size
    this.readable.seq = batch.lastSeq
    this.settle(this.flushWaiters, this.writtenSeq)
    // Keep the buffer for the next batch (two circulate: one filling, one being written), so a steady
    // stream of large batches does not regrow a buffer from bufferSize every time.
    if (batch.buf.length <= SPARE_LIMIT) this.spare = batch.buf
    this.nextCapacity = Math.min(SPARE_LIMIT, Math.max(this.config.bufferSize, batch.buf.length))
    this.onReadable()
    this.admitWaiting()
  }

  private async fdatasync(): Promise<void> {
    const target = this.writtenSeq
    const start = performance.now()
    if (this.config.blockingSync) this.config.files.fdatasyncSync(this.active.fd)
    else await this.config.files.fdatasync(this.active.fd)
    this.lastSyncAt = performance.now()
    this.stats.fsyncLatency.add(this.lastSyncAt - start)
    this.stats.fsyncs++
    this.durableSeq = target
    this.settle(this.syncWaiters, target)
    // Let the event loop turn once per blocking fdatasync: a sequential appender would otherwise
    // chain append -> write -> fdatasync through microtasks alone, and timers and I/O would wait
    // for the whole run of appends instead of one fdatasync.
    if (this.config.blockingSync) await new Promise(setImmediate)
  }

  private settle(waiters: SeqWaiter[], reached: number): void {
    let n = 0
    while (n < waiters.length && waiters[n]!.seq <= reached) waiters[n++]!.resolve()
    if (n > 0) waiters.splice(0, n)
  }

  /** Admits appends that waited for pending bytes to drop, in arrival order. */
  private admitWaiting(): void {
    while (this.waiting.length > 0 && this.pendingBytes < this.config.maxPendingBytes) {
      const w = this.waiting.shift()!
      if (w.kind === 'one') this.admitOne(w.input).then(w.resolve, w.reject)
      else if (w.kind === 'batch') this.admitBatch(w.input).then(w.resolve, w.reject)
      else this.addSeqWaiter(w.kind, w.resolve, w.reject)
    }
  }

  /**
   * Seals the active segment and starts a new one. The old segment is fdatasync'ed before the new
   * file exists, so only the newest segment can ever hold a torn tail.
   */
  private async rotate(firstSeq: number, createdAt: number): Promise<void> {
    const old = this.active
    if (this.durableSeq < this.writtenSeq) await this.fdatasync()
    const fd = old.fd
    old.fd = -1
    await this.config.files.close(fd)
    this.active = await createSegment(this.config, firstSeq, createdAt)
    this.segments.push(this.active.ref)
    this.stats.rotations++
    this.config.logger.debug('rotated segment', { file: this.active.ref.path, firstSeq })
  }

  private fail(failure: WalError): void {
    if (this.failed) return
    this.failed = failure
    this.config.logger.error('the WAL failed; reopen it to recover', { error: failure.message })
    this.rejectAll(failure)
  }

  private rejectAll(err: WalError): void {
    const batches = this.queue.splice(0)
    if (this.building) batches.push(this.building)
    this.building = undefined
    for (const b of batches) for (const reject of b.rejects) reject(err)
    for (const w of this.waiting.splice(0)) w.reject(err)
    for (const w of this.flushWaiters.splice(0)) w.reject(err)
    for (const w of this.syncWaiters.splice(0)) w.reject(err)
    this.pendingBytes = 0
  }
}

/** The largest write buffer kept for reuse between batches. */
const SPARE_LIMIT = 16 * 1024 * 1024

/** Makes `batch.buf` hold at least `capacity` bytes, keeping all of its current contents. */
function grow(batch: Batch, capacity: number): void {
  if (batch.buf.length >= capacity) return
  let size = batch.buf.length * 2
  while (size < capacity) size *= 2
  const grown = Buffer.allocUnsafe(size)
  batch.buf.copy(grown)
  batch.buf = grown
}

/**
 * Creates a segment file with its header, durably: header fdatasync'ed, then the directory fsync'ed.
 *
 * @returns the open segment, positioned after its header
 */
export async function createSegment(
  config: Pick<WriterConfig, 'files' | 'dir' | 'serializer' | 'fileMode'>,
  firstSeq: number,
  createdAt: number,
): Promise<ActiveSegment> {
  const { files, dir } = config
  const path = join(dir, segmentFileName(firstSeq))
  const header = encodeSegmentHeader(firstSeq, createdAt, config.serializer.name)
  const fd = await files.open(path, 'wx', config.fileMode)
  try {
    await files.write(fd, header, 0, header.length, 0)
    await files.fdatasync(fd)
    await files.syncDir(dir)
  } catch (err) {
    await files.close(fd).catch(() => {})
    throw err
  }
  return { ref: { firstSeq, path }, fd, size: header.length, createdAt, headerSize: header.length }
}
