export {
  isReplicationError,
  ReplicationError,
  type ReplicationErrorCode,
  type ReplicationErrorDetails,
} from './errors.js'
export {
  type ReplicateOptions,
  type ReplicationMetrics,
  type Replicator,
  type ReplicatorState,
  replicateToJetStream,
} from './replicate.js'
export { type RestoreOptions, type RestoreResult, restoreFromJetStream } from './restore.js'
export { replicaSerializer } from './serializer.js'
export {
  DEFAULT_DUPLICATE_WINDOW_MS,
  type EnsureStreamOptions,
  ensureStream,
  escapeHeaderValue,
  HEADER,
  MESSAGE_FORMAT,
  type MessageLike,
  parseReplicatedMessage,
  type ReplicatedMessage,
} from './stream.js'
