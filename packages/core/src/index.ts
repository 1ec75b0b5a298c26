export {
  type Archive,
  type ArchiveCounters,
  type ArchiveDownload,
  type ArchivedSegment,
  type ArchiveEntry,
  directoryArchive,
} from './archive.js'
export {
  ARCHIVE_CACHE_DEFAULTS,
  type ArchiveCacheOptions,
  type ArchiveFetchCounters,
  type ResolvedArchiveCache,
} from './archive-cache.js'
export type { CompressionCodec, CompressionOption } from './compression.js'
export {
  isSerializerError,
  isWalError,
  isWaltzError,
  SerializerError,
  type SerializerErrorCode,
  type SerializerErrorDetails,
  WalError,
  type WalErrorCode,
  type WalErrorDetails,
  WaltzError,
} from './errors.js'
export type { FrameProblemCode } from './format.js'
export { FORMAT_VERSION, MAX_KEY_BYTES, MAX_TIME, MAX_TYPE_BYTES, segmentFileName } from './format.js'
export { KEY_STORE_FILE } from './key-store.js'
export { type Keyring, localKeyring, type MasterKey } from './keyring.js'
export { type LockOwner, readLock } from './lock.js'
export { consoleLogger, type LogLevel, silentLogger, type WalLogger } from './logger.js'
export { type EncryptionOptions, WAL_DEFAULTS, type WalOptions, type WalReaderOptions } from './options.js'
export { type KeyedRecord, sealedKeyId } from './record-cipher.js'
export type { RecoveryReport } from './recovery.js'
export type { RetentionCounters, RetentionOptions } from './retention.js'
export type { ScanProblemCode, Verdict } from './scanner.js'
export {
  decodeKeyStoreEntry,
  encodeKeyStoreEntry,
  type ImportKeysOptions,
  importKeys,
  type KeyStoreEntry,
  parseKeyStore,
  readKeyStore,
  type SealedKeyStore,
} from './sealed-keys.js'
export {
  type AppendInput,
  BYTES_SERIALIZER_NAME,
  bytesSerializer,
  type EncodableRecord,
  type FrameLocations,
  type LocatedRecord,
  type RawRecord,
  type RecordHeaders,
  type RecordShape,
  type Serializer,
  type SerializerRecord,
  type WalRecord,
  type WalRecordOf,
} from './serializer.js'
export {
  publishStats,
  readWriterStats,
  STATS_FILE,
  type StatsOptions,
  type StatsPublisher,
  type WriterStats,
  type WriterStatsSample,
} from './stats-file.js'
export {
  type RecordsOptions,
  type TailOptions,
  Wal,
  type WalMetrics,
  WalReader,
} from './wal.js'
export type { SyncPolicy } from './writer.js'
