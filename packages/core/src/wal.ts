/**
 * The public facade: `Wal.open` wires recovery, the lock, the writer and readers, and owns the options
 * and their defaults.
 */
import { dirname, resolve } from 'node:path'
import { WalError } from './errors.js'
import { type Files, nodeFiles } from './files.js'
import { acquireLock, type Lock } from './lock.js'
import { silentLogger, type WalLogger } from './logger.js'
import { type ReadSource, RecordReader, type StoredFrame } from './reader.js'
import { type RecoveryReport, recover } from './recovery.js'
import { expectHeader, FrameReader, listSegments, readHeader, type SegmentRef } from './segment.js'
import {
  type AppendInput,
  bytesSerializer,
  type EncodableRecord,
  type Serializer,
  type WalRecordOf,
} from './serializer.js'
import { type AppendRecord, createSegment, type ReadableEnd, type SyncPolicy, Writer } from './writer.js'

const MiB = 1024 * 1024

/** Defaults of {@link WalOptions}; documented in the README. */
export const WAL_DEFAULTS: {
  /** {@link WalOptions.segmentSize}: 10 MiB. */
  readonly segmentSize: number
  /** {@link WalOptions.segmentMaxAgeMs}: `Infinity` (segments never rotate by age). */
  readonly segmentMaxAgeMs: number
  /** {@link WalOptions.sync}: `'os-cache'`. */
  readonly sync: SyncPolicy
  /** {@link WalOptions.syncIntervalMs}: 1000 ms. */
  readonly syncIntervalMs: number
  /** {@link WalOptions.bufferSize}: 64 KiB. */
  readonly bufferSize: number
  /** {@link WalOptions.maxRecordSize}: 16 MiB. */
  readonly maxRecordSize: number
  /** {@link WalOptions.maxPendingBytes}: 64 MiB. */
  readonly maxPendingBytes: number
  /** {@link WalOptions.fileMode}: `0o600` (owner read/write). */
  readonly fileMode: number
  /** {@link WalOptions.blockingSync}: `false`. */
  readonly blockingSync: boolean
} = Object.freeze({
  segmentSize: 10 * MiB,
  segmentMaxAgeMs: Number.POSITIVE_INFINITY,
  sync: 'os-cache',
  syncIntervalMs: 1000,
  bufferSize: 64 * 1024,
  maxRecordSize: 16 * MiB,
  maxPendingBytes: 64 * MiB,
  fileMode: 0o600,
  blockingSync: false,
})

/** How often a read-only WAL looks for new records while tailing. */
const READ_ONLY_POLL_MS = 100

/**
 * Options of {@link Wal.open}. Only `dir` is required.
 *
 * @typeParam Rec - the record union, inferred from `serializer`
 */
export interface WalOptions<Rec extends EncodableRecord = EncodableRecord<string, Uint8Array>> {
  /** The directory holding the segments (created if missing, unless `readOnly`). */
  dir: string
  /** Encodes records; default {@link bytesSerializer} (data is a `Uint8Array`). */
  serializer?: Serializer<string, unknown, Rec>
  /** Rotate to a new segment when the current one would exceed this many bytes. Default 10 MiB. */
  segmentSize?: number
  /** Rotate when the current segment is older than this (ms), checked at append. Default: never. */
  segmentMaxAgeMs?: number
  /** When appends resolve; see {@link SyncPolicy}. Default `'os-cache'`. */
  sync?: SyncPolicy
  /** Interval of the background fdatasync for `'os-cache'` and `'background'`. Default 1000 ms. */
  syncIntervalMs?: number
  /**
   * Run the writer's fdatasync on the main thread (`fdatasyncSync`) instead of libuv's thread pool.
   * Saves the pool's round trip (tens of microseconds) on every fdatasync, so one sequential `'always'`
   * appender gets closer to the disk's own latency; but the event loop, and everything else in the
   * process, stops for as long as each fdatasync takes (milliseconds on many disks). The writer lets
   * the event loop turn once after each fdatasync, so timers and I/O that became due meanwhile run
   * then, and the appends they make share the next fdatasync (group commit still works). For a
   * process that does little besides appending. Default `false`.
   */
  blockingSync?: boolean
  /** Initial size of the write buffer; in `'background'` mode, bytes buffered before a write. Default 64 KiB. */
  bufferSize?: number
  /** Largest encoded record in bytes; a larger length on disk is corruption. Default 16 MiB. */
  maxRecordSize?: number
  /** Bytes appended but not yet written above which `append` waits (backpressure). Default 64 MiB. */
  maxPendingBytes?: number
  /** Permission bits of the files the WAL creates (segments, lock). Default `0o600`: owner read/write. */
  fileMode?: number
  /**
   * The seq of the first record when the directory holds no log yet (a replica continuing another
   * log). Ignored when segments exist. Default 1.
   */
  firstSeq?: number
  /** Open for reading only: no lock, no recovery writes, appends fail with `WAL_READ_ONLY`. */
  readOnly?: boolean
  /** Where to report recovery, rotation and failures. Default: silent. */
  logger?: WalLogger
  /**
   * The file operations to use (tests substitute recording or failing ones).
   * @internal
   */
  files?: Files
}

/** Counters and gauges from {@link Wal.metrics}. */
export interface WalMetrics {
  /** Records appended since open. */
  appends: number
  /** Frame bytes appended since open. */
  bytes: number
  /** Write calls made by the writer loop (each covers one group of appends). */
  batchesWritten: number
  /** fdatasync calls made. */
  fsyncs: number
  /** fdatasync latency over the last 1024 calls, in milliseconds. */
  fsyncLatencyMs: {
    /** The median. */
    p50: number
    /** The 99th percentile. */
    p99: number
  }
  /** Segment files in the log. */
  segments: number
  /** Rotations since open. */
  rotations: number
  /** Bytes appended but not yet written. */
  pendingBytes: number
  /** The last seq assigned (appended, possibly not yet written). */
  lastSeq: number
  /** The highest seq written to the OS: it survives a process crash. */
  writtenSeq: number
  /** The highest seq covered by an fdatasync: it survives an OS crash or power loss. */
  durableSeq: number
  /** What recovery did on open. */
  recovery: RecoveryReport
}

/** Options of {@link Wal.records}. */
export interface RecordsOptions {
  /** First seq to yield (inclusive). Default: the first stored record. */
  from?: number
  /** Last seq to yield (inclusive). Default: the last record readable when reading reaches it. */
  to?: number
}

/** Options of {@link Wal.tail}. */
export interface TailOptions {
  /** First seq to yield (inclusive). Default: the next record to be appended. */
  from?: number
  /** Stops the iteration (it ends without error). */
  signal?: AbortSignal
}

function checkSeq(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new WalError('WAL_INVALID_ARGUMENT', `${name} must be a non-negative safe integer, got ${value}`)
  }
}

function positive(name: string, value: number, allowInfinity = false): number {
  if (!(value > 0) || (!allowInfinity && !Number.isFinite(value))) {
    throw new WalError('WAL_INVALID_ARGUMENT', `${name} must be a positive number, got ${value}`)
  }
  return value
}

/** A byte count: a safe integer of at least `minimum`. */
function byteCount(name: string, value: number, minimum: number): number {
  if (!Number.isSafeInteger(value) || value < minimum) {
    throw new WalError(
      'WAL_INVALID_ARGUMENT',
      `${name} must be an integer of at least ${minimum}, got ${value}`,
    )
  }
  return value
}

/**
 * A write-ahead log: an append-only sequence of typed records in CRC-checked segment files.
 *
 * @typeParam Rec - the record union (`type` and `data`), from the serializer
 * @example
 * ```ts
 * const wal = await Wal.open({ dir: './data', sync: 'always' })
 * const seq = await wal.append({ type: 'greeting', data: new TextEncoder().encode('hi') })
 * for await (const record of wal.records({ from: 1 })) console.log(record.seq, record.type)
 * await wal.close()
 * ```
 */
export class Wal<Rec extends EncodableRecord = EncodableRecord<string, Uint8Array>> {
  /** The directory of the log. */
  readonly dir: string
  /** Whether this instance may only read. */
  readonly readOnly: boolean
  /** What recovery found and did when this instance opened. */
  readonly recovery: RecoveryReport
  /** The serializer's name, as stored in segment headers. */
  readonly serializerName: string
  /** The serializer records are encoded and decoded with. */
  readonly serializer: Serializer<string, unknown, Rec>

  private readonly source: ReadSource
  private readonly segments: SegmentRef[]
  private readonly writer: Writer | undefined
  private readonly lock: Lock | undefined
  private readonly files: Files
  private readonly logger: WalLogger
  private readonly options: Required<
    Omit<WalOptions<Rec>, 'files' | 'logger' | 'serializer' | 'readOnly' | 'firstSeq'>
  >
  // Read-only instances: how far the newest segment has been validated.
  private readOnlyEnd: ReadableEnd
  private closed = false
  private changed: { promise: Promise<void>; resolve: () => void }
  private truncating: Promise<unknown> = Promise.resolve()
  private refreshing: Promise<void> | undefined
  private closing: Promise<void> | undefined

  private constructor(init: {
    options: WalOptions<Rec>
    files: Files
    segments: SegmentRef[]
    writer: Writer | undefined
    lock: Lock | undefined
    recovery: RecoveryReport
    readOnlyEnd: ReadableEnd
    serializer: Serializer<string, unknown, EncodableRecord>
    resolved: Wal<Rec>['options']
  }) {
    this.dir = init.options.dir
    this.readOnly = init.options.readOnly === true
    this.recovery = init.recovery
    this.serializerName = init.serializer.name
    this.serializer = init.serializer as Serializer<string, unknown, Rec>
    this.segments = init.segments
    this.writer = init.writer
    this.lock = init.lock
    this.files = init.files
    this.logger = init.options.logger ?? silentLogger
    this.options = init.resolved
    this.readOnlyEnd = init.readOnlyEnd
    this.changed = deferred()
    this.source = {
      files: init.files,
      serializer: init.serializer,
      maxRecordSize: init.resolved.maxRecordSize,
      segments: init.segments,
      bound: (ref) => this.bound(ref),
    }
  }

  /**
   * Opens (or creates) the log in `options.dir`: takes the writer lock, recovers the newest segment
   * (cutting a torn tail, reported in {@link Wal.recovery}) and positions appends after it.
   *
   * @param options - see {@link WalOptions}; only `dir` is required
   * @returns the open log
   * @throws WalError `WAL_LOCKED` (another live writer), `WAL_SERIALIZER_MISMATCH`, `WAL_CORRUPT`,
   *   `WAL_FORMAT_UNSUPPORTED`, `WAL_INVALID_ARGUMENT`, `WAL_IO`
   * @example
   * ```ts
   * const wal = await Wal.open({ dir: './events', serializer: jsonSerializer({ schemas }), sync: 'always' })
   * ```
   */
  static async open<Rec extends EncodableRecord = EncodableRecord<string, Uint8Array>>(
    options: WalOptions<Rec>,
  ): Promise<Wal<Rec>> {
    const files = options.files ?? nodeFiles
    const logger = options.logger ?? silentLogger
    const serializer = (options.serializer ?? bytesSerializer()) as Serializer<
      string,
      unknown,
      EncodableRecord
    >
    const nameBytes = Buffer.byteLength(serializer.name ?? '')
    if (nameBytes < 1 || nameBytes > 255) {
      throw new WalError('WAL_INVALID_ARGUMENT', 'serializer.name must be 1 to 255 UTF-8 bytes')
    }
    const resolved = {
      dir: options.dir,
      segmentSize: byteCount('segmentSize', options.segmentSize ?? WAL_DEFAULTS.segmentSize, 64),
      segmentMaxAgeMs: positive(
        'segmentMaxAgeMs',
        options.segmentMaxAgeMs ?? WAL_DEFAULTS.segmentMaxAgeMs,
        true,
      ),
      sync: options.sync ?? WAL_DEFAULTS.sync,
      syncIntervalMs: positive('syncIntervalMs', options.syncIntervalMs ?? WAL_DEFAULTS.syncIntervalMs),
      bufferSize: byteCount('bufferSize', options.bufferSize ?? WAL_DEFAULTS.bufferSize, 64),
      maxRecordSize: byteCount('maxRecordSize', options.maxRecordSize ?? WAL_DEFAULTS.maxRecordSize, 1),
      maxPendingBytes: byteCount(
        'maxPendingBytes',
        options.maxPendingBytes ?? WAL_DEFAULTS.maxPendingBytes,
        1,
      ),
      fileMode: options.fileMode ?? WAL_DEFAULTS.fileMode,
      blockingSync: options.blockingSync ?? WAL_DEFAULTS.blockingSync,
    }
    if (
      options.firstSeq !== undefined &&
      !(Number.isSafeInteger(options.firstSeq) && options.firstSeq >= 1)
    ) {
      throw new WalError(
        'WAL_INVALID_ARGUMENT',
        `firstSeq must be a positive safe integer, got ${options.firstSeq}`,
      )
    }
    if (!Number.isInteger(resolved.fileMode) || resolved.fileMode < 0 || resolved.fileMode > 0o777) {
      throw new WalError(
        'WAL_INVALID_ARGUMENT',
        `fileMode must be permission bits (0 to 0o777), got ${resolved.fileMode}`,
      )
    }
    if (!['always', 'os-cache', 'background'].includes(resolved.sync)) {
      throw new WalError('WAL_INVALID_ARGUMENT', `sync must be 'always', 'os-cache' or 'background'`)
    }
    if (typeof resolved.blockingSync !== 'boolean') {
      throw new WalError('WAL_INVALID_ARGUMENT', 'blockingSync must be a boolean')
    }
    if (resolved.maxRecordSize > 0xffffffff) {
      throw new WalError('WAL_INVALID_ARGUMENT', 'maxRecordSize must fit in 32 bits')
    }
    const readOnly = options.readOnly === true
    let lock: Lock | undefined
    if (!readOnly) {
      try {
        const created = await files.mkdir(options.dir)
        // A new directory's entry lives in its parent: fsync every parent from the first one
        // created down, or the whole log could vanish with a power cut.
        if (created !== undefined) {
          for (let d = resolve(options.dir); d !== dirname(resolve(created)); d = dirname(d)) {
            await files.syncDir(dirname(d))
          }
        }
      } catch (err) {
        throw new WalError('WAL_IO', `cannot create ${options.dir}`, { cause: err, file: options.dir })
      }
      lock = acquireLock(options.dir, resolved.fileMode)
    }
    try {
      const recovered = await recover({
        files,
        dir: options.dir,
        serializerName: serializer.name,
        maxRecordSize: resolved.maxRecordSize,
        readOnly,
        logger,
      })
      const { segments, tail } = recovered
      let writer: Writer | undefined
      let readOnlyEnd: ReadableEnd = { segmentFirstSeq: 0, end: 0, seq: recovered.nextSeq - 1 }
      if (readOnly) {
        if (tail) {
          await files.close(tail.fd)
          readOnlyEnd = { segmentFirstSeq: tail.ref.firstSeq, end: tail.validEnd, seq: tail.lastSeq }
        }
      } else {
        const writerConfig = { ...resolved, files, serializer, logger }
        let active: Awaited<ReturnType<typeof createSegment>>
        if (tail) {
          active = {
            ref: tail.ref,
            fd: tail.fd,
            size: tail.validEnd,
            createdAt: tail.header.createdAt,
            headerSize: tail.header.headerSize,
          }
        } else {
          const firstSeq = recovered.report.segments === 0 ? (options.firstSeq ?? 1) : recovered.nextSeq
          active = await createSegment(writerConfig, firstSeq, Date.now())
          segments.push(active.ref)
        }
        const lastSeq = tail ? tail.lastSeq : active.ref.firstSeq - 1
        writer = new Writer(writerConfig, segments, active, lastSeq, active.size > active.headerSize, () =>
          wal.notify(),
        )
      }
      const wal: Wal<Rec> = new Wal<Rec>({
        options,
        files,
        segments,
        writer,
        lock,
        recovery: recovered.report,
        readOnlyEnd,
        serializer,
        resolved,
      })
      return wal
    } catch (err) {
      lock?.release()
      if (err instanceof WalError) throw err
      throw new WalError('WAL_IO', `opening the WAL in ${options.dir} failed`, {
        cause: err,
        file: options.dir,
      })
    }
  }

  /** Seq of the oldest stored record; `lastSeq + 1` when the log holds none. */
  get firstSeq(): number {
    const first = this.segments[0]
    return first === undefined ? this.lastSeq + 1 : Math.min(first.firstSeq, this.lastSeq + 1)
  }

  /** Seq of the newest record: the last one assigned (it may not be durable yet, see `sync`). */
  get lastSeq(): number {
    return this.writer ? this.writer.nextSeq - 1 : this.readOnlyEnd.seq
  }

  /**
   * Appends one record. Resolves to its seq once it is as durable as the sync policy promises.
   *
   * @param record - `type`, `data`, and optionally `time` (default `Date.now()`)
   * @returns the record's seq
   * @throws WalError `WAL_SERIALIZER_ERROR`, `WAL_RECORD_TOO_LARGE` (the log is unchanged), `WAL_IO`
   *   (the log is failed: reopen it), `WAL_CLOSED`, `WAL_READ_ONLY`
   */
  append(record: AppendInput<Rec>): Promise<number> {
    const writer = this.writable()
    return writer instanceof WalError ? Promise.reject(writer) : writer.append(record as AppendRecord)
  }

  /**
   * Appends records as one atomic batch: after any crash, either all of them are replayed or none.
   *
   * @param records - at least one record
   * @returns the seq of the batch's last record
   * @throws WalError as {@link Wal.append}; `WAL_INVALID_ARGUMENT` for an empty batch
   */
  appendBatch(records: readonly AppendInput<Rec>[]): Promise<number> {
    const writer = this.writable()
    return writer instanceof WalError
      ? Promise.reject(writer)
      : writer.appendBatch(records as readonly AppendRecord[])
  }

  /**
   * Writes everything appended so far to the OS (survives a process crash once resolved).
   *
   * @throws WalError `WAL_IO`, `WAL_CLOSED`
   */
  flush(): Promise<void> {
    return this.writer ? this.writer.flush() : Promise.resolve()
  }

  /**
   * Writes and fdatasyncs everything appended so far (survives power loss once resolved).
   *
   * @throws WalError `WAL_IO`, `WAL_CLOSED`
   */
  sync(): Promise<void> {
    return this.writer ? this.writer.sync() : Promise.resolve()
  }

  /**
   * Calls `handler` for every record with a seq greater than `seq`, in order, awaiting it when it
   * returns a promise. Segments wholly before the one holding `seq + 1` are not read.
   *
   * @param seq - replay starts after this seq (0 for everything)
   * @param handler - called once per record
   * @returns the number of records replayed
   * @throws WalError `WAL_TRUNCATED` (records after `seq` were removed), `WAL_CORRUPT`,
   *   `WAL_SERIALIZER_ERROR`, `WAL_IO`
   */
  async replayFrom(
    seq: number,
    handler: (record: WalRecordOf<Rec>) => void | Promise<void>,
  ): Promise<number> {
    checkSeq('seq', seq)
    this.requireOpen()
    const reader = new RecordReader(this.source, seq + 1, this.lastSeq)
    let count = 0
    try {
      while (await reader.fill()) {
        const records = reader.records as WalRecordOf<Rec>[]
        for (let i = 0; i < records.length; i++) {
          const result = handler(records[i]!)
          if (result !== undefined) await result
        }
        count += records.length
      }
    } finally {
      await reader.close()
    }
    return count
  }

  /**
   * Iterates records `from..to` (both inclusive) in seq order.
   *
   * @param options - `from` (default: the first stored) and `to` (default: the last at call time)
   * @returns an async iterable of records
   * @throws WalError as {@link Wal.replayFrom}
   */
  async *records(options: RecordsOptions = {}): AsyncGenerator<WalRecordOf<Rec>, void, undefined> {
    const from = options.from ?? this.firstSeq
    const to = options.to ?? this.lastSeq
    checkSeq('from', from)
    if (options.to !== undefined) checkSeq('to', to)
    this.requireOpen()
    const reader = new RecordReader(this.source, Math.max(from, 1), to)
    try {
      while (await reader.fill()) yield* reader.records as WalRecordOf<Rec>[]
    } finally {
      await reader.close()
    }
  }

  /**
   * Yields records from `from` on: those stored, then new ones as they become readable, until
   * `signal` aborts or the log closes (the iteration then ends without error).
   *
   * @param options - `from` (default: the next record to be appended) and `signal`
   * @returns an async iterable of records
   * @throws WalError as {@link Wal.replayFrom}
   */
  tail(options: TailOptions = {}): AsyncGenerator<WalRecordOf<Rec>, void, undefined> {
    return this.follow(options, false) as AsyncGenerator<WalRecordOf<Rec>, void, undefined>
  }

  /**
   * Like {@link Wal.tail}, but yields records as stored, `{ seq, payload }`, without decoding them:
   * for replication and tools that move records verbatim.
   *
   * @param options - `from` (default: the next record to be appended) and `signal`
   * @returns an async iterable of stored frames
   * @throws WalError as {@link Wal.replayFrom}
   */
  tailFrames(options: TailOptions = {}): AsyncGenerator<StoredFrame, void, undefined> {
    return this.follow(options, true) as AsyncGenerator<StoredFrame, void, undefined>
  }

  private async *follow(options: TailOptions, raw: boolean): AsyncGenerator<unknown, void, undefined> {
    const from = options.from ?? this.lastSeq + 1
    checkSeq('from', from)
    this.requireOpen()
    const { signal } = options
    const reader = new RecordReader(this.source, Math.max(from, 1), Number.POSITIVE_INFINITY, raw)
    try {
      while (!this.closed && !signal?.aborted) {
        const changed = this.changed.promise
        if (await reader.fill()) {
          yield* reader.records
          continue
        }
        if (this.readOnly) {
          // No writer here to wake us: poll the directory.
          await waitFor(undefined, signal, READ_ONLY_POLL_MS)
          if (!signal?.aborted && !this.closed) await this.refreshReadOnly()
        } else {
          await waitFor(changed, signal)
        }
      }
    } finally {
      await reader.close()
    }
  }

  /**
   * Deletes whole segments all of whose records have a seq below `seq` (retention). The newest
   * segment is never deleted. Oldest first, with a directory fsync after each, so a crash midway never
   * leaves a gap.
   *
   * @param seq - records below this seq may be removed
   * @returns the number of segment files deleted
   * @throws WalError `WAL_IO`, `WAL_READ_ONLY`, `WAL_CLOSED`
   */
  async truncateBefore(seq: number): Promise<number> {
    checkSeq('seq', seq)
    const writer = this.writable()
    if (writer instanceof WalError) throw writer
    const run = this.truncating.then(async () => {
      let removed = 0
      while (this.segments.length > 1 && this.segments[1]!.firstSeq <= seq) {
        const ref = this.segments[0]!
        try {
          await this.files.unlink(ref.path)
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
            throw new WalError('WAL_IO', `deleting ${ref.path} failed`, { cause: err, file: ref.path })
          }
        }
        // The file is gone: forget it now, so a failing directory fsync below leaves the list true
        // (a later call fsyncs again).
        this.segments.shift()
        removed++
        try {
          await this.files.syncDir(this.dir)
        } catch (err) {
          throw new WalError('WAL_IO', `fsync of ${this.dir} after deleting ${ref.path} failed`, {
            cause: err,
            file: this.dir,
          })
        }
      }
      if (removed > 0) this.logger.info('truncated segments', { removed, firstSeq: this.firstSeq })
      return removed
    })
    this.truncating = run.catch(() => {})
    return run
  }

  /**
   * Counters and gauges: appends, bytes, batches written, fsyncs and their latency, segments,
   * pending bytes, and the recovery report.
   *
   * @returns a snapshot of the metrics
   */
  metrics(): WalMetrics {
    const w = this.writer
    return {
      appends: w?.stats.appends ?? 0,
      bytes: w?.stats.bytes ?? 0,
      batchesWritten: w?.stats.batches ?? 0,
      fsyncs: w?.stats.fsyncs ?? 0,
      fsyncLatencyMs: {
        p50: w?.stats.fsyncLatency.percentile(50) ?? 0,
        p99: w?.stats.fsyncLatency.percentile(99) ?? 0,
      },
      segments: this.segments.length,
      rotations: w?.stats.rotations ?? 0,
      pendingBytes: w?.pendingBytes ?? 0,
      lastSeq: this.lastSeq,
      writtenSeq: w?.writtenSeq ?? this.readOnlyEnd.seq,
      durableSeq: w?.durableSeq ?? this.readOnlyEnd.seq,
      recovery: this.recovery,
    }
  }

  /**
   * Makes everything appended durable (write and fdatasync), closes the files and releases the lock.
   * Tails end; later calls fail with `WAL_CLOSED`. Idempotent.
   *
   * @throws WalError `WAL_IO` when the final sync failed (the lock is released all the same)
   */
  close(): Promise<void> {
    this.closing ??= this.closeOnce()
    return this.closing
  }

  private async closeOnce(): Promise<void> {
    this.closed = true
    try {
      await this.truncating
      await this.writer?.close()
    } finally {
      this.lock?.release()
      this.notify()
    }
  }

  private notify(): void {
    const current = this.changed
    this.changed = deferred()
    current.resolve()
  }

  private bound(ref: SegmentRef): number {
    const readable = this.writer ? this.writer.readable : this.readOnlyEnd
    if (ref.firstSeq < readable.segmentFirstSeq) return Number.POSITIVE_INFINITY
    return ref.firstSeq === readable.segmentFirstSeq ? readable.end : 0
  }

  /**
   * Read-only instances: pick up what the writer did since (new segments, new committed frames,
   * deleted segments). One refresh at a time; concurrent tails share it.
   */
  private refreshReadOnly(): Promise<void> {
    this.refreshing ??= this.refreshFromDisk().finally(() => {
      this.refreshing = undefined
    })
    return this.refreshing
  }

  private async refreshFromDisk(): Promise<void> {
    // The directory is the truth: segments deleted by retention go, new ones come (readers hold this
    // array and find segments by first seq, so it is updated in place).
    const listed = await listSegments(this.files, this.dir)
    this.segments.splice(0, this.segments.length, ...listed)
    let end = this.readOnlyEnd
    let index = this.segments.findIndex((s) => s.firstSeq === end.segmentFirstSeq)
    if (index < 0) index = this.segments.findIndex((s) => s.firstSeq === end.seq + 1)
    while (index >= 0 && index < this.segments.length) {
      const ref = this.segments[index]!
      const scan = await this.scanCommitted(
        ref,
        ref.firstSeq === end.segmentFirstSeq ? end.end : undefined,
        end.seq + 1,
      )
      if (scan === undefined) break
      end = { segmentFirstSeq: ref.firstSeq, end: scan.end, seq: scan.seq }
      const next = this.segments[index + 1]
      if (next === undefined || next.firstSeq !== scan.seq + 1 || !scan.clean) break
      index++
    }
    this.readOnlyEnd = end
  }

  /** Finds the end of the last committed batch of a segment, scanning from `start` (or its header). */
  private async scanCommitted(
    ref: SegmentRef,
    start: number | undefined,
    expectedSeq: number,
  ): Promise<{ end: number; seq: number; clean: boolean } | undefined> {
    let fd: number
    try {
      fd = await this.files.open(ref.path, 'r')
    } catch (err) {
      // Deleted by the writer's retention since the listing: nothing more to read there.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw new WalError('WAL_IO', `cannot open ${ref.path}`, { cause: err, file: ref.path })
    }
    try {
      let offset = start
      let firstSeq = expectedSeq
      if (offset === undefined) {
        const read = await readHeader(this.files, fd, ref)
        if (!read.ok) return undefined // being created by the writer: not readable yet
        const header = expectHeader(read, ref, this.serializerName)
        offset = header.headerSize
        firstSeq = header.firstSeq
      }
      const frames = new FrameReader(this.files, fd, offset, firstSeq, this.options.maxRecordSize)
      const { stop } = await frames.skipToEnd()
      return {
        end: frames.committedEnd,
        seq: frames.committedSeq,
        clean: stop === 'end' && !frames.batchOpen,
      }
    } finally {
      await this.files.close(fd)
    }
  }

  private requireOpen(): void {
    if (this.closed) throw new WalError('WAL_CLOSED', 'the WAL is closed')
  }

  /** The writer, or the error explaining why there is none to use. */
  private writable(): Writer | WalError {
    if (this.closed) return new WalError('WAL_CLOSED', 'the WAL is closed')
    return this.writer ?? new WalError('WAL_READ_ONLY', 'the WAL was opened with readOnly: true')
  }
}

/**
 * Resolves when `changed` settles, `signal` aborts or `ms` pass, whichever is first, and then drops
 * its abort listener and timer, so that long-lived tails hold nothing per wait.
 */
function waitFor(
  changed: Promise<void> | undefined,
  signal: AbortSignal | undefined,
  ms?: number,
): Promise<void> {
  if (signal?.aborted) return Promise.resolve()
  return new Promise<void>((resolve) => {
    let timer: NodeJS.Timeout | undefined
    const done = (): void => {
      signal?.removeEventListener('abort', done)
      if (timer) clearTimeout(timer)
      resolve()
    }
    signal?.addEventListener('abort', done, { once: true })
    if (ms !== undefined) timer = setTimeout(done, ms)
    changed?.then(done)
  })
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void
  const promise = new Promise<void>((r) => {
    resolve = r
  })
  return { promise, resolve }
}
