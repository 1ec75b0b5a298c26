import type { Command, Event } from '@event-driven-io/emmett'
import type { Serializer } from '@waltz/core'
import { EventStore, type EventStoreOptions } from '@waltz/eventstore'
import { afterEach } from 'vitest'
import { getWaltzEventStore, type WaltzEventStore } from '../src/index.js'

/** Events as the waltz store sees them: any type, JSON data. */
export type JsonEvent = { type: string; data: unknown }

/** A plain JSON serializer: the adapter is serializer-agnostic. */
export const json: Serializer<string, unknown, JsonEvent> = {
  name: 'test-json/1',
  encode: (data) => Buffer.from(JSON.stringify(data)),
  decode: (bytes) =>
    JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')),
}

const open: EventStore<JsonEvent>[] = []
afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((s) => s.close()))
})

/** Opens a waltz store in `dir` (closed after the test) and its emmett adapter. */
export async function openStores(
  dir: string,
  options: Partial<EventStoreOptions<JsonEvent>> = {},
): Promise<{ waltz: EventStore<JsonEvent>; eventStore: WaltzEventStore }> {
  const waltz = await EventStore.open<JsonEvent>({ dir, serializer: json, indexFlushEvents: 64, ...options })
  open.push(waltz)
  return { waltz, eventStore: getWaltzEventStore({ eventStore: waltz }) }
}

// The shopping cart of emmett's own store tests, written anew.

export type PricedProductItem = { productId: string; quantity: number; price: number }
export type ShoppingCart = { productItems: PricedProductItem[]; totalAmount: number }

export type ProductItemAdded = Event<'ProductItemAdded', { productItem: PricedProductItem }>
export type DiscountApplied = Event<'DiscountApplied', { percent: number; couponId: string }>
export type ShoppingCartEvent = ProductItemAdded | DiscountApplied

export type AddProductItem = Command<'AddProductItem', { productItem: PricedProductItem }>
export type ApplyDiscount = Command<'ApplyDiscount', { percent: number; couponId: string }>
export type ShoppingCartCommand = AddProductItem | ApplyDiscount

export const initialState = (): ShoppingCart => ({ productItems: [], totalAmount: 0 })

export const evolve = (state: ShoppingCart, { type, data }: ShoppingCartEvent): ShoppingCart => {
  switch (type) {
    case 'ProductItemAdded':
      return {
        productItems: [...state.productItems, data.productItem],
        totalAmount: state.totalAmount + data.productItem.price * data.productItem.quantity,
      }
    case 'DiscountApplied':
      return { ...state, totalAmount: (state.totalAmount * (100 - data.percent)) / 100 }
  }
}

/** A discount needs a non-empty cart and is given once per coupon. */
export class CartError extends Error {
  override readonly name = 'CartError'
}

export const decide = (command: ShoppingCartCommand, state: ShoppingCart): ShoppingCartEvent => {
  switch (command.type) {
    case 'AddProductItem':
      return { type: 'ProductItemAdded', data: { productItem: command.data.productItem } }
    case 'ApplyDiscount':
      if (state.productItems.length === 0) throw new CartError('an empty cart gets no discount')
      return { type: 'DiscountApplied', data: command.data }
  }
}

export const book: PricedProductItem = { productId: 'book', quantity: 10, price: 3 }
export const added = (productItem: PricedProductItem = book): ProductItemAdded => ({
  type: 'ProductItemAdded',
  data: { productItem },
})
export const discounted = (percent = 10, couponId = 'c-1'): DiscountApplied => ({
  type: 'DiscountApplied',
  data: { percent, couponId },
})
