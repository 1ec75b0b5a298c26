export type { ArchiveSummary } from './archive-listing.js'
export { type CheckpointStore, type FileCheckpointStore, fileCheckpoints } from './checkpoint-file.js'
export {
  type CommandStore,
  type DecideContext,
  type HandleCommandOptions,
  type HandleCommandResult,
  handleCommand,
} from './command.js'
export { Consumer, type ConsumerContext, type ConsumerOptions } from './consumer.js'
export {
  EventStoreError,
  type EventStoreErrorCode,
  type EventStoreErrorDetails,
  isEventStoreError,
} from './errors.js'
export {
  type AggregateOptions,
  type AggregateResult,
  type AppendOptions,
  type AppendResult,
  type DeleteResult,
  EVENTSTORE_DEFAULTS,
  type EventFilter,
  EventStore,
  type EventStoreMetrics,
  type EventStoreOptions,
  type ReadAllOptions,
  type ReadStreamOptions,
  type ShredStreamResult,
  type StreamAppend,
  type SubscribeToAllOptions,
  type SubscribeToStreamOptions,
} from './event-store.js'
export type { EventInput, EventMetadata, ExpectedRevision, StoredEvent } from './events.js'
export type { NatsEventStoreOptions } from './nats/options.js'
export type { EventStoreApi, EventStoreApiMetrics } from './store-api.js'
export {
  type AllRecordsPage,
  type ConsumerCheckpointInfo,
  EventStoreReader,
  type EventStoreReaderOptions,
  type EventStoreReaderStats,
  type ListStreamsOptions,
  type ReadAllPageOptions,
  type ReadStreamPageOptions,
  type StoreRecord,
  type StoreRecordKind,
  type StreamEventsPage,
  type StreamInfo,
  type StreamListing,
  type StreamPage,
  toStoreRecord,
} from './store-reader.js'
export type { StreamIndexStats } from './stream-index.js'
export { uuidv7 } from './uuid.js'
