export {
  isSerializerError,
  isWalError,
  SerializerError,
  type SerializerErrorCode,
  type SerializerErrorDetails,
  WalError,
  type WalErrorCode,
  type WalErrorDetails,
} from './errors.js'
export { FORMAT_VERSION, FRAME_HEADER_SIZE, segmentFileName } from './format.js'
export { type LockOwner, readLock } from './lock.js'
export { consoleLogger, type LogLevel, silentLogger, type WalLogger } from './logger.js'
export type { StoredFrame } from './reader.js'
export type { RecoveryReport } from './recovery.js'
export {
  type AppendInput,
  bytesSerializer,
  type EncodableRecord,
  type Serializer,
  type SerializerRecord,
  type WalRecord,
  type WalRecordOf,
} from './serializer.js'
export {
  type RecordsOptions,
  type TailOptions,
  WAL_DEFAULTS,
  Wal,
  type WalMetrics,
  type WalOptions,
} from './wal.js'
export type { SyncPolicy } from './writer.js'
