import type { RecordShape } from '@waltz/core'

/**
 * Maps each record type name to its payload type, e.g.
 * `{ OrderPlaced: { orderId: string; price: number }; OrderCancelled: { orderId: string } }`.
 */
export type EventMap = Record<string, unknown>

/**
 * The record union of an {@link EventMap}: one `RecordShape<K, Events[K]>` per key, discriminated by
 * `type`, so that `wal.append` checks `data` against its `type` and a record's `data` narrows after
 * checking `record.type`.
 *
 * @typeParam Events - the event map
 */
export type RecordOf<Events extends EventMap> = {
  [K in keyof Events & string]: RecordShape<K, Events[K]>
}[keyof Events & string]
