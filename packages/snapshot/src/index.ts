export { type Aggregate, fold } from './aggregate.js'
export { fromSerializer, msgpackrCodec, type RecordSerializerLike, type StateCodec } from './codec.js'
export {
  isSnapshotError,
  SnapshotError,
  type SnapshotErrorCode,
  type SnapshotErrorDetails,
} from './errors.js'
export {
  decodeSnapshot,
  encodeSnapshot,
  parseSnapshotFileName,
  SNAPSHOT_FORMAT_VERSION,
  type SnapshotContents,
  snapshotFileName,
} from './format.js'
export { type RecoverableWal, type Recovered, type RecoverOptions, recover } from './recover.js'
export { Snapshotter, type SnapshotterOptions, type SnapshotterWal } from './snapshotter.js'
export {
  type LoadedSnapshot,
  type LoadLatestOptions,
  type PreparedSnapshot,
  type SavedSnapshot,
  type SkippedSnapshot,
  type SnapshotInfo,
  SnapshotStore,
  type SnapshotStoreOptions,
} from './store.js'
