/**
 * The public facade: {@link WalReader} (read-only) and {@link Wal} (read-write). `Wal.open` and
 * `Wal.openReader` wire options, the lock, recovery, the log state, the writer and readers; the work
 * is done by those modules.
 */
import { dirname, join, resolve } from 'node:path'
import { type ArchiveCounters, Uploader } from './archive.js'
import { ArchiveCache, type ArchiveFetchCounters } from './archive-cache.js'
import type { BlockCompressor } from './compression.js'
import { createSegment } from './create-segment.js'
import { isWalError, WalError } from './errors.js'
import type { Files } from './files.js'
import { checkKeyId, KEY_STORE_FILE, KeyStore } from './key-store.js'
import { acquireLock, type Lock } from './lock.js'
import { LogState } from './log-state.js'
import type { WalLogger } from './logger.js'
import {
  type EncryptionOptions,
  resolveReaderOptions,
  resolveWalOptions,
  type WalOptions,
  type WalReaderOptions,
} from './options.js'
import { readRecordsAt } from './point-reader.js'
import { type ReadSource, RecordReader } from './reader.js'
import { type KeyedRecord, RecordCipher, sealedKeyId } from './record-cipher.js'
import type { AppendRecord } from './record-encoder.js'
import { type RecoveryReport, recover } from './recovery.js'
import { Retention, type RetentionCounters, segmentFileSize } from './retention.js'
import { listSegments, readableEnd } from './scanner.js'
import {
  type KeyStoreEntry,
  keyStoreVersion,
  readKeyStoreWith,
  type SealedKeyStore,
  toEntries,
} from './sealed-keys.js'
import { seekFileName } from './seek-file.js'
import { SeekIndex } from './seek-index.js'
import { SegmentFds } from './segment-fds.js'
import type {
  AppendInput,
  FrameLocations,
  LocatedRecord,
  RawRecord,
  RecordShape,
  Serializer,
  WalRecord,
  WalRecordOf,
} from './serializer.js'
import { Writer } from './writer.js'

/** How often a reader looks for records appended by the writing process while tailing. */
const READER_POLL_MS = 100

/** Counters and gauges from {@link WalReader.metrics}. */
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
  /**
   * Segment removals since open: retention passes run, and segments and bytes removed (by retention
   * and by `truncateBefore`). Zeros for a reader.
   */
  retention: RetentionCounters
  /**
   * With an `archive`: segments archived, bytes uploaded, failures (retried), segments pending (a
   * writer's uploads), and segments and bytes fetched for reads.
   */
  archive: ArchiveCounters & ArchiveFetchCounters
  /** Point reads given a location (`recordsAt` with {@link FrameLocations}) since open. */
  locatedReads: {
    /** Records read with one read at their location. */
    hits: number
    /** Records their location did not hold (stale or wrong): read through the seek index instead. */
    misses: number
  }
}

const NO_UPLOADS: ArchiveCounters = {
  archived: 0,
  uploadedBytes: 0,
  failures: 0,
  pending: 0,
  keyStoreUploads: 0,
  keyStorePending: false,
}

/** Options of {@link WalReader.records}. */
export interface RecordsOptions {
  /** First seq to yield (inclusive). Default: the first stored record. */
  from?: number
  /** Last seq to yield (inclusive). Default: the last record readable when reading reaches it. */
  to?: number
  /**
   * Yields only the records this accepts, given their type and key. The others are still read and
   * checked (a damaged log fails the read as without a filter), but their data is not decoded, nor
   * opened in an encrypted log: a read that keeps a few records of a large range costs the walk, not
   * the decoding of every record. Must not throw.
   */
  filter?: (type: string, key: string | undefined) => boolean
}

/** Options of {@link WalReader.tail}. */
export interface TailOptions {
  /** First seq to yield (inclusive). Default: the next record to be appended. */
  from?: number
  /** Stops the iteration (it ends without error). */
  signal?: AbortSignal
}

/** Whether `locations` holds two arrays (that `appendBatch` can fill, when `filled`). */
function locationArrays(locations: unknown, filled: boolean): boolean {
  const { offsets, lengths } = (locations ?? {}) as Partial<FrameLocations>
  if (!Array.isArray(offsets) || !Array.isArray(lengths)) return false
  return !filled || (Object.isExtensible(offsets) && Object.isExtensible(lengths))
}

function checkSeq(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw WalError.INVALID_ARGUMENT(`${name} must be a non-negative safe integer, got ${String(value)}`)
  }
  return value
}

/** What a reader or writer is built from. */
interface WalInit {
  dir: string
  files: Files
  logger: WalLogger
  state: LogState
  recovery: RecoveryReport
  serializer: Serializer<string, unknown, RecordShape> | undefined
  serializerName: string | undefined
  maxRecordSize: number
  /** A writer's: the mode of files it creates (then its seek index writes seek files). */
  fileMode?: number
  /** Where reads of segments no longer on local disk fetch them, when the log has an archive. */
  archive: ArchiveCache | undefined
  /** Seals and opens record data, when the log is encrypted (and opened with its keyring). */
  cipher: RecordCipher | undefined
  /** A writer's key store: the cipher's, or a sealed copy's (`encryption: 'sealed'`). */
  keys?: KeyStore | undefined
}

/**
 * A read-only view of a log: replay, range reads, reads by seq and live tails, no appends (a read-only mistake
 * fails at compile time). Opened with {@link Wal.openReader}; it takes no lock and changes nothing on
 * disk, so it works while the writing process runs (tails poll the directory).
 *
 * @typeParam Rec - the record union (`type` and `data`), from the serializer
 * @example
 * ```ts
 * const reader = await Wal.openReader({ dir: './events' }) // no serializer: data is the stored bytes
 * for await (const r of reader.records()) console.log(r.seq, r.type, r.key, r.headers)
 * await reader.close()
 * ```
 */
export class WalReader<Rec extends RecordShape = RecordShape<string, Uint8Array>> {
  /** The directory of the log. */
  readonly dir: string
  /** What recovery found (and, for a writer, did) when this instance opened. */
  readonly recovery: RecoveryReport
  /**
   * The serializer name stored in the log's segment headers (the one given to open, for a writer);
   * undefined for an empty log opened without a serializer.
   */
  readonly serializerName: string | undefined
  /** The serializer data is decoded with; undefined when `data` is the stored bytes. */
  readonly serializer: Serializer<string, unknown, Rec> | undefined

  /** The log's segments and readable end. */
  private readonly state: LogState
  private readonly files: Files
  /** Set by close: reads and appends fail with `WAL_CLOSED`. */
  protected closed = false
  private readonly decoded: ReadSource
  private readonly raw: ReadSource
  private refreshing: Promise<void> | undefined
  private closing: Promise<void> | undefined

  /** Whether {@link close} was called: reads and appends then fail with `WAL_CLOSED`. */
  get isClosed(): boolean {
    return this.closed
  }

  /**
   * Readers are opened with {@link Wal.openReader}; `Wal` extends this class.
   *
   * @hidden
   */
  protected constructor(init: WalInit) {
    this.dir = init.dir
    this.recovery = init.recovery
    this.serializerName = init.serializerName
    this.serializer = init.serializer as Serializer<string, unknown, Rec> | undefined
    this.state = init.state
    this.files = init.files
    const serializerName = init.serializer?.name
    const { files, maxRecordSize, state, dir, logger, fileMode } = init
    const seeks = new SeekIndex({
      files,
      maxRecordSize,
      serializerName,
      state,
      dir,
      logger,
      writeSeekFiles: fileMode !== undefined,
      fileMode: fileMode ?? 0o600,
    })
    const source = {
      files,
      serializerName,
      maxRecordSize,
      state,
      seeks,
      fds: new SegmentFds(files, state),
      located: { hits: 0, misses: 0 },
      archive: init.archive,
      cipher: init.cipher,
    }
    this.decoded = { ...source, serializer: init.serializer, keepSealed: false }
    this.raw = { ...source, serializer: undefined, keepSealed: true }
  }

  /**
   * Opens a log for reading only: no lock, nothing changed on disk (a torn tail is only stopped at),
   * no appends. Works while another process writes the log; its tails poll for new records. Also
   * reachable as `Wal.openReader`.
   *
   * @param options - see {@link WalReaderOptions}; only `dir` is required. Without a serializer,
   *   `data` is the stored bytes and a log of any serializer opens.
   * @returns the reader. A log whose newest segment is corrupt opens: reading delivers every record
   *   before the damage, then throws its `WAL_CORRUPT` (and `recovery.problemCode` names it).
   * @throws WalError `WAL_SERIALIZER_MISMATCH`, `WAL_FORMAT_UNSUPPORTED`,
   *   `WAL_INVALID_ARGUMENT` (a bad option, no such directory), `WAL_IO`
   */
  static async openReader<Rec extends RecordShape = RecordShape<string, Uint8Array>>(
    options: WalReaderOptions<Rec>,
  ): Promise<WalReader<Rec>> {
    const { files, dir, serializer, maxRecordSize, logger, archive, archiveCache, encryption } =
      resolveReaderOptions(options)
    const recovered = await recover({
      files,
      dir,
      serializerName: serializer?.name,
      maxRecordSize,
      readOnly: true,
      logger,
    }).catch((err) => {
      if ((err as WalError).cause && ((err as WalError).cause as NodeJS.ErrnoException).code === 'ENOENT') {
        throw WalError.INVALID_ARGUMENT(`${dir} does not exist`, { cause: err, file: dir })
      }
      throw err
    })
    const { tail } = recovered
    const end = tail
      ? { segmentFirstSeq: tail.ref.firstSeq, end: tail.validEnd, seq: tail.lastSeq }
      : { segmentFirstSeq: 0, end: 0, seq: 0 }
    return new WalReader<Rec>({
      dir,
      files,
      logger,
      state: new LogState(recovered.segments, end, tail?.damage),
      recovery: recovered.report,
      serializer,
      serializerName: serializer?.name ?? tail?.header?.serializerName,
      maxRecordSize,
      archive: archive && new ArchiveCache(archive, archiveCache, logger),
      // After recovery: the keys of every record found are in the store by then.
      cipher:
        encryption &&
        (await openCipher({
          files,
          dir,
          encryption,
          readOnly: true,
          fileMode: 0o600,
          logger,
          logHasRecords: true,
          maxRecordSize,
        })),
    })
  }

  /** Seq of the oldest stored record; `lastSeq + 1` when the log holds none. */
  get firstSeq(): number {
    const first = this.state.oldestFirstSeq
    return first === undefined ? this.lastSeq + 1 : Math.min(first, this.lastSeq + 1)
  }

  /** Seq of the newest readable record. */
  get lastSeq(): number {
    return this.state.lastSeq
  }

  /**
   * Calls `handler` for every record with a seq greater than `seq`, in order, awaiting it when it
   * returns a promise. Segments wholly before the one holding `seq + 1` are not read. Every valid
   * record before a failure is handed over before the failure is thrown.
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
    await this.freshKeys()
    const reader = new RecordReader(this.decoded, seq + 1, this.lastSeq)
    let count = 0
    try {
      while (await this.fillOpen(reader)) {
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
   * @throws WalError as {@link WalReader.replayFrom}
   */
  records(options: RecordsOptions = {}): AsyncGenerator<WalRecordOf<Rec>, void, undefined> {
    return this.range(options, this.decoded) as AsyncGenerator<WalRecordOf<Rec>, void, undefined>
  }

  /**
   * Like {@link WalReader.records}, but yields records as stored: type, time, key and headers, and
   * `data` as the stored bytes, not decoded (for replication and tools that move records verbatim).
   *
   * @param options - `from` and `to`
   * @returns an async iterable of stored records
   * @throws WalError as {@link WalReader.replayFrom}
   */
  recordsRaw(options: RecordsOptions = {}): AsyncGenerator<RawRecord, void, undefined> {
    return this.range(options, this.raw) as AsyncGenerator<RawRecord, void, undefined>
  }

  /**
   * Like {@link WalReader.recordsRaw}, with the place of each record's frame (`frameOffset`,
   * `frameLength`): what an index keeps to read a record back later with one small read (see
   * {@link FrameLocations}).
   *
   * @param options - `from` and `to`
   * @returns an async iterable of stored records with their locations
   * @throws WalError as {@link WalReader.replayFrom}
   */
  recordsLocated(options: RecordsOptions = {}): AsyncGenerator<LocatedRecord, void, undefined> {
    return this.range(options, this.raw, true) as AsyncGenerator<LocatedRecord, void, undefined>
  }

  /**
   * The records with exactly these seqs, in the order given (a seq given twice yields the same record
   * object twice, unless only one of the two has a location). Each is read from near its place in its segment through a sparse seek index (built
   * as reads need it, by one checked walk of each segment), and segment files stay open between calls
   * (up to 64): a few scattered records cost a few small reads, not a scan. Those reads are synchronous
   * preads of a few KiB (through `Files.readSync` when the file interface has it): from the page cache
   * they take microseconds, far less than a trip through libuv's thread pool, but a read the disk must
   * serve blocks the event loop for its duration. Each record returned is checked and decoded as
   * {@link WalReader.records} checks and decodes it; the frames walked over on the way to it are
   * checked too (length, seq and batch chains, checksum) but not parsed, so damage on the way is
   * `WAL_CORRUPT`. A seq above the last readable one is
   * looked for first: a reader picks up what the writing process appended since (as its tails do), a
   * `Wal` writes appends still pending (as `flush` does).
   *
   * @param seqs - seqs of stored records, in any order
   * @param locations - where the records' frames lie, parallel to `seqs` (as `appendBatch` or
   *   {@link WalReader.recordsLocated} reported them): each record with one is read with one read of
   *   exactly its frame, no walk. Checked before use (seq, length, checksum): a stale location costs
   *   a read through the seek index, never a wrong answer (`metrics().locatedReads` counts hits and
   *   misses). Pass only locations this log reported: a made-up one pointing into record data that
   *   embeds a complete, valid frame with the wanted seq would be believed
   * @returns the records, `result[i].seq === seqs[i]`
   * @throws WalError `WAL_INVALID_ARGUMENT` (not an array, a seq that is not a positive safe integer,
   *   or one above {@link WalReader.lastSeq}), `WAL_TRUNCATED` (a seq below the first stored, or
   *   removed while reading), `WAL_CORRUPT` (with `file` and `offset`), `WAL_SERIALIZER_ERROR`,
   *   `WAL_IO`, `WAL_CLOSED`
   * @example
   * ```ts
   * const [opened, paid] = await wal.recordsAt([stream.openedSeq, stream.paidSeq])
   * console.log(opened.type, paid.data)
   * ```
   */
  recordsAt(seqs: readonly number[], locations?: Readonly<FrameLocations>): Promise<WalRecordOf<Rec>[]> {
    return this.readAt(seqs, this.decoded, locations) as Promise<WalRecordOf<Rec>[]>
  }

  /**
   * Like {@link WalReader.recordsAt}, but returns records as stored (see {@link WalReader.recordsRaw}).
   *
   * @param seqs - seqs of stored records, in any order
   * @param locations - where their frames lie (see {@link WalReader.recordsAt})
   * @returns the stored records, `result[i].seq === seqs[i]`
   * @throws WalError as {@link WalReader.recordsAt}
   * @example
   * ```ts
   * const [raw] = await reader.recordsAtRaw([42])
   * await replica.appendRaw([raw])
   * ```
   */
  recordsAtRaw(seqs: readonly number[], locations?: Readonly<FrameLocations>): Promise<RawRecord[]> {
    return this.readAt(seqs, this.raw, locations) as Promise<RawRecord[]>
  }

  /**
   * Yields records from `from` on: those stored, then new ones as they become readable, until
   * `signal` aborts or the log closes (the iteration then ends without error).
   *
   * @param options - `from` (default: the next record to be appended) and `signal`
   * @returns an async iterable of records
   * @throws WalError as {@link WalReader.replayFrom}
   */
  tail(options: TailOptions = {}): AsyncGenerator<WalRecordOf<Rec>, void, undefined> {
    return this.follow(options, this.decoded) as AsyncGenerator<WalRecordOf<Rec>, void, undefined>
  }

  /**
   * Like {@link WalReader.tail}, but yields records as stored (see {@link WalReader.recordsRaw}).
   *
   * @param options - `from` (default: the next record to be appended) and `signal`
   * @returns an async iterable of stored records
   * @throws WalError as {@link WalReader.replayFrom}
   */
  tailRaw(options: TailOptions = {}): AsyncGenerator<RawRecord, void, undefined> {
    return this.follow(options, this.raw) as AsyncGenerator<RawRecord, void, undefined>
  }

  /**
   * Counters and gauges. A reader appends nothing: only `segments`, the seqs and `recovery` are set.
   *
   * @returns a snapshot of the metrics
   */
  metrics(): WalMetrics {
    return {
      appends: 0,
      bytes: 0,
      batchesWritten: 0,
      fsyncs: 0,
      fsyncLatencyMs: { p50: 0, p99: 0 },
      segments: this.state.list.length,
      rotations: 0,
      pendingBytes: 0,
      lastSeq: this.lastSeq,
      writtenSeq: this.state.lastSeq,
      durableSeq: this.state.lastSeq,
      recovery: this.recovery,
      locatedReads: { ...this.raw.located },
      retention: { passes: 0, segmentsRemoved: 0, bytesRemoved: 0 },
      archive: this.archiveMetrics(NO_UPLOADS),
    }
  }

  /**
   * The key store of an encrypted log in its sealed form: the header (the key-encryption key wrapped
   * by the master key), every data key (sealed by the KEK) and every shredded id. It is what a copy of
   * the log (a replica, an archive) needs so that the keyring reads its records there, and it reveals
   * no key. A reader reads the file as it is now (a key being appended is left out); a writer hands
   * over its durable state.
   *
   * @param since - the `version` of an earlier call on this object: a writer then hands over only
   *   the entries added since (`incremental: true`) when the store was only appended to in between,
   *   so that following a store of many keys costs what changed. A reader always reads the whole store.
   * @returns the store, or undefined for a log that is not encrypted (or a sealed copy nothing was
   *   imported into yet)
   * @throws WalError `WAL_CORRUPT`, `WAL_IO`, `WAL_CLOSED`
   */
  async keyStore(since?: string): Promise<SealedKeyStore | undefined> {
    this.requireOpen()
    void since
    return readKeyStoreWith(this.files, this.dir)
  }

  /**
   * What {@link keyStore} would report as its `version` now, without reading the store: poll this to
   * notice new keys, shreds and master-key rotations.
   *
   * @returns undefined for a log that is not encrypted
   * @throws WalError `WAL_IO`, `WAL_CLOSED`
   */
  async keyStoreVersion(): Promise<string | undefined> {
    this.requireOpen()
    return keyStoreVersion(this.dir)
  }

  /** `metrics().archive`: the uploads given, and this instance's fetches for reads. */
  protected archiveMetrics(uploads: ArchiveCounters): ArchiveCounters & ArchiveFetchCounters {
    const fetches = this.raw.archive?.counters ?? { fetched: 0, fetchedBytes: 0 }
    return { ...uploads, ...fetches }
  }

  /**
   * Closes the log: tails end; later calls fail with `WAL_CLOSED`. Idempotent.
   *
   * @throws WalError `WAL_IO` (a writer's final sync failed; its lock is released all the same)
   */
  close(): Promise<void> {
    this.closing ??= this.closeOnce()
    return this.closing
  }

  /** Closes what this instance holds (a writer: syncs, closes the segment, releases the lock). */
  protected async closeOnce(): Promise<void> {
    this.closed = true
    this.raw.fds.closeAll()
    this.state.notify()
    await this.raw.archive?.close()
    await this.raw.cipher?.keys.close()
  }

  /** Stops writing seek files; resolves once those under way are written (a writer's close awaits it). */
  protected closeSeekFiles(): Promise<void> {
    return this.raw.seeks.close()
  }

  /** Resolves when more records may be readable: a reader polls the directory. */
  protected async waitForMore(signal: AbortSignal | undefined): Promise<void> {
    await waitFor(undefined, signal, READER_POLL_MS)
    if (!signal?.aborted && !this.closed) await this.refresh()
  }

  /** Makes records up to `seq` readable if they can be: a reader looks for them on disk. */
  protected async makeReadable(_seq: number): Promise<void> {
    await this.refresh()
  }

  /** Throws `WAL_CLOSED` after close. */
  protected requireOpen(): void {
    if (this.closed) throw WalError.CLOSED('the WAL is closed')
  }

  private async *range(
    options: RecordsOptions,
    source: ReadSource,
    locate = false,
  ): AsyncGenerator<unknown, void, undefined> {
    const from = checkSeq('from', options.from ?? this.firstSeq)
    const to = options.to === undefined ? this.lastSeq : checkSeq('to', options.to)
    this.requireOpen()
    await this.freshKeys()
    const filter = options.filter
    if (filter !== undefined && typeof filter !== 'function') {
      throw WalError.INVALID_ARGUMENT('filter must be a function (type, key) => boolean')
    }
    const reader = new RecordReader(source, Math.max(from, 1), to, locate, undefined, filter)
    try {
      while (await this.fillOpen(reader)) yield* reader.records
    } finally {
      await reader.close()
    }
  }

  /**
   * `reader.fill()`, but a failure caused by close (files and the archive cache going away under the
   * read) is `WAL_CLOSED`.
   */
  private async fillOpen(reader: RecordReader): Promise<boolean> {
    try {
      return await reader.fill()
    } catch (err) {
      if (this.closed && !isWalError(err, 'WAL_CLOSED'))
        throw WalError.CLOSED('the WAL was closed while reading', { cause: err })
      throw err
    }
  }

  private async readAt(
    seqs: readonly number[],
    source: ReadSource,
    locations: Readonly<FrameLocations> | undefined,
  ): Promise<WalRecord[]> {
    this.requireOpen()
    if (!Array.isArray(seqs)) throw WalError.INVALID_ARGUMENT('seqs must be an array of seqs')
    if (locations !== undefined && !locationArrays(locations, false)) {
      throw WalError.INVALID_ARGUMENT('locations must hold two arrays: offsets and lengths')
    }
    let min = Number.POSITIVE_INFINITY
    let max = 0
    for (let i = 0; i < seqs.length; i++) {
      const seq: unknown = seqs[i]
      if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) {
        throw WalError.INVALID_ARGUMENT(`seqs[${i}] must be a positive safe integer, got ${String(seq)}`)
      }
      if (seq < min) min = seq
      if (seq > max) max = seq
    }
    if (seqs.length === 0) return []
    await this.freshKeys()
    if (max > this.state.lastSeq) await this.makeReadable(max)
    this.requireOpen()
    if (max > this.state.lastSeq) {
      const message = `seq ${max} is not readable: the last readable seq is ${this.state.lastSeq}`
      throw WalError.INVALID_ARGUMENT(message, { seq: max })
    }
    const first = this.state.oldestFirstSeq ?? max + 1
    if (source.archive === undefined) {
      if (min < first)
        throw WalError.TRUNCATED(`seq ${min} was removed (the log starts at ${first})`, { seq: min })
      return readRecordsAt(source, seqs, locations)
    }
    try {
      if (min < first) return await readAtWithArchive(source, seqs, locations, first)
      return await readRecordsAt(source, seqs, locations)
    } catch (err) {
      // Retention removed a segment while reading: it is in the archive now.
      if (!isWalError(err, 'WAL_TRUNCATED')) throw err
      // Every seq through the reader, which falls back to the archive per segment (a reader's view of
      // the directory may still list the removed segment).
      return readAtWithArchive(source, seqs, locations, Number.POSITIVE_INFINITY)
    }
  }

  private async *follow(options: TailOptions, source: ReadSource): AsyncGenerator<unknown, void, undefined> {
    const from = checkSeq('from', options.from ?? this.lastSeq + 1)
    this.requireOpen()
    const { signal } = options
    await this.freshKeys()
    const reader = new RecordReader(source, Math.max(from, 1), Number.POSITIVE_INFINITY)
    try {
      while (!this.closed && !signal?.aborted) {
        const changed = this.state.nextChange
        let filled: boolean
        try {
          filled = await this.fillOpen(reader)
        } catch (err) {
          if (this.closed) return // a tail ends without error when the log closes
          throw err
        }
        if (filled) {
          yield* reader.records
          continue
        }
        if (this.isWriter()) await waitFor(changed, signal)
        else await this.waitForMore(signal)
      }
    } finally {
      await reader.close()
    }
  }

  /**
   * A reader's key store as the writer left it (keys created, shredded, rewrapped since): a shred
   * takes effect in readers at their next read. A writer's store is the one it changes.
   */
  private async freshKeys(): Promise<void> {
    if (!this.isWriter()) await this.raw.cipher?.keys.reload()
  }

  /** Whether appends in this process notify tails (a writer), or tails must poll (a reader). */
  protected isWriter(): boolean {
    return false
  }

  /**
   * Picks up what the writing process did since (new segments, new committed frames, deleted
   * segments). One refresh at a time; concurrent tails share it.
   */
  private refresh(): Promise<void> {
    this.refreshing ??= this.refreshFromDisk().finally(() => {
      this.refreshing = undefined
    })
    return this.refreshing
  }

  private async refreshFromDisk(): Promise<void> {
    const { segments } = await listSegments(this.files, this.dir)
    let end = this.state.end
    let index = segments.findIndex((s) => s.firstSeq === end.segmentFirstSeq)
    // The segment read last is gone (retention) or there was none yet: go on from the first one past
    // what was read. A gap that leaves is reported by the readers (WAL_TRUNCATED), never skipped.
    if (index < 0) index = segments.findIndex((s) => s.firstSeq > end.seq)
    const options = { maxRecordSize: this.decoded.maxRecordSize, serializerName: this.decoded.serializerName }
    while (index >= 0 && index < segments.length) {
      const ref = segments[index]!
      const from = ref.firstSeq === end.segmentFirstSeq ? { offset: end.end, seq: end.seq + 1 } : undefined
      const found = await readableEnd(this.files, ref, from, options)
      if (found === undefined) break
      end = { segmentFirstSeq: ref.firstSeq, end: found.end, seq: found.seq }
      const next = segments[index + 1]
      if (next === undefined || next.firstSeq !== found.seq + 1 || !found.clean) break
      index++
    }
    // Keys are made durable before the records sealed with them: read them after the records.
    await this.raw.cipher?.keys.reload()
    this.state.replace(segments, end)
  }
}

/**
 * A write-ahead log: an append-only sequence of typed records in CRC-checked segment files.
 *
 * @typeParam Rec - the record union (`type` and `data`), from the serializer
 * @example
 * ```ts
 * const wal = await Wal.open({ dir: './data', sync: 'always' })
 * const seq = await wal.append({ type: 'greeting', key: 'user-1', data: new TextEncoder().encode('hi') })
 * for await (const record of wal.records({ from: 1 })) console.log(record.seq, record.type, record.key)
 * await wal.close()
 * ```
 */
export class Wal<Rec extends RecordShape = RecordShape<string, Uint8Array>> extends WalReader<Rec> {
  /** The serializer records are encoded and decoded with. */
  declare readonly serializer: Serializer<string, unknown, Rec>
  /** The serializer's name, as stored in segment headers. */
  declare readonly serializerName: string

  private readonly writer: Writer
  private readonly lock: Lock
  /** Appends waiting for data keys to be created: later appends queue behind them. */
  private keyGate: Promise<void> | undefined
  /** The log state, files and logger this writer shares with the reader it extends. */
  private readonly shared: WalInit
  /** Segment removals (`truncateBefore` and retention passes), one after the other. */
  private truncating: Promise<unknown> = Promise.resolve()
  private readonly retention: Retention | undefined
  private readonly uploader: Uploader | undefined
  private retentionTimer: NodeJS.Timeout | undefined
  private readonly removals: RetentionCounters = { passes: 0, segmentsRemoved: 0, bytesRemoved: 0 }

  private constructor(
    init: WalInit,
    writer: Writer,
    lock: Lock,
    retention: Retention | undefined,
    uploader: Uploader | undefined,
  ) {
    super(init)
    this.shared = init
    this.writer = writer
    this.lock = lock
    this.retention = retention
    this.uploader = uploader
    if (retention) {
      this.retentionTimer = setInterval(() => this.runRetention(), retention.intervalMs)
      // Retention must not keep an idle process alive.
      this.retentionTimer.unref()
      // A restart after a long pause: apply the policy now, not at the first rotation or tick.
      this.runRetention()
    }
  }

  /**
   * Queues a retention pass behind any removal under way. Never on the append path: rotations and
   * the timer call it, and nothing waits for it but `close`. A failing pass is logged; the WAL goes on.
   */
  private runRetention(): void {
    const retention = this.retention
    if (!retention || this.closed) return
    this.truncating = this.truncating
      .then(async () => {
        if (this.closed) return
        this.removals.passes++
        const cut = await retention.cut(Date.now())
        if (cut !== undefined) await this.removeSegmentsBefore(cut)
      })
      .catch((err: Error) => {
        this.shared.logger.error('retention pass failed; segments stay until the next pass', {
          error: err.message,
        })
      })
  }

  /**
   * Opens (or creates) the log in `options.dir`: takes the writer lock, recovers the newest segment
   * (cutting a torn tail into a side file, reported in {@link WalReader.recovery}) and positions
   * appends after it.
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
  static async open<Rec extends RecordShape = RecordShape<string, Uint8Array>>(
    options: WalOptions<Rec>,
  ): Promise<Wal<Rec>> {
    const o = resolveWalOptions(options)
    await createDirectory(o.files, o.dir)
    const lock = acquireLock(o.dir, o.fileMode)
    try {
      const recovered = await recover({
        files: o.files,
        dir: o.dir,
        serializerName: o.serializer.name,
        maxRecordSize: o.maxRecordSize,
        readOnly: false,
        logger: o.logger,
      })
      const { segments, tail } = recovered
      const names = await o.files.readdir(o.dir)
      if (o.encryption === undefined && names.includes(KEY_STORE_FILE)) {
        // Appending plaintext to an encrypted log (a deploy that lost its key setting) is refused.
        throw WalError.KEYRING(
          `${o.dir} holds an encrypted log: open it with its encryption keyring (or encryption: 'sealed', a copy)`,
          {
            file: o.dir,
          },
        )
      }
      // A snapshot an archive upload left behind when the process died: it may hold a key shredded since.
      if (names.includes(KEY_UPLOAD_FILE)) await o.files.unlink(join(o.dir, KEY_UPLOAD_FILE)).catch(() => {})
      const keyStoreOptions = {
        files: o.files,
        dir: o.dir,
        readOnly: false,
        fileMode: o.fileMode,
        logger: o.logger,
        logHasRecords: segments.length > 1 || (tail !== undefined && tail.validEnd > tail.header!.headerSize),
      }
      const cipher =
        o.encryption === undefined || o.encryption === 'sealed'
          ? undefined
          : await openCipher({
              ...keyStoreOptions,
              encryption: o.encryption,
              maxRecordSize: o.maxRecordSize,
              compression: o.compression,
            })
      const keys =
        o.encryption === 'sealed'
          ? await KeyStore.open({ ...keyStoreOptions, keyring: undefined })
          : cipher?.keys
      const active = tail
        ? {
            ref: tail.ref,
            fd: tail.fd,
            size: tail.validEnd,
            createdAt: tail.header!.createdAt,
            headerSize: tail.header!.headerSize,
          }
        : await createSegment(
            { files: o.files, dir: o.dir, serializerName: o.serializer.name, fileMode: o.fileMode },
            o.firstSeq,
            Date.now(),
          )
      if (!tail) segments.push(active.ref)
      const lastSeq = tail ? tail.lastSeq : active.ref.firstSeq - 1
      const state = new LogState(segments, {
        segmentFirstSeq: active.ref.firstSeq,
        end: active.size,
        seq: lastSeq,
      })
      let writerRef: Writer | undefined
      let walRef: Wal<Rec> | undefined
      const uploader = o.archive
        ? new Uploader({
            archive: o.archive,
            state,
            logger: o.logger,
            onArchived: () => walRef?.runRetention(),
            keys: keys && { store: keys, snapshot: join(o.dir, KEY_UPLOAD_FILE), fileMode: o.fileMode },
          })
        : undefined
      const retention = o.retention
        ? new Retention(o.retention, {
            files: o.files,
            state,
            logger: o.logger,
            serializerName: o.serializer.name,
            newestSize: () => writerRef?.activeSize ?? 0,
            archived: uploader ? (ref) => uploader.isArchived(ref) : undefined,
          })
        : undefined
      const writer = new Writer({
        // In an encrypted log, data is compressed record by record before it is sealed (the cipher
        // does it): sealed bytes do not compress, so groups are not made into blocks.
        config: { ...o, logger: o.logger, cipher, compression: cipher ? undefined : o.compression },
        state,
        active,
        lastSeq,
        hasFrames: active.size > active.headerSize,
        boundaries: tail?.boundaries,
        onSealed:
          retention || uploader
            ? (ref, size, sealedAt) => {
                uploader?.sealed(ref)
                retention?.sealed(ref, size, sealedAt)
                walRef?.runRetention()
              }
            : undefined,
      })
      writerRef = writer
      const init: WalInit = {
        dir: o.dir,
        files: o.files,
        logger: o.logger,
        state,
        recovery: recovered.report,
        serializer: o.serializer,
        serializerName: o.serializer.name,
        maxRecordSize: o.maxRecordSize,
        fileMode: o.fileMode,
        archive: o.archive && new ArchiveCache(o.archive, o.archiveCache, o.logger),
        cipher,
        keys,
      }
      walRef = new Wal<Rec>(init, writer, lock, retention, uploader)
      return walRef
    } catch (err) {
      lock.release()
      if (err instanceof WalError) throw err
      throw WalError.IO(`opening the WAL in ${o.dir} failed`, { cause: err, file: o.dir })
    }
  }

  /**
   * The sealed key store {@link WalReader.keyStore} describes, from this writer's memory (its durable
   * state; `version` changes with every key created, shredded, rotated or imported).
   *
   * @param since - the `version` of an earlier call: only the entries added since are handed over
   *   (`incremental: true`) when the store was only appended to in between
   * @returns the store, or undefined for a log that is not encrypted (or a sealed copy nothing was
   *   imported into yet)
   * @throws WalError `WAL_CLOSED`
   */
  override async keyStore(since?: string): Promise<SealedKeyStore | undefined> {
    this.requireOpen()
    const keys = this.shared.keys
    if (keys === undefined || keys.masterKey === undefined) return undefined
    const version = keys.version
    const added = since === undefined ? undefined : keys.changesSince(since)
    if (added !== undefined) return { version, entries: added, incremental: true }
    return { version, entries: keys.sealedEntries()!, incremental: false }
  }

  /**
   * {@link keyStore}'s `version` now.
   *
   * @returns undefined for a log that is not encrypted
   * @throws WalError `WAL_CLOSED`
   */
  override async keyStoreVersion(): Promise<string | undefined> {
    this.requireOpen()
    const keys = this.shared.keys
    return keys?.masterKey === undefined ? undefined : keys.version
  }

  /** Seq of the newest record: the last one assigned (it may not be durable yet, see `sync`). */
  override get lastSeq(): number {
    return this.writer.nextSeq - 1
  }

  /**
   * Appends one record. Resolves to its seq once it is as durable as the sync policy promises.
   *
   * @param record - `type`, `data`, and optionally `time` (default `Date.now()`), `key`, `headers`
   * @returns the record's seq
   * @throws WalError `WAL_INVALID_ARGUMENT` (a bad envelope), `WAL_SERIALIZER_ERROR`,
   *   `WAL_RECORD_TOO_LARGE` (the log is unchanged), `WAL_IO` (the log is failed: reopen it),
   *   `WAL_CLOSED`
   */
  append(record: AppendInput<Rec>): Promise<number> {
    if (this.sealedCopy) return Promise.reject(sealedCopyError('append'))
    if (this.cipher === undefined) return this.writer.append([record as AppendRecord])
    return this.afterKeys([record as AppendRecord], () => this.writer.append([record as AppendRecord]))
  }

  /**
   * Appends records as one atomic batch: after any crash, either all of them are replayed or none.
   *
   * @param records - at least one record
   * @param locations - when given, `offsets[i]` and `lengths[i]` receive where record `i`'s frame lies
   *   (see {@link FrameLocations}), set by the time the promise resolves: an index can keep them and
   *   read each record back with one small read ({@link WalReader.recordsAt})
   * @returns the seq of the batch's last record
   * @throws WalError as {@link Wal.append}; `WAL_INVALID_ARGUMENT` for an empty batch or locations
   *   that are not two arrays
   */
  appendBatch(records: readonly AppendInput<Rec>[], locations?: FrameLocations): Promise<number> {
    if (!Array.isArray(records) || records.length === 0) {
      return Promise.reject(WalError.INVALID_ARGUMENT('appendBatch needs an array of at least one record'))
    }
    if (locations !== undefined && !locationArrays(locations, true)) {
      return Promise.reject(
        WalError.INVALID_ARGUMENT('locations must hold two arrays that can grow: offsets and lengths'),
      )
    }
    if (this.sealedCopy) return Promise.reject(sealedCopyError('appendBatch'))
    if (this.cipher === undefined)
      return this.writer.append(records as readonly AppendRecord[], false, locations)
    return this.afterKeys(records as readonly AppendRecord[], () =>
      this.writer.append(records as readonly AppendRecord[], false, locations),
    )
  }

  /**
   * Appends stored records as they are, as one atomic batch: a replica continuing another log.
   * Their seqs must continue this log (`records[0].seq === lastSeq + 1`, then consecutive); their
   * data bytes are stored without passing through the serializer.
   *
   * @param records - at least one record, e.g. from another log's {@link WalReader.tailRaw}
   * @returns the seq of the last record
   * @throws WalError `WAL_INVALID_ARGUMENT` (seqs that do not continue the log, a bad envelope; in an
   *   encrypted log a record that is not sealed, or sealed with a key the key store does not hold
   *   (import it first: a copy never holds a record whose key it cannot get); in a log that is not
   *   encrypted, a sealed record), and as {@link Wal.append}
   */
  appendRaw(records: readonly RawRecord[]): Promise<number> {
    if (!Array.isArray(records) || records.length === 0) {
      return Promise.reject(WalError.INVALID_ARGUMENT('appendRaw needs an array of at least one record'))
    }
    try {
      this.checkSealed(records)
    } catch (err) {
      return Promise.reject(err)
    }
    if (this.keyGate === undefined) return this.writer.append(records as readonly AppendRecord[], true)
    return this.afterKeys([], () => this.writer.append(records as readonly AppendRecord[], true))
  }

  /**
   * Destroys the data key `keyId` (encryption): the key store is rewritten without it, durably, before
   * this resolves. Afterwards every record sealed with it reads with no data and `shredded: true`,
   * here, after a restart and in readers; appending a record of that key id is refused. Segments are
   * not rewritten: the sealed bytes stay, and nothing can open them.
   *
   * @param keyId - the key id (by default a record `key`, i.e. a stream)
   * @throws WalError `WAL_INVALID_ARGUMENT` (the log is not encrypted), `WAL_IO`, `WAL_CLOSED`
   */
  async shred(keyId: string): Promise<void> {
    this.requireOpen()
    const cipher = this.requireCipher('shred')
    checkKeyId(keyId)
    // Appends waiting for keys go first: a record of this id already appended is shredded with it.
    await cipher.keys.shred(keyId, this.keyGate)
    // The archive's copy of the key store still holds the key: replace it now.
    this.uploader?.keysChanged()
  }

  /**
   * The key id (data subject) a record would be sealed with: what `encryption.keyFor` returns for it
   * (by default its `key`), checked as an append checks it. For callers that must refuse a record
   * before they append it, e.g. one of a shredded subject (see {@link Wal.isShredded}).
   *
   * @param record - `type`, and the `key` and `headers` it would be appended with
   * @returns the key id
   * @throws WalError `WAL_INVALID_ARGUMENT` (the log is not encrypted, `keyFor` threw or returned no
   *   valid key id)
   */
  keyIdOf(record: KeyedRecord): string {
    return this.requireCipher('keyIdOf').keyIdOf(record)
  }

  /**
   * Whether the data key `keyId` was shredded, or its shred is under way: appending a record of it is
   * then refused (`WAL_INVALID_ARGUMENT`), now and after any restart.
   *
   * @param keyId - a key id
   * @returns true once {@link Wal.shred} of it was called
   * @throws WalError `WAL_INVALID_ARGUMENT` (the log is not encrypted)
   */
  isShredded(keyId: string): boolean {
    return this.requireCipher('isShredded').keys.refuses(keyId)
  }

  /**
   * Wraps the log's keys again with the keyring's current master key (open with `[newKey, oldKey]`,
   * rotate, and from then on only the new key is needed). Segments and data keys are unchanged.
   *
   * @throws WalError `WAL_INVALID_ARGUMENT` (the log is not encrypted), `WAL_KEYRING`, `WAL_IO`
   */
  async rotateMasterKey(): Promise<void> {
    this.requireOpen()
    await this.requireCipher('rotateMasterKey').keys.rotateMasterKey()
    this.uploader?.keysChanged()
  }

  /**
   * Takes another log's key store entries into this sealed copy's (`encryption: 'sealed'`): a replica
   * keeping the keys its records need, in their sealed form (see {@link WalReader.keyStore}). In
   * order: a header replaces this store's (the source rotated its master key), a data key is added (an
   * id shredded here stays shredded), a shredded id drops its key here too. Durable before it
   * resolves: new keys are appended and fdatasync'ed; a shred, a new header or the first import
   * rewrites the file atomically, without the removed key. Import a record's key before `appendRaw`
   * of the record.
   *
   * @param entries - e.g. from the source's {@link WalReader.keyStore}, or decoded from messages
   * @throws WalError `WAL_INVALID_ARGUMENT` (the log is not a sealed copy, no header in the first
   *   import, two keys for one id: another log's store, a malformed entry), `WAL_IO`, `WAL_CLOSED`
   * @example
   * ```ts no-run
   * const copy = await Wal.open({ dir: './replica', encryption: 'sealed', serializer, firstSeq })
   * await copy.importKeys((await source.keyStore())!.entries)
   * await copy.appendRaw(rawRecords)
   * ```
   */
  async importKeys(entries: Iterable<KeyStoreEntry>): Promise<void> {
    this.requireOpen()
    const keys = this.shared.keys
    if (!this.sealedCopy || keys === undefined) {
      throw WalError.INVALID_ARGUMENT("importKeys needs a sealed copy (Wal.open with encryption: 'sealed')")
    }
    if (await keys.import(toEntries(entries))) this.uploader?.keysChanged()
  }

  private get cipher(): RecordCipher | undefined {
    return this.shared.cipher
  }

  /** Whether this log is a sealed copy of an encrypted log (`encryption: 'sealed'`). */
  private get sealedCopy(): boolean {
    return this.shared.keys !== undefined && this.shared.cipher === undefined
  }

  private requireCipher(what: string): RecordCipher {
    const cipher = this.cipher
    if (this.sealedCopy) throw sealedCopyError(what)
    if (cipher === undefined)
      throw WalError.INVALID_ARGUMENT(`${what} needs an encrypted log (the encryption option)`)
    return cipher
  }

  /**
   * Checks raw records against the log's encryption: in an encrypted log each is sealed with a key
   * the key store holds or shredded (so no copy holds a record whose key it cannot get); in another,
   * none is sealed.
   *
   * @throws WalError `WAL_INVALID_ARGUMENT`
   */
  private checkSealed(records: readonly RawRecord[]): void {
    const keys = this.shared.keys
    let checked: string | undefined
    for (const r of records) {
      const sealed = r?.encrypted === true
      if (keys === undefined) {
        if (!sealed) continue
        throw WalError.INVALID_ARGUMENT(
          `seq ${r.seq} is sealed (encrypted: true): appendRaw of sealed records needs an encrypted log (encryption: 'sealed' for a copy)`,
        )
      }
      if (!sealed) {
        throw WalError.INVALID_ARGUMENT(
          'appendRaw into an encrypted log takes sealed records only (encrypted: true)',
        )
      }
      let keyId: string | undefined
      try {
        keyId = r.data instanceof Uint8Array ? sealedKeyId(r) : undefined
      } catch (err) {
        throw WalError.INVALID_ARGUMENT(`seq ${r.seq}: its data is not a sealed field`, { cause: err })
      }
      if (keyId === undefined) {
        throw WalError.INVALID_ARGUMENT(`seq ${r.seq}: its data is not a sealed field`)
      }
      // Records of one subject come in runs: check each run's id once.
      if (keyId === checked) continue
      if (keys.state(keyId) === 'unknown') {
        throw WalError.INVALID_ARGUMENT(
          `seq ${r.seq} is sealed with key '${keyId}', which this log's key store does not hold: import it first`,
        )
      }
      checked = keyId
    }
  }

  /**
   * Hands `records` to the writer once their data keys exist. Creating a key takes an fdatasync of
   * the key store, so appends behind one wait for it too: seqs follow the order of the calls.
   */
  private afterKeys(records: readonly AppendRecord[], append: () => Promise<number>): Promise<number> {
    const cipher = this.cipher
    let missing: string[] | undefined
    if (cipher !== undefined) {
      try {
        for (const r of records) {
          const id = cipher.keyIdOf(r)
          if (cipher.keys.usable(id)) continue
          missing ??= []
          missing.push(id)
        }
      } catch (err) {
        return Promise.reject(err)
      }
    }
    return new Promise((resolve, reject) => {
      // Every append settles one reaction after the writer's promise, whether it waited for a key or
      // not: callers see acknowledgements in seq order, as the writer gives them (an event store
      // applies them to its index in that order).
      const issue = () => void append().then(resolve, reject)
      if (missing === undefined && this.keyGate === undefined) return issue()
      const before = this.keyGate ?? Promise.resolve()
      const issued = Promise.all([before, missing && cipher!.keys.ensure(missing)]).then(issue)
      issued.catch(reject)
      const gate = issued.catch(() => {})
      this.keyGate = gate
      void gate.then(() => {
        if (this.keyGate === gate) this.keyGate = undefined
      })
    })
  }

  /**
   * Writes everything appended so far to the OS (survives a process crash once resolved).
   *
   * @throws WalError `WAL_IO`, `WAL_CLOSED`
   */
  flush(): Promise<void> {
    return this.writer.flush()
  }

  /**
   * Writes and fdatasyncs everything appended so far (survives power loss once resolved).
   *
   * @throws WalError `WAL_IO`, `WAL_CLOSED`
   */
  sync(): Promise<void> {
    return this.writer.sync()
  }

  /**
   * Deletes whole segments all of whose records have a seq below `seq` (retention). The newest
   * segment is never deleted. Oldest first, with a directory fsync after each, so a crash midway never
   * leaves a gap.
   *
   * @param seq - records below this seq may be removed
   * @returns the number of segment files deleted
   * @throws WalError `WAL_IO`, `WAL_CLOSED`
   */
  async truncateBefore(seq: number): Promise<number> {
    checkSeq('seq', seq)
    this.requireOpen()
    const run = this.truncating.then(() => this.removeSegmentsBefore(seq))
    this.truncating = run.catch(() => {})
    return run
  }

  private async removeSegmentsBefore(seq: number): Promise<number> {
    let removed = 0
    for (;;) {
      const [oldest, next] = this.shared.state.list
      if (oldest === undefined || next === undefined || next.firstSeq > seq) break
      // Counted in the metrics; a size that cannot be read counts as 0 (the removal goes on).
      const bytes = await (this.retention?.size(oldest) ?? segmentFileSize(this.shared.files, oldest)).catch(
        () => 0,
      )
      try {
        await this.shared.files.unlink(oldest.path)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
          throw WalError.IO(`deleting ${oldest.path} failed`, { cause: err, file: oldest.path })
        }
      }
      // The file is gone: forget it now, so a failing directory fsync below leaves the state true
      // (a later call fsyncs again).
      this.shared.state.removeOldest()
      removed++
      this.removals.segmentsRemoved++
      this.removals.bytesRemoved += bytes
      // Its seek file too (one left behind is removed by the next open).
      await this.shared.files.unlink(join(this.dir, seekFileName(oldest.firstSeq))).catch(() => {})
      try {
        await this.shared.files.syncDir(this.dir)
      } catch (err) {
        throw WalError.IO(`fsync of ${this.dir} after deleting ${oldest.path} failed`, {
          cause: err,
          file: this.dir,
        })
      }
    }
    if (removed > 0) this.shared.logger.info('truncated segments', { removed, firstSeq: this.firstSeq })
    return removed
  }

  /**
   * Counters and gauges: appends, bytes, batches written, fsyncs and their latency, segments,
   * pending bytes, and the recovery report.
   *
   * @returns a snapshot of the metrics
   */
  override metrics(): WalMetrics {
    const w = this.writer
    return {
      appends: w.stats.appends,
      bytes: w.stats.bytes,
      batchesWritten: w.stats.batches,
      fsyncs: w.stats.fsyncs,
      fsyncLatencyMs: {
        p50: w.stats.fsyncLatency.percentile(50),
        p99: w.stats.fsyncLatency.percentile(99),
      },
      segments: this.shared.state.list.length,
      rotations: w.stats.rotations,
      pendingBytes: w.pendingBytes,
      lastSeq: this.lastSeq,
      writtenSeq: w.writtenSeq,
      durableSeq: w.durableSeq,
      recovery: this.recovery,
      locatedReads: super.metrics().locatedReads,
      retention: { ...this.removals },
      archive: this.archiveMetrics(this.uploader?.counters ?? NO_UPLOADS),
    }
  }

  /**
   * Makes everything appended durable (write and fdatasync), closes the files and releases the lock.
   * Tails end; later calls fail with `WAL_CLOSED`. Idempotent.
   *
   * @throws WalError `WAL_IO` when the final sync failed (the lock is released all the same)
   */
  override close(): Promise<void> {
    return super.close()
  }

  protected override async closeOnce(): Promise<void> {
    this.closed = true
    if (this.retentionTimer) clearInterval(this.retentionTimer)
    try {
      // An upload under way is aborted: the next open resumes it.
      await this.uploader?.close()
      await this.truncating
      await this.keyGate
      await this.writer.close()
    } finally {
      // No seek file and no key store write once the lock is free (another writer may own the
      // directory then).
      await this.closeSeekFiles()
      await this.shared.keys?.close()
      this.lock.release()
      // The reader's part: the files point reads keep open, and waking waiters.
      await super.closeOnce()
    }
  }

  protected override isWriter(): boolean {
    return true
  }

  /** Writes appends still pending when `seq` is one of them. */
  protected override async makeReadable(seq: number): Promise<void> {
    if (seq <= this.lastSeq) await this.flush()
  }
}

/**
 * `recordsAt` when some seqs lie below the oldest local segment (`first`): those are read from the
 * archive's copies, each by a range read of one record (an archived copy has no seek index, so each
 * walks its segment from the start), the others as usual.
 */
async function readAtWithArchive(
  source: ReadSource,
  seqs: readonly number[],
  locations: Readonly<FrameLocations> | undefined,
  first: number,
): Promise<WalRecord[]> {
  const out = new Array<WalRecord>(seqs.length)
  const local: number[] = []
  const localAt: number[] = []
  const located: FrameLocations | undefined = locations && { offsets: [], lengths: [] }
  const archived = new Map<number, WalRecord | undefined>()
  for (let i = 0; i < seqs.length; i++) {
    const seq = seqs[i]!
    if (seq >= first) {
      local.push(seq)
      localAt.push(i)
      located?.offsets.push(locations!.offsets[i]!)
      located?.lengths.push(locations!.lengths[i]!)
    } else {
      archived.set(seq, undefined)
    }
  }
  // One walk from the lowest archived seq to the highest, decoding only those.
  const wanted = [...archived.keys()].sort((a, b) => a - b)
  if (wanted.length > 0) {
    const reader = new RecordReader(source, wanted[0]!, wanted.at(-1)!, false, new Set(wanted))
    try {
      while (await reader.fill())
        for (const r of reader.records) if (archived.has(r.seq)) archived.set(r.seq, r)
    } finally {
      await reader.close()
    }
  }
  const fromLocal = local.length > 0 ? await readRecordsAt(source, local, located) : []
  for (let j = 0; j < fromLocal.length; j++) out[localAt[j]!] = fromLocal[j]!
  for (let i = 0; i < seqs.length; i++) {
    if (out[i] !== undefined) continue
    const record = archived.get(seqs[i]!)
    if (record === undefined) {
      throw WalError.TRUNCATED(`seq ${seqs[i]} was removed while reading`, { seq: seqs[i]! })
    }
    out[i] = record
  }
  return out
}

/** The snapshot of the key store an archive upload copies (see `archive.ts`); never read at open. */
const KEY_UPLOAD_FILE = `${KEY_STORE_FILE}.upload`

/** The error of an append that a sealed copy refuses. */
function sealedCopyError(what: string): WalError {
  return WalError.INVALID_ARGUMENT(
    `${what}: this log is a sealed copy (encryption: 'sealed'): it takes sealed records through appendRaw and keys through importKeys only`,
  )
}

/** Opens the key store of an encrypted log and the cipher over it. */
async function openCipher(o: {
  files: Files
  dir: string
  encryption: EncryptionOptions
  readOnly: boolean
  fileMode: number
  logger: WalLogger
  logHasRecords: boolean
  maxRecordSize: number
  /** A writer's compression: in an encrypted log, each record's data is compressed before it is sealed. */
  compression?: BlockCompressor | undefined
}): Promise<RecordCipher> {
  const keys = await KeyStore.open({
    files: o.files,
    dir: o.dir,
    keyring: o.encryption.keyring,
    readOnly: o.readOnly,
    fileMode: o.fileMode,
    logger: o.logger,
    logHasRecords: o.logHasRecords,
  })
  return new RecordCipher(keys, o.encryption.keyFor, o.maxRecordSize, o.compression)
}

/** Creates the log directory; a new directory's entry lives in its parent, so every parent is fsync'ed. */
async function createDirectory(files: Files, dir: string): Promise<void> {
  try {
    const created = await files.mkdir(dir)
    // fsync every parent from the first one created down, or the whole log could vanish with a
    // power cut.
    if (created !== undefined) {
      for (let d = resolve(dir); d !== dirname(resolve(created)); d = dirname(d)) {
        await files.syncDir(dirname(d))
      }
    }
  } catch (err) {
    throw WalError.IO(`cannot create ${dir}`, { cause: err, file: dir })
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
