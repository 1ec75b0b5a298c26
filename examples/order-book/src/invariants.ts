import { type Book, restingQuantity } from './book.js'
import { BUY, SELL } from './events.js'

/**
 * Checks the book's structural invariants after a command: each side's levels strictly in price
 * priority and non-empty; each level's orders in time priority (ascending ids: orders are numbered in
 * arrival order and never re-queued) and at that level's price and side; the `orders` index holding
 * exactly the orders on the levels, each with 0 < remaining ≤ quantity; no market order resting; no
 * crossed book (best bid < best ask); and conservation: placed = 2 × traded + cancelled + resting.
 *
 * @returns the violations found (empty when the book is sound)
 */
export function checkBook(book: Book): string[] {
  const problems: string[] = []
  let onLevels = 0
  for (const [side, levels] of [
    [BUY, book.bids],
    [SELL, book.asks],
  ] as const) {
    for (let i = 0; i < levels.length; i++) {
      const level = levels[i]!
      const next = levels[i + 1]
      if (next !== undefined && (side === BUY ? next.price >= level.price : next.price <= level.price)) {
        problems.push(`side ${side}: level ${next.price} after ${level.price}`)
      }
      if (level.orders.length === 0) problems.push(`side ${side}: empty level ${level.price}`)
      let previous = 0
      for (const id of level.orders) {
        onLevels++
        const order = book.orders.get(id)
        if (order === undefined) {
          problems.push(`order ${id} on level ${level.price} is not in the index`)
          continue
        }
        if (Number(id) <= previous)
          problems.push(`level ${level.price}: order ${id} after ${previous} (FIFO)`)
        previous = Number(id)
        if (order.side !== side || order.price !== level.price)
          problems.push(`order ${id} on the wrong level`)
        if (order.price === 0) problems.push(`market order ${id} resting`)
        if (!(order.remaining > 0 && order.remaining <= order.quantity)) {
          problems.push(`order ${id}: remaining ${order.remaining} of ${order.quantity}`)
        }
      }
    }
  }
  if (onLevels !== book.orders.size)
    problems.push(`${book.orders.size} orders indexed, ${onLevels} on levels`)
  const bid = book.bids[0]?.price
  const ask = book.asks[0]?.price
  if (bid !== undefined && ask !== undefined && bid >= ask)
    problems.push(`crossed book: bid ${bid} >= ask ${ask}`)
  const t = book.totals
  const resting = restingQuantity(book)
  if (t.placed !== 2 * t.traded + t.cancelled + resting) {
    problems.push(
      `placed ${t.placed} != 2 × traded ${t.traded} + cancelled ${t.cancelled} + resting ${resting}`,
    )
  }
  return problems
}
