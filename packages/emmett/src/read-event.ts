/** The emmett shape of a stored waltz event, shared by the store's reads and the consumer. */
import type { Event, ReadEvent, ReadEventMetadataWithGlobalPosition } from '@event-driven-io/emmett'
import type { StoredEvent } from '@waltz/eventstore'
import { decodeMetadata } from './metadata.js'

/**
 * Metadata of the events a `WaltzEventStore` reads: emmett's, with a global position. In an
 * encrypted waltz store, an event whose data key was shredded has `shredded: true` and no `data`.
 */
export type WaltzReadEventMetadata = ReadEventMetadataWithGlobalPosition & {
  /** Set when the event's data key was shredded (encrypted stores): the event has no `data`. */
  shredded?: true
}

/** An event as a `WaltzEventStore` reads it and a waltz consumer hands it to emmett processors. */
export type WaltzReadEvent<EventType extends Event = Event> = ReadEvent<EventType, WaltzReadEventMetadata>

/**
 * An emmett read event of a waltz one. `messageId` is the one given on append; without one, the waltz
 * event id (emmett's stores make one up then too).
 */
export function toReadEvent(e: StoredEvent): WaltzReadEvent {
  const metadata: Record<string, unknown> = decodeMetadata(e.metadata)
  metadata.messageId ??= e.id
  metadata.streamName = e.stream
  metadata.streamPosition = BigInt(e.revision)
  metadata.globalPosition = BigInt(e.position)
  if (e.shredded === true) metadata.shredded = true
  return {
    type: e.type,
    data: e.data as Record<string, unknown>,
    metadata: metadata as WaltzReadEventMetadata,
    kind: 'Event',
  } as WaltzReadEvent
}
