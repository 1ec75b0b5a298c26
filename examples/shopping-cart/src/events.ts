/**
 * The cart's events: what happened, in the past tense, with the data a reader needs without looking
 * anything up (an `ItemRemoved` carries the quantity and price it takes out, so the read model can
 * update the total from the event alone). The zod schemas type the data and validate it on every
 * append and read, through `@waltz/serializer-json`.
 */
import type { StoredEvent } from '@waltz/eventstore'
import { type JsonRecordOf, jsonSerializer } from '@waltz/serializer-json'
import { z } from 'zod'

const sku = z.string().min(1).max(64)
/** Money is integer cents: no floating-point totals. */
const cents = z.int().nonnegative()
const quantity = z.int().positive()

/** The schema of each event type's data. */
export const cartSchemas = {
  CartOpened: z.object({ customerId: z.string().min(1).max(128) }),
  ItemAdded: z.object({ sku, quantity, unitPrice: cents }),
  ItemRemoved: z.object({ sku, quantity, unitPrice: cents }),
  CartConfirmed: z.object({ itemCount: quantity, total: cents }),
}

/** The event union as the store types it (`type` and `data`). */
export type CartRecord = JsonRecordOf<typeof cartSchemas>

/** An event as the decider sees it: `{ type, data }`, discriminated by `type`. */
export type CartEvent = {
  [R in CartRecord as R['type']]: { type: R['type']; data: R['data'] }
}[CartRecord['type']]

/** An event as read back from the store (with stream, revision, position, id, time). */
export type StoredCartEvent = StoredEvent<CartRecord>

/** The serializer of the cart store. */
export const cartSerializer: ReturnType<typeof jsonSerializer<typeof cartSchemas>> = jsonSerializer({
  schemas: cartSchemas,
})

/** The stream of cart `id`. */
export function cartStream(id: string): string {
  return `cart-${id}`
}

/** The prefix of every cart stream (the read model's consumer filters on it). */
export const CART_STREAM_PREFIX = 'cart-'
