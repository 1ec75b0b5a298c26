// The event model. Field names and types follow `order_events.proto`, shipped by @waltz/serializer-proto,
// so the same events can be written with any of the serializers: prices are integer ticks, quantities
// integer lots, order and trade ids decimal strings (proto `string`), sides the proto enum's numbers.

/** `waltz.example.Side`: 1 = buy, 2 = sell. */
export const BUY = 1
export const SELL = 2
export type Side = typeof BUY | typeof SELL

/** Largest accepted price (ticks) and quantity (lots): far below 2^53, so sums stay exact. */
export const MAX_PRICE = 1_000_000_000
export const MAX_QUANTITY = 1_000_000_000

/** An order entered the book (`price` 0 = a market order, which never rests). */
export interface OrderPlaced {
  orderId: string
  accountId: string
  symbol: string
  side: Side
  price: number
  quantity: number
  tags: string[]
}

/** A fill between a resting order (the maker, always the older, lower id) and the incoming order. */
export interface TradeExecuted {
  tradeId: string
  buyOrderId: string
  sellOrderId: string
  /** Always the resting order's price. */
  price: number
  quantity: number
}

/** An order left the book with its unfilled quantity. */
export interface OrderCancelled {
  orderId: string
  reason: string
}

/** A command was refused; the book is unchanged. */
export interface OrderRejected {
  /** The cancel's target; empty for a refused new order (which gets no id). */
  orderId: string
  reason: string
  code: RejectCode
}

/** `OrderCancelled.reason` values. Only a `user` cancel is a command of its own. */
export const CANCEL_USER = 'user'
export const CANCEL_UNFILLED_MARKET = 'unfilled market order'

/** `OrderRejected.code` values. */
export const REJECT_UNKNOWN_ORDER = 1
export const REJECT_BAD_PRICE = 2
export const REJECT_BAD_QUANTITY = 3
export type RejectCode = typeof REJECT_UNKNOWN_ORDER | typeof REJECT_BAD_PRICE | typeof REJECT_BAD_QUANTITY

/** Record type → payload: the type argument of `binarySerializer<Events>()`. */
export type Events = {
  OrderPlaced: OrderPlaced
  TradeExecuted: TradeExecuted
  OrderCancelled: OrderCancelled
  OrderRejected: OrderRejected
}
export type EventType = keyof Events

/**
 * One event as decided and appended: `{ type, key, data }`, discriminated by `type`. The record `key` is
 * the id of the order the command was about: the order placed (its fills included) or cancelled, the
 * target of a rejected cancel. A rejected new order gets no id, so its event has no key.
 */
export type OrderEvent = { [K in EventType]: { type: K; key?: string; data: Events[K] } }[EventType]

/** What clients send. Prices and quantities are validated by `decide`, not trusted. */
export type Command =
  | { kind: 'limit'; accountId: string; side: Side; price: number; quantity: number }
  | { kind: 'market'; accountId: string; side: Side; quantity: number }
  | { kind: 'cancel'; accountId: string; orderId: string }
