export {
  type WaltzEventStoreConsumer,
  type WaltzEventStoreConsumerOptions,
  type WaltzMessageProcessor,
  waltzEventStoreConsumer,
} from './consumer.js'
export {
  getWaltzEventStore,
  type WaltzEventStore,
  type WaltzEventStoreOptions,
} from './event-store.js'
export { JSON_METADATA } from './metadata.js'
export type { WaltzReadEvent, WaltzReadEventMetadata } from './read-event.js'
