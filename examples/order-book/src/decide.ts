// decide(book, command) → events: validation and matching, with no side effects. The book is only read;
// the events it returns, applied in order by `applyEvent`, produce the next book.
import type { Book } from './book.js'
import { crosses, levelsOf } from './book.js'
import {
  BUY,
  CANCEL_UNFILLED_MARKET,
  CANCEL_USER,
  type Command,
  MAX_PRICE,
  MAX_QUANTITY,
  type OrderEvent,
  REJECT_BAD_PRICE,
  REJECT_BAD_QUANTITY,
  REJECT_UNKNOWN_ORDER,
  type RejectCode,
  SELL,
  type Side,
} from './events.js'

/** The instrument this book trades. */
export const SYMBOL = 'WALTZ'

function validInteger(value: number, max: number): boolean {
  return Number.isSafeInteger(value) && value >= 1 && value <= max
}

function rejected(orderId: string, code: RejectCode, reason: string): OrderEvent[] {
  const data = { orderId, reason, code }
  return [orderId === '' ? { type: 'OrderRejected', data } : { type: 'OrderRejected', key: orderId, data }]
}

/**
 * Decides what a command does to the book: one `OrderRejected` for an invalid command; one
 * `OrderCancelled` for a cancel; for a new order, `OrderPlaced` followed by a `TradeExecuted` per fill
 * (best price first, oldest order first within a price, each at the resting order's price) and, for a
 * market order not completely filled, an `OrderCancelled` of its remainder. The engine appends them as
 * one atomic batch.
 *
 * @param book - the current book (not modified)
 * @param command - the client's command
 * @returns the events, never empty
 */
export function decide(book: Book, command: Command): OrderEvent[] {
  if (command.kind === 'cancel') {
    const order = book.orders.get(command.orderId)
    if (order === undefined) {
      return rejected(
        command.orderId,
        REJECT_UNKNOWN_ORDER,
        'unknown order (never placed, filled or cancelled)',
      )
    }
    return [{ type: 'OrderCancelled', key: order.id, data: { orderId: order.id, reason: CANCEL_USER } }]
  }
  if (command.side !== BUY && command.side !== SELL)
    throw new TypeError(`invalid side ${String(command.side)}`)
  const limit = command.kind === 'limit'
  if (limit && !validInteger(command.price, MAX_PRICE)) {
    return rejected('', REJECT_BAD_PRICE, `price must be an integer from 1 to ${MAX_PRICE} ticks`)
  }
  if (!validInteger(command.quantity, MAX_QUANTITY)) {
    return rejected('', REJECT_BAD_QUANTITY, `quantity must be an integer from 1 to ${MAX_QUANTITY} lots`)
  }

  const orderId = String(book.nextOrderId)
  const price = limit ? command.price : 0
  const events: OrderEvent[] = [
    {
      type: 'OrderPlaced',
      key: orderId,
      data: {
        orderId,
        accountId: command.accountId,
        symbol: SYMBOL,
        side: command.side,
        price,
        quantity: command.quantity,
        tags: [],
      },
    },
  ]
  const restingSide: Side = command.side === BUY ? SELL : BUY
  let remaining = command.quantity
  let tradeId = book.nextTradeId
  match: for (const level of levelsOf(book, restingSide)) {
    if (limit && !crosses(restingSide, level.price, price)) break
    for (const makerId of level.orders) {
      const maker = book.orders.get(makerId)!
      const quantity = Math.min(remaining, maker.remaining)
      events.push({
        type: 'TradeExecuted',
        key: orderId,
        data: {
          tradeId: String(tradeId++),
          buyOrderId: command.side === BUY ? orderId : makerId,
          sellOrderId: command.side === BUY ? makerId : orderId,
          price: level.price,
          quantity,
        },
      })
      remaining -= quantity
      if (remaining === 0) break match
    }
  }
  if (!limit && remaining > 0) {
    events.push({ type: 'OrderCancelled', key: orderId, data: { orderId, reason: CANCEL_UNFILLED_MARKET } })
  }
  return events
}
