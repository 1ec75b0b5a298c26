/**
 * The commit loop: sequence numbers, group commit, sync policies, backpressure, rotation and the
 * failed state. One writer per WAL: it takes everything appended since its last write, writes it with
 * one call and, per policy, covers it with one fdatasync. Appends that arrive while a write or
 * fdatasync runs form the next batch: that is group commit. Batches are built by {@link BatchBuilder}.
 *
 * @internal
 */
import { type Batch, BatchBuilder } from './batch-builder.js'
import type { BlockCompressor } from './compression.js'
import { type ActiveSegment, createSegment } from './create-segment.js'
import { WalError } from './errors.js'
import type { Files } from './files.js'
import { markWriteStart } from './format.js'
import type { LogState } from './log-state.js'
import type { WalLogger } from './logger.js'
import { LatencyWindow } from './metrics.js'
import type { RecordCipher } from './record-cipher.js'
import type { AppendRecord } from './record-encoder.js'
import type { SegmentRef } from './scanner.js'
import { seekFileName, writeSeekFile } from './seek-file.js'
import type { FrameLocations, RawRecord, RecordShape, Serializer } from './serializer.js'

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
  serializer: Serializer<string, unknown, RecordShape>
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
  /** Seals record data with data keys (an encrypted log). */
  cipher?: RecordCipher | undefined
  /** Compresses each atomic group into a block. */
  compression?: BlockCompressor | undefined
}

/** What a writer starts from. */
export interface WriterInit {
  config: WriterConfig
  /** The log's state: the writer adds segments and advances the readable end. */
  state: LogState
  /** The open newest segment, positioned after its last committed frame. */
  active: ActiveSegment
  /** The last seq in the log. */
  lastSeq: number
  /** Whether the active segment already holds frames. */
  hasFrames: boolean
  /** Batch boundaries of the frames the active segment holds, when recovery noted them. */
  boundaries?: { readonly offsets: number[]; readonly seqs: number[] } | undefined
  /** Called when a segment is sealed, with its size and the next segment's creation time. */
  onSealed?: ((ref: SegmentRef, size: number, sealedAt: number) => void) | undefined
}

type Waiting =
  | {
      kind: 'group'
      inputs: readonly AppendRecord[]
      raw: boolean
      locations: FrameLocations | undefined
      resolve: (seq: number) => void
      reject: (err: Error) => void
    }
  | { kind: 'flush' | 'sync'; resolve: () => void; reject: (err: Error) => void }

interface SeqWaiter {
  seq: number
  resolve: () => void
  reject: (err: Error) => void
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

/** The commit loop of one WAL. */
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

  private active: ActiveSegment
  private readonly state: LogState
  private readonly config: WriterConfig
  private readonly builder: BatchBuilder
  private readonly onSealed: ((ref: SegmentRef, size: number, sealedAt: number) => void) | undefined
  private readonly waiting: Waiting[] = []
  private readonly flushWaiters: SeqWaiter[] = []
  private readonly syncWaiters: SeqWaiter[] = []
  private running = false
  private lastSyncAt = performance.now()
  private syncRequested = false
  private closed = false
  private timer: NodeJS.Timeout | undefined
  /** Seek files of sealed segments being written, one after the other, off the append path. */
  private seekWrites: Promise<void> = Promise.resolve()

  /** @param init - see {@link WriterInit} */
  constructor(init: WriterInit) {
    const { config, active, lastSeq } = init
    this.config = config
    this.state = init.state
    this.onSealed = init.onSealed
    this.active = active
    this.nextSeq = lastSeq + 1
    this.writtenSeq = lastSeq
    this.durableSeq = lastSeq
    this.failed = undefined
    this.timer = undefined
    this.builder = new BatchBuilder(
      {
        serializer: config.serializer,
        maxRecordSize: config.maxRecordSize,
        segmentSize: config.segmentSize,
        segmentMaxAgeMs: config.segmentMaxAgeMs,
        bufferSize: config.bufferSize,
        sealAt: config.sync === 'background' ? config.bufferSize : Number.POSITIVE_INFINITY,
        cipher: config.cipher,
        compression: config.compression,
      },
      {
        firstSeq: active.ref.firstSeq,
        size: active.size,
        hasFrames: init.hasFrames,
        createdAt: active.createdAt,
      },
      init.boundaries,
    )
    if (config.sync !== 'always') {
      this.timer = setInterval(() => this.requestSync(), config.syncIntervalMs)
      // An idle WAL must not keep the process alive; close() syncs whatever is left.
      this.timer.unref()
    }
  }

  /**
   * Appends records as one atomic group; resolves to the last seq once the policy allows.
   *
   * @param inputs - at least one record
   * @param raw - stored records (a replica's): seqs given, data already bytes
   * @param locations - when given, receives the records' frame locations before the promise resolves
   */
  append(inputs: readonly AppendRecord[], raw = false, locations?: FrameLocations): Promise<number> {
    const blocked = this.blocked()
    if (blocked) return blocked
    if (this.waiting.length > 0 || this.pendingBytes >= this.config.maxPendingBytes) {
      return new Promise((resolve, reject) =>
        this.waiting.push({ kind: 'group', inputs, raw, locations, resolve, reject }),
      )
    }
    return this.admit(inputs, raw, locations)
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
    this.rejectAll(WalError.CLOSED('the WAL was closed'))
    if (this.active.fd >= 0) {
      const fd = this.active.fd
      this.active.fd = -1
      try {
        await this.config.files.close(fd)
      } catch (err) {
        error ??= WalError.IO('closing the active segment failed', { cause: err })
      }
    }
    await this.seekWrites
    if (error) throw error
  }

  /** Bytes written to the active segment so far. */
  get activeSize(): number {
    return this.active.size
  }

  private blocked(): Promise<never> | undefined {
    if (this.failed) return Promise.reject(this.failed)
    if (this.closed) return Promise.reject(WalError.CLOSED('the WAL is closed'))
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

  private admit(inputs: readonly AppendRecord[], raw: boolean, locations?: FrameLocations): Promise<number> {
    return new Promise((resolve, reject) => this.admitInto(inputs, raw, locations, resolve, reject))
  }

  /**
   * Encodes a group into the batch being built and arranges for `resolve` to be called with its last
   * seq when the policy allows (or `reject` at once, if the group cannot be encoded). A group that
   * waited for admission is settled by its own caller's callbacks, with no extra promise in between,
   * so acknowledgements still arrive in seq order.
   */
  private admitInto(
    inputs: readonly AppendRecord[],
    raw: boolean,
    locations: FrameLocations | undefined,
    resolve: (seq: number) => void,
    reject: (err: Error) => void,
  ): void {
    if (raw) {
      const problem = rawSeqProblem(inputs as readonly RawRecord[], this.nextSeq)
      if (problem) {
        reject(WalError.INVALID_ARGUMENT(problem))
        return
      }
    }
    let batch: Batch
    try {
      batch = this.builder.admit(inputs, raw, this.nextSeq, this.durableSeq, locations)
    } catch (err) {
      reject(err as Error)
      return
    }
    const lastSeq = this.nextSeq + inputs.length - 1
    this.nextSeq = lastSeq + 1
    this.admitted(this.builder.admittedBytes, inputs.length)
    if (this.config.sync === 'background') {
      resolve(lastSeq)
      return
    }
    batch.resolves.push(resolve)
    batch.rejects.push(reject)
    batch.seqs.push(lastSeq)
  }

  private admitted(bytes: number, records: number): void {
    this.pendingBytes += bytes
    this.stats.appends += records
    this.stats.bytes += bytes
    // In 'background' mode, write once a buffer's worth is pending (queued batches included).
    // (Or once backpressure would hold appends: with maxPendingBytes below bufferSize, waiting for a
    // full buffer would stall them until the sync timer.)
    const { bufferSize, maxPendingBytes } = this.config
    if (this.config.sync !== 'background' || this.pendingBytes >= Math.min(bufferSize, maxPendingBytes)) {
      this.kick()
    }
  }

  /** Starts the writer loop (after the current tick, so synchronous appends share a batch). */
  private kick(): void {
    if (this.running || this.failed) return
    this.running = true
    queueMicrotask(() => void this.run())
  }

  private async run(): Promise<void> {
    let current: Batch | undefined
    try {
      for (;;) {
        current = this.builder.take()
        if (current) {
          await this.writeBatch(current)
          current = undefined
          // Group commit: in 'always' the next batch costs an fdatasync, so let the callers just
          // acknowledged finish their continuations first. Their next appends are often several
          // promise hops away (an event store's bookkeeping, the caller's own awaits); taken at once,
          // the batch would hold only the callers that were fewest hops away (measured: 256 appenders
          // through @waltz/eventstore filled 143 records per fdatasync instead of 255). One event-loop
          // turn is nothing next to an fdatasync; in the other policies it would halve a sequential
          // appender's rate, so they take the next batch at once.
          if (this.config.sync === 'always') await new Promise(setImmediate)
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
        err instanceof WalError ? err : WalError.IO('write failed; the WAL is now failed', { cause: err })
      if (current) for (const reject of current.rejects) reject(failure)
      this.fail(failure)
    }
    this.running = false
  }

  private async writeBatch(batch: Batch): Promise<void> {
    if (batch.newSegment) await this.rotate(batch.firstSeq, batch.createdAt)
    const active = this.active
    // Where this write's bytes begin: the scanner tells a lost sector from damage by it.
    markWriteStart(batch.buf, 0)
    this.config.files.writeSync(active.fd, batch.buf, 0, batch.length, active.size)
    active.size += batch.length
    this.pendingBytes -= batch.length
    this.stats.batches++
    this.writtenSeq = batch.lastSeq
    if (this.config.sync === 'always') await this.fdatasync()
    for (let i = 0; i < batch.resolves.length; i++) batch.resolves[i]!(batch.seqs[i]!)
    this.settle(this.flushWaiters, this.writtenSeq)
    this.builder.recycle(batch)
    this.state.advance({ segmentFirstSeq: active.ref.firstSeq, end: active.size, seq: batch.lastSeq })
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
      if (w.kind === 'group') this.admitInto(w.inputs, w.raw, w.locations, w.resolve, w.reject)
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
    this.writeSeekFile(old, firstSeq - 1)
    this.active = await createSegment(
      {
        files: this.config.files,
        dir: this.config.dir,
        serializerName: this.config.serializer.name,
        fileMode: this.config.fileMode,
      },
      firstSeq,
      createdAt,
    )
    this.state.addSegment(this.active.ref)
    this.stats.rotations++
    this.onSealed?.(old.ref, old.size, createdAt)
    this.config.logger.debug('rotated segment', { file: this.active.ref.path, firstSeq })
  }

  /**
   * Writes the seek file of a segment just sealed, in the background: appends never wait for it, and
   * a failure only costs later reads a walk (it is logged).
   */
  private writeSeekFile(sealed: ActiveSegment, lastSeq: number): void {
    const entries = this.builder.takePoints(sealed.ref.firstSeq, lastSeq)
    if (entries === undefined) return
    const { files, dir, fileMode, logger } = this.config
    const binding = { firstSeq: sealed.ref.firstSeq, createdAt: sealed.createdAt, size: sealed.size }
    this.seekWrites = this.seekWrites
      .then(() => writeSeekFile(files, dir, binding, entries, fileMode, () => this.state.has(sealed.ref)))
      .catch((err: Error) => {
        logger.warn('writing a seek file failed (reads walk the segment instead)', {
          file: seekFileName(binding.firstSeq),
          error: err.message,
        })
      })
  }

  private fail(failure: WalError): void {
    if (this.failed) return
    this.failed = failure
    this.config.logger.error('the WAL failed; reopen it to recover', { error: failure.message })
    this.rejectAll(failure)
  }

  private rejectAll(err: WalError): void {
    for (const b of this.builder.drain()) for (const reject of b.rejects) reject(err)
    for (const w of this.waiting.splice(0)) w.reject(err)
    for (const w of this.flushWaiters.splice(0)) w.reject(err)
    for (const w of this.syncWaiters.splice(0)) w.reject(err)
    this.pendingBytes = 0
  }
}

/** Why stored records cannot be appended at `nextSeq`, or undefined when their seqs continue the log. */
function rawSeqProblem(records: readonly RawRecord[], nextSeq: number): string | undefined {
  for (let i = 0; i < records.length; i++) {
    const seq = (records[i] as RawRecord | undefined)?.seq
    if (seq !== nextSeq + i) {
      return `appendRaw: record ${i} has seq ${String(seq)}, the log continues at ${nextSeq + i}`
    }
  }
  return undefined
}
