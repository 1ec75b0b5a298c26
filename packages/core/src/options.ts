/**
 * The options of `Wal.open` and `Wal.openReader`, their defaults, and their validation: every option
 * is checked here, once, into a resolved form the rest of core trusts.
 */

import type { Archive } from './archive.js'
import {
  ARCHIVE_CACHE_DEFAULTS,
  type ArchiveCacheOptions,
  type ResolvedArchiveCache,
} from './archive-cache.js'
import { type BlockCompressor, type CompressionOption, resolveCompression } from './compression.js'
import { WalError } from './errors.js'
import { type Files, nodeFiles } from './files.js'
import type { Keyring } from './keyring.js'
import { silentLogger, type WalLogger } from './logger.js'
import type { KeyedRecord } from './record-cipher.js'
import type { ResolvedRetention, RetentionOptions } from './retention.js'
import { bytesSerializer, type RecordShape, type Serializer } from './serializer.js'
import type { SyncPolicy } from './writer.js'

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

/**
 * Encryption at rest (the `encryption` option): every record's data is sealed with AES-256-GCM under
 * the data key of its key id, one per data subject, kept in the log directory's key store
 * (`keys.wzk`) wrapped under the `keyring`'s master key. Seq, time, type, key and headers stay
 * readable. `wal.shred(keyId)` destroys a data key: that subject's records then read with no data and
 * `shredded: true`.
 */
export interface EncryptionOptions {
  /** The master key: {@link localKeyring} (from an environment variable or a file), or a KMS behind the {@link Keyring} interface. */
  keyring: Keyring
  /**
   * The key id (data subject) of a record being appended: records with the same id share a data key
   * and are shredded together. Default: the record's `key` (one data key per stream), `''` for
   * records without a key.
   */
  keyFor?: (record: KeyedRecord) => string
}

/**
 * Options of {@link Wal.openReader}. Only `dir` is required.
 *
 * @typeParam Rec - the record union, inferred from `serializer`
 */
export interface WalReaderOptions<Rec extends RecordShape = RecordShape<string, Uint8Array>> {
  /** The directory holding the segments. */
  dir: string
  /**
   * Decodes record data. Default: none, `data` is the stored bytes (`Uint8Array`) and a log written
   * by any serializer opens.
   */
  serializer?: Serializer<string, unknown, Rec>
  /** Largest record body in bytes; a larger length on disk is corruption. Default 16 MiB. */
  maxRecordSize?: number
  /** Where to report what recovery found. Default: silent. */
  logger?: WalLogger
  /**
   * The archive the log's writer copies sealed segments to: reads of records older than the oldest
   * local segment fetch the segments holding them from it (into `archiveCache`), so `replayFrom(0)`
   * returns every record even after retention removed them locally. Default: none (such reads are
   * `WAL_TRUNCATED`).
   */
  archive?: Archive
  /** Where and how many archived segments fetched for reads are kept. See {@link ArchiveCacheOptions}. */
  archiveCache?: ArchiveCacheOptions
  /**
   * Encryption at rest: the master key's keyring, and for a writer which data key seals each record.
   * Required to read the data of an encrypted log (without it, an encrypted record is `WAL_KEYRING`).
   * See {@link EncryptionOptions}. Default: none (a writer stores data as the serializer encodes it).
   */
  encryption?: EncryptionOptions
  /**
   * The file operations to use (tests substitute recording or failing ones).
   * @internal
   */
  files?: Files
}

/**
 * Options of {@link Wal.open}. Only `dir` is required.
 *
 * @typeParam Rec - the record union, inferred from `serializer`
 */
export interface WalOptions<Rec extends RecordShape = RecordShape<string, Uint8Array>>
  extends Omit<WalReaderOptions<Rec>, 'serializer' | 'encryption'> {
  /** The directory holding the segments (created if missing). */
  dir: string
  /**
   * Encryption at rest: the master key's keyring and which data key seals each record (see
   * {@link EncryptionOptions}). Or `'sealed'`: a copy of an encrypted log (a replica) kept by a process
   * without the master key. Its records arrive sealed through `appendRaw`, its key store's entries in
   * their sealed form through `importKeys` (each record's key first); `append`, `appendBatch`,
   * `shred` and `rotateMasterKey` are refused, and nothing is decrypted. Readers open the copy with
   * the keyring like the original. Default: none (data is stored as the serializer encodes it).
   */
  encryption?: EncryptionOptions | 'sealed'
  /** Encodes record data; default {@link bytesSerializer} (data is a `Uint8Array`). */
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
  /** Bytes appended but not yet written above which `append` waits (backpressure). Default 64 MiB. */
  maxPendingBytes?: number
  /** Permission bits of the files the WAL creates (segments, lock). Default `0o600`: owner read/write. */
  fileMode?: number
  /**
   * The seq of the first record when the directory holds no log yet (a replica continuing another
   * log). Ignored when segments exist. Default 1.
   */
  firstSeq?: number
  /** Where to report recovery, rotation and failures. Default: silent. */
  logger?: WalLogger
  /**
   * Remove old sealed segments by age and total size, never one holding a record at or above
   * `keepFrom()`: see {@link RetentionOptions}. Passes run after each rotation and every `intervalMs`,
   * never on the append path. Default: keep everything.
   */
  retention?: RetentionOptions
  /**
   * Copy every sealed segment here, in the background (verified by size and SHA-256; resumed after a
   * restart); with `retention`, a segment is removed locally only once archived, and reads of records
   * no longer on local disk fetch them from here (see `archiveCache`). See {@link Archive}. Default:
   * none.
   */
  archive?: Archive
  /**
   * Compress the records of each atomic group (one `append`, `appendBatch` or `appendRaw` call)
   * together into one block, with a codec of `node:zlib`: `'deflate'`, `'brotli'`, or `'zstd'` on a
   * Node that has it (22.15 and later), at its default level or `{ codec, level }`. A group is kept
   * as it is when its block would not be smaller. Reads decompress transparently (every build reads
   * every codec it has, whatever this option says), so the option can change between opens. With
   * `encryption`, each record's data is compressed before it is sealed instead (sealed bytes do not
   * compress). See {@link CompressionOption}. Default `'none'`.
   */
  compression?: CompressionOption
}

/** Reader options after validation, defaults applied. */
export interface ResolvedReaderOptions {
  dir: string
  serializer: Serializer<string, unknown, RecordShape> | undefined
  maxRecordSize: number
  logger: WalLogger
  files: Files
  archive: Archive | undefined
  archiveCache: ResolvedArchiveCache
  encryption: EncryptionOptions | undefined
}

/** Writer options after validation, defaults applied. */
export interface ResolvedWalOptions extends Omit<ResolvedReaderOptions, 'encryption'> {
  encryption: EncryptionOptions | 'sealed' | undefined
  serializer: Serializer<string, unknown, RecordShape>
  segmentSize: number
  segmentMaxAgeMs: number
  sync: SyncPolicy
  syncIntervalMs: number
  blockingSync: boolean
  bufferSize: number
  maxPendingBytes: number
  fileMode: number
  firstSeq: number
  retention: ResolvedRetention | undefined
  /** Compresses atomic groups into blocks, or undefined for none. */
  compression: BlockCompressor | undefined
}

/** Largest timer Node runs as asked (larger ones fire after 1 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1
/** Largest write buffer (a Buffer of more is refused by Node on some platforms). */
const MAX_BUFFER_SIZE = 2 ** 30

function positive(
  name: string,
  value: unknown,
  allowInfinity = false,
  maximum = Number.POSITIVE_INFINITY,
): number {
  if (
    typeof value !== 'number' ||
    !(value > 0) ||
    value > maximum ||
    (!allowInfinity && !Number.isFinite(value))
  ) {
    throw WalError.INVALID_ARGUMENT(`${name} must be a positive number, got ${String(value)}`)
  }
  return value
}

/** A count: a safe integer from `minimum` to `maximum`. */
function integer(name: string, value: unknown, minimum: number, maximum = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < minimum || value > maximum) {
    throw WalError.INVALID_ARGUMENT(
      `${name} must be an integer from ${minimum} to ${maximum}, got ${String(value)}`,
    )
  }
  return value
}

function checkSerializer(serializer: unknown): Serializer<string, unknown, RecordShape> {
  const s = serializer as Partial<Serializer> | null
  if (
    typeof s !== 'object' ||
    s === null ||
    typeof s.encode !== 'function' ||
    typeof s.decode !== 'function'
  ) {
    throw WalError.INVALID_ARGUMENT('serializer must have a name, encode and decode')
  }
  const nameBytes = typeof s.name === 'string' ? Buffer.byteLength(s.name) : 0
  if (nameBytes < 1 || nameBytes > 255) {
    throw WalError.INVALID_ARGUMENT('serializer.name must be 1 to 255 UTF-8 bytes')
  }
  return s as Serializer<string, unknown, RecordShape>
}

function checkCommon(options: unknown): WalReaderOptions<RecordShape> {
  if (typeof options !== 'object' || options === null) {
    throw WalError.INVALID_ARGUMENT('options must be an object')
  }
  const o = options as WalReaderOptions<RecordShape>
  if (typeof o.dir !== 'string' || o.dir === '') {
    throw WalError.INVALID_ARGUMENT('dir must be a non-empty string')
  }
  return o
}

const READER_KEYS: readonly string[] = [
  'dir',
  'serializer',
  'maxRecordSize',
  'logger',
  'files',
  'archive',
  'archiveCache',
  'encryption',
]
const WAL_KEYS: readonly string[] = [
  ...READER_KEYS,
  'segmentSize',
  'segmentMaxAgeMs',
  'sync',
  'syncIntervalMs',
  'blockingSync',
  'bufferSize',
  'maxPendingBytes',
  'fileMode',
  'firstSeq',
  'retention',
  'compression',
]

/** Refuses keys that are no option: a typo (`syncPolicy: 'always'`) must not open with a default. */
function checkKeys(options: object, known: readonly string[], what: string): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      const hint = key === 'readOnly' ? ': open a read-only view with Wal.openReader({ dir })' : ''
      throw WalError.INVALID_ARGUMENT(`${what} has no option '${key}'${hint}`)
    }
  }
}

/**
 * Validates reader options and applies defaults.
 *
 * @throws WalError `WAL_INVALID_ARGUMENT`
 */
export function resolveReaderOptions(options: unknown, known = READER_KEYS): ResolvedReaderOptions {
  const o = checkCommon(options)
  checkKeys(o, known, known === READER_KEYS ? 'Wal.openReader' : 'Wal.open')
  return {
    dir: o.dir,
    serializer: o.serializer === undefined ? undefined : checkSerializer(o.serializer),
    maxRecordSize: integer('maxRecordSize', o.maxRecordSize ?? WAL_DEFAULTS.maxRecordSize, 1, 0xffffffff),
    logger: o.logger ?? silentLogger,
    files: o.files ?? nodeFiles,
    archive: o.archive === undefined ? undefined : checkArchive(o.archive),
    archiveCache: resolveArchiveCache(o.archiveCache),
    // `'sealed'` is a writer's (resolveWalOptions keeps it).
    encryption:
      o.encryption === undefined || (known !== READER_KEYS && (o.encryption as unknown) === 'sealed')
        ? undefined
        : checkEncryption(o.encryption),
  }
}

function checkEncryption(options: unknown): EncryptionOptions {
  const e = options as Partial<EncryptionOptions> | null
  if (typeof e !== 'object' || e === null) {
    throw WalError.INVALID_ARGUMENT(
      "encryption must be an object { keyring, keyFor? } (or, for a writer of a sealed copy, 'sealed')",
    )
  }
  for (const key of Object.keys(e)) {
    if (key !== 'keyring' && key !== 'keyFor')
      throw WalError.INVALID_ARGUMENT(`encryption has no option '${key}'`)
  }
  const k = e.keyring as Partial<Keyring> | undefined
  if (
    typeof k !== 'object' ||
    k === null ||
    typeof k.wrap !== 'function' ||
    typeof k.unwrap !== 'function' ||
    typeof k.currentKeyId !== 'string'
  ) {
    throw WalError.INVALID_ARGUMENT(
      'encryption.keyring must have currentKeyId, wrap and unwrap (localKeyring)',
    )
  }
  if (e.keyFor !== undefined && typeof e.keyFor !== 'function') {
    throw WalError.INVALID_ARGUMENT('encryption.keyFor must be a function of the record')
  }
  return e as EncryptionOptions
}

function resolveArchiveCache(options: unknown): ResolvedArchiveCache {
  if (options === undefined) return ARCHIVE_CACHE_DEFAULTS
  if (typeof options !== 'object' || options === null) {
    throw WalError.INVALID_ARGUMENT('archiveCache must be an object { dir?, maxBytes? }')
  }
  const c = options as ArchiveCacheOptions
  for (const key of Object.keys(c)) {
    if (key !== 'dir' && key !== 'maxBytes')
      throw WalError.INVALID_ARGUMENT(`archiveCache has no option '${key}'`)
  }
  if (c.dir !== undefined && (typeof c.dir !== 'string' || c.dir === '')) {
    throw WalError.INVALID_ARGUMENT('archiveCache.dir must be a non-empty string')
  }
  return {
    dir: c.dir ?? ARCHIVE_CACHE_DEFAULTS.dir,
    maxBytes: integer('archiveCache.maxBytes', c.maxBytes ?? ARCHIVE_CACHE_DEFAULTS.maxBytes, 1),
  }
}

const SYNC_POLICIES: readonly string[] = ['always', 'os-cache', 'background']

/**
 * Validates writer options and applies defaults.
 *
 * @throws WalError `WAL_INVALID_ARGUMENT`
 */
export function resolveWalOptions(options: unknown): ResolvedWalOptions {
  const reader = resolveReaderOptions(options, WAL_KEYS)
  const o = options as WalOptions<RecordShape>
  const sync = o.sync ?? WAL_DEFAULTS.sync
  if (!SYNC_POLICIES.includes(sync)) {
    throw WalError.INVALID_ARGUMENT(`sync must be 'always', 'os-cache' or 'background'`)
  }
  const blockingSync = o.blockingSync ?? WAL_DEFAULTS.blockingSync
  if (typeof blockingSync !== 'boolean') throw WalError.INVALID_ARGUMENT('blockingSync must be a boolean')
  return {
    ...reader,
    encryption: o.encryption === 'sealed' ? 'sealed' : reader.encryption,
    serializer: o.serializer === undefined ? bytesSerializer() : checkSerializer(o.serializer),
    segmentSize: integer('segmentSize', o.segmentSize ?? WAL_DEFAULTS.segmentSize, 64),
    segmentMaxAgeMs: positive('segmentMaxAgeMs', o.segmentMaxAgeMs ?? WAL_DEFAULTS.segmentMaxAgeMs, true),
    sync,
    // Node's timers clamp anything above 2^31 - 1 ms to 1 ms.
    syncIntervalMs: positive(
      'syncIntervalMs',
      o.syncIntervalMs ?? WAL_DEFAULTS.syncIntervalMs,
      false,
      MAX_TIMER_MS,
    ),
    blockingSync,
    bufferSize: integer('bufferSize', o.bufferSize ?? WAL_DEFAULTS.bufferSize, 64, MAX_BUFFER_SIZE),
    maxPendingBytes: integer('maxPendingBytes', o.maxPendingBytes ?? WAL_DEFAULTS.maxPendingBytes, 1),
    fileMode: integer('fileMode', o.fileMode ?? WAL_DEFAULTS.fileMode, 0, 0o777),
    firstSeq: integer('firstSeq', o.firstSeq ?? 1, 1),
    retention: o.retention === undefined ? undefined : resolveRetention(o.retention),
    compression: resolveCompression(o.compression),
  }
}

function checkArchive(archive: unknown): Archive {
  const a = archive as Partial<Archive> | null
  const methods = ['put', 'stat', 'list', 'get'] as const
  if (typeof a !== 'object' || a === null || methods.some((m) => typeof a[m] !== 'function')) {
    throw WalError.INVALID_ARGUMENT('archive must have put, stat, list and get (s3Archive, directoryArchive)')
  }
  return a as Archive
}

const RETENTION_KEYS: readonly string[] = ['maxAgeMs', 'maxBytes', 'keepFrom', 'intervalMs']

/** Validates the retention options and applies defaults. */
function resolveRetention(options: unknown): ResolvedRetention {
  if (typeof options !== 'object' || options === null) {
    throw WalError.INVALID_ARGUMENT(
      'retention must be an object { maxAgeMs?, maxBytes?, keepFrom?, intervalMs? }',
    )
  }
  for (const key of Object.keys(options)) {
    if (!RETENTION_KEYS.includes(key)) throw WalError.INVALID_ARGUMENT(`retention has no option '${key}'`)
  }
  const r = options as RetentionOptions
  if (r.keepFrom !== undefined && typeof r.keepFrom !== 'function') {
    throw WalError.INVALID_ARGUMENT('retention.keepFrom must be a function returning a seq')
  }
  return {
    maxAgeMs: positive('retention.maxAgeMs', r.maxAgeMs ?? Number.POSITIVE_INFINITY, true),
    maxBytes: positive('retention.maxBytes', r.maxBytes ?? Number.POSITIVE_INFINITY, true),
    keepFrom: r.keepFrom,
    intervalMs: positive('retention.intervalMs', r.intervalMs ?? 60_000, false, MAX_TIMER_MS),
  }
}
