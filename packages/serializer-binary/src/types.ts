import type { EncodableRecord } from '@waltz/core'

/**
 * Maps each record type name to its payload type, e.g.
 * `{ OrderPlaced: { orderId: string; price: number }; OrderCancelled: { orderId: string } }`.
 */
export type EventMap = Record<string, unknown>

/**
 * The record union of an {@link EventMap}: one `EncodableRecord<K, Events[K]>` per key, discriminated by
 * `type`, so that `data` narrows after checking `record.type`.
 *
 * @typeParam Events - the event map
 */
export type RecordOf<Events extends EventMap> = {
  [K in keyof Events & string]: EncodableRecord<K, Events[K]>
}[keyof Events & string]
