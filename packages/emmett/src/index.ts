export {
  getWaltzEventStore,
  type WaltzEventStore,
  type WaltzEventStoreOptions,
  type WaltzReadEvent,
  type WaltzReadEventMetadata,
} from './event-store.js'
export { JSON_METADATA } from './metadata.js'
