// The book as an event-sourced aggregate: `apply(book, event)` is the only code that changes it, both in
// the running engine (on the events `decide` returned) and in recovery (on the events read back from
// the WAL), so the two cannot drift apart. `apply` mutates and returns the book (as `Aggregate` allows)
// to stay O(1) per event on a large book; it reads no clock, randomness or I/O.
import { createHash } from 'node:crypto'
import type { Aggregate } from '@waltz/snapshot'
import { BUY, CANCEL_USER, type OrderEvent, type Side } from './events.js'

/** An order on the book. */
export interface RestingOrder {
  id: string
  accountId: string
  side: Side
  /** Limit price in ticks; 0 for a market order (only ever on the book inside its own batch). */
  price: number
  quantity: number
  /** Unfilled quantity, 1..quantity. */
  remaining: number
}

/** The orders at one price, oldest first: time priority. */
export interface Level {
  price: number
  orders: string[]
}

/** Running totals, in lots. Conservation: placed = 2 × traded + cancelled + resting. */
export interface Totals {
  placed: number
  /** Quantity traded (each lot traded fills one buy lot and one sell lot). */
  traded: number
  cancelled: number
  trades: number
  rejected: number
}

/**
 * The whole state. Plain data (arrays, a `Map`, numbers, strings) so the snapshot codec round-trips it
 * and {@link hashBook} can encode it canonically.
 */
export interface Book {
  /** Best (highest) price first. */
  bids: Level[]
  /** Best (lowest) price first. */
  asks: Level[]
  /** Every order on the book by id. */
  orders: Map<string, RestingOrder>
  /** The id the next accepted order gets. */
  nextOrderId: number
  nextTradeId: number
  /** Commands applied: accepted orders, user cancels and rejections (the flow's resume point). */
  commands: number
  totals: Totals
}

/** A fresh, empty book. */
export function emptyBook(): Book {
  return {
    bids: [],
    asks: [],
    orders: new Map(),
    nextOrderId: 1,
    nextTradeId: 1,
    commands: 0,
    totals: { placed: 0, traded: 0, cancelled: 0, trades: 0, rejected: 0 },
  }
}

/** The side's levels, best first. */
export function levelsOf(book: Book, side: Side): Level[] {
  return side === BUY ? book.bids : book.asks
}

/** Whether `price` may trade against a resting order of `restingSide` at `levelPrice`. */
export function crosses(restingSide: Side, levelPrice: number, price: number): boolean {
  return restingSide === BUY ? price <= levelPrice : price >= levelPrice
}

/** Index of the first level of `levels` (of `side`) whose price is not better than `price`. */
function levelIndex(levels: Level[], side: Side, price: number): number {
  let lo = 0
  let hi = levels.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    const p = levels[mid]!.price
    if (side === BUY ? p > price : p < price) lo = mid + 1
    else hi = mid
  }
  return lo
}

function fail(message: string): never {
  throw new Error(`order book: ${message} (the log does not match the engine that wrote it)`)
}

function rest(book: Book, order: RestingOrder): void {
  const levels = levelsOf(book, order.side)
  const i = levelIndex(levels, order.side, order.price)
  const level = levels[i]
  if (level !== undefined && level.price === order.price) level.orders.push(order.id)
  else levels.splice(i, 0, { price: order.price, orders: [order.id] })
}

function remove(book: Book, order: RestingOrder): void {
  book.orders.delete(order.id)
  if (order.price === 0) return // a market order is never on a level
  const levels = levelsOf(book, order.side)
  const i = levelIndex(levels, order.side, order.price)
  const level = levels[i]
  if (level === undefined || level.price !== order.price)
    fail(`no level ${order.price} for order ${order.id}`)
  // Fills take the head (the oldest); the incoming order is the tail; a cancel may be anywhere.
  const at = level.orders[0] === order.id ? 0 : level.orders.lastIndexOf(order.id)
  if (at < 0) fail(`order ${order.id} missing from level ${order.price}`)
  if (at === 0) level.orders.shift()
  else level.orders.splice(at, 1)
  if (level.orders.length === 0) levels.splice(i, 1)
}

function fill(book: Book, id: string, quantity: number): void {
  const order = book.orders.get(id) ?? fail(`trade on unknown order ${id}`)
  if (quantity > order.remaining) fail(`order ${id} overfilled`)
  order.remaining -= quantity
  if (order.remaining === 0) remove(book, order)
}

/**
 * Applies one event to the book and returns it (mutated). An incoming limit order joins the tail of
 * its level at once; the trades of the same batch then take it down (the batch is atomic, so no one
 * ever observes the book between its events).
 *
 * @throws Error when the event contradicts the book (a log written by another engine)
 */
export function applyEvent(book: Book, event: OrderEvent): Book {
  switch (event.type) {
    case 'OrderPlaced': {
      const e = event.data
      if (e.orderId !== String(book.nextOrderId)) fail(`order id ${e.orderId}, expected ${book.nextOrderId}`)
      book.nextOrderId++
      book.commands++
      book.totals.placed += e.quantity
      const order: RestingOrder = {
        id: e.orderId,
        accountId: e.accountId,
        side: e.side,
        price: e.price,
        quantity: e.quantity,
        remaining: e.quantity,
      }
      book.orders.set(order.id, order)
      if (order.price !== 0) rest(book, order)
      return book
    }
    case 'TradeExecuted': {
      const e = event.data
      if (e.tradeId !== String(book.nextTradeId)) fail(`trade id ${e.tradeId}, expected ${book.nextTradeId}`)
      book.nextTradeId++
      book.totals.trades++
      book.totals.traded += e.quantity
      fill(book, e.buyOrderId, e.quantity)
      fill(book, e.sellOrderId, e.quantity)
      return book
    }
    case 'OrderCancelled': {
      const e = event.data
      const order = book.orders.get(e.orderId) ?? fail(`cancel of unknown order ${e.orderId}`)
      if (e.reason === CANCEL_USER) book.commands++
      book.totals.cancelled += order.remaining
      remove(book, order)
      return book
    }
    case 'OrderRejected':
      book.commands++
      book.totals.rejected++
      return book
  }
}

/** The aggregate `recover()` folds the WAL with. */
export const orderBook: Aggregate<Book, OrderEvent> = { initial: emptyBook, apply: applyEvent }

/**
 * SHA-256 of a canonical encoding of the whole book: ids, counters, totals, then every level in price
 * priority with its orders in time priority. Equal hashes mean equal books, however they were built.
 */
export function hashBook(book: Book): string {
  const t = book.totals
  const parts = [
    `v1|${book.nextOrderId}|${book.nextTradeId}|${book.commands}|${t.placed}|${t.traded}|${t.cancelled}|${t.trades}|${t.rejected}|${book.orders.size}`,
  ]
  for (const [name, levels] of [
    ['bids', book.bids],
    ['asks', book.asks],
  ] as const) {
    parts.push(`|${name}`)
    for (const level of levels) {
      parts.push(`|${level.price}:`)
      for (const id of level.orders) {
        const o = book.orders.get(id)
        parts.push(
          o === undefined
            ? `${id}?`
            : `${id},${o.accountId},${o.side},${o.price},${o.quantity},${o.remaining};`,
        )
      }
    }
  }
  return createHash('sha256').update(parts.join('')).digest('hex')
}

/** Resting quantity on the book, in lots. */
export function restingQuantity(book: Book): number {
  let sum = 0
  for (const order of book.orders.values()) sum += order.remaining
  return sum
}
