export {
  type GetEventsResult,
  type PushEventGroupResult,
  type PushEventResult,
  WaltzEventStorageAdapter,
  type WaltzEventStorageAdapterOptions,
} from './adapter.js'
export {
  CastoreAdapterError,
  type CastoreAdapterErrorCode,
  type CastoreAdapterErrorDetails,
  isCastoreAdapterError,
  WaltzEventAlreadyExistsError,
} from './errors.js'
export { METADATA_KEY, SEPARATOR, TIMESTAMP_KEY } from './mapping.js'
