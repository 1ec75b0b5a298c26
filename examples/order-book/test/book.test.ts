// Property tests of the engine's pure core: decide + apply over random command sequences, against the
// invariants of the issue and a naive reference model of price-time priority.

import { fold } from '@waltz/snapshot'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { applyEvent, type Book, emptyBook, hashBook, orderBook, restingQuantity } from '../src/book.js'
import { decide } from '../src/decide.js'
import {
  BUY,
  type Command,
  MAX_PRICE,
  type OrderEvent,
  REJECT_BAD_PRICE,
  REJECT_BAD_QUANTITY,
  REJECT_UNKNOWN_ORDER,
  SELL,
} from '../src/events.js'
import { checkBook } from '../src/invariants.js'
import { serializers } from '../src/serializers.js'
import { commands, FC } from './arbitraries.js'

/** Price-time priority among resting orders of `side`: best price first, then oldest (lowest id). */
function priority(
  side: number,
): (a: { id: string; price: number }, b: { id: string; price: number }) => number {
  return (a, b) =>
    a.price === b.price ? Number(a.id) - Number(b.id) : side === BUY ? b.price - a.price : a.price - b.price
}

interface Step {
  command: Command
  events: OrderEvent[]
  /** Order id → limit price (0: market), for every order placed so far. */
  prices: Map<string, number>
  book: Book
}

/** Runs commands through decide + apply, calling `check` after each one. */
function run(cmds: Command[], check: (step: Step) => void): Book {
  const book = emptyBook()
  const prices = new Map<string, number>()
  for (const command of cmds) {
    const events = decide(book, command)
    for (const event of events) {
      if (event.type === 'OrderPlaced') prices.set(event.data.orderId, event.data.price)
      applyEvent(book, event)
    }
    check({ command, events, prices, book })
  }
  return book
}

describe('order book invariants (fast-check)', () => {
  it('never leaves the book crossed after matching', () => {
    fc.assert(
      fc.property(commands(), (cmds) => {
        run(cmds, ({ book }) => {
          const bid = book.bids[0]?.price ?? Number.NEGATIVE_INFINITY
          const ask = book.asks[0]?.price ?? Number.POSITIVE_INFINITY
          expect(bid).toBeLessThan(ask)
        })
      }),
      FC,
    )
  })

  it('conserves quantity: placed = filled + cancelled + resting, per order and in total', () => {
    fc.assert(
      fc.property(commands(), (cmds) => {
        const placed = new Map<string, number>()
        const filled = new Map<string, number>()
        const cancelled = new Map<string, number>()
        run(cmds, ({ events, book }) => {
          for (const e of events) {
            if (e.type === 'OrderPlaced') placed.set(e.data.orderId, e.data.quantity)
            if (e.type === 'TradeExecuted') {
              for (const id of [e.data.buyOrderId, e.data.sellOrderId]) {
                filled.set(id, (filled.get(id) ?? 0) + e.data.quantity)
              }
            }
            if (e.type === 'OrderCancelled') {
              const id = e.data.orderId
              cancelled.set(id, placed.get(id)! - (filled.get(id) ?? 0))
            }
          }
          let sumPlaced = 0
          let sumFilled = 0
          let sumCancelled = 0
          for (const [id, quantity] of placed) {
            const f = filled.get(id) ?? 0
            const c = cancelled.get(id) ?? 0
            const resting = book.orders.get(id)?.remaining ?? 0
            expect(f + c + resting, `order ${id}`).toBe(quantity)
            expect(c > 0 && resting > 0, `order ${id} cancelled yet resting`).toBe(false)
            sumPlaced += quantity
            sumFilled += f
            sumCancelled += c
          }
          expect(sumFilled + sumCancelled + restingQuantity(book)).toBe(sumPlaced)
          expect(book.totals.placed).toBe(sumPlaced)
          expect(2 * book.totals.traded).toBe(sumFilled)
          expect(book.totals.cancelled).toBe(sumCancelled)
        })
      }),
      FC,
    )
  })

  it('fills every trade at the resting (maker) order’s price, improving on the taker’s limit', () => {
    fc.assert(
      fc.property(commands(), (cmds) => {
        run(cmds, ({ events, prices }) => {
          const taker = events[0]?.type === 'OrderPlaced' ? events[0].data : undefined
          for (const e of events) {
            if (e.type !== 'TradeExecuted') continue
            expect(taker).toBeDefined()
            const makerId = taker!.side === BUY ? e.data.sellOrderId : e.data.buyOrderId
            expect(Number(makerId)).toBeLessThan(Number(taker!.orderId))
            expect(e.data.price).toBe(prices.get(makerId))
            if (taker!.price !== 0) {
              if (taker!.side === BUY) expect(e.data.price).toBeLessThanOrEqual(taker!.price)
              else expect(e.data.price).toBeGreaterThanOrEqual(taker!.price)
            }
          }
        })
      }),
      FC,
    )
  })

  it('matches in price-time priority, FIFO within a level (against a naive reference model)', () => {
    fc.assert(
      fc.property(commands(), (cmds) => {
        // The model: every resting order in a flat list, in arrival order.
        let model: { id: string; side: number; price: number; remaining: number }[] = []
        run(cmds, ({ command, events, book }) => {
          if (command.kind !== 'cancel' && events[0]?.type === 'OrderPlaced') {
            const { orderId, side, price } = events[0].data
            const better = (a: number, b: number): boolean => (side === BUY ? a < b : a > b)
            const makers = model
              .filter((o) => o.side !== side && (price === 0 || !better(price, o.price)))
              .sort(priority(side === BUY ? SELL : BUY))
            let remaining = command.quantity
            const expected: [string, number, number][] = []
            for (const maker of makers) {
              if (remaining === 0) break
              const q = Math.min(remaining, maker.remaining)
              expected.push([maker.id, maker.price, q])
              maker.remaining -= q
              remaining -= q
            }
            const trades = events.flatMap((e) =>
              e.type === 'TradeExecuted'
                ? [[side === BUY ? e.data.sellOrderId : e.data.buyOrderId, e.data.price, e.data.quantity]]
                : [],
            )
            expect(trades).toEqual(expected)
            model = model.filter((o) => o.remaining > 0)
            if (remaining > 0 && price !== 0) model.push({ id: orderId, side, price, remaining })
          } else if (command.kind === 'cancel' && events[0]?.type === 'OrderCancelled') {
            expect(model.some((o) => o.id === command.orderId)).toBe(true)
            model = model.filter((o) => o.id !== command.orderId)
          }
          // The book holds exactly the model's orders, each level in arrival order.
          const levels = (s: number) =>
            [...model]
              .filter((o) => o.side === s)
              .sort(priority(s))
              .map((o) => [o.id, o.price, o.remaining])
          const flat = (b: Book, s: number) =>
            (s === BUY ? b.bids : b.asks).flatMap((l) =>
              l.orders.map((id) => [id, l.price, b.orders.get(id)!.remaining]),
            )
          expect(flat(book, BUY)).toEqual(levels(BUY))
          expect(flat(book, SELL)).toEqual(levels(SELL))
          expect(checkBook(book)).toEqual([])
        })
      }),
      FC,
    )
  })

  it('rejects unknown orders, bad prices and bad quantities, leaving the book unchanged', () => {
    fc.assert(
      fc.property(commands(), (cmds) => {
        let before = hashBook(emptyBook())
        run(cmds, ({ command, events, book }) => {
          const first = events[0]!
          const validQuantity =
            Number.isSafeInteger(command.kind === 'cancel' ? 1 : command.quantity) &&
            (command.kind === 'cancel' || (command.quantity >= 1 && command.quantity <= 1e9))
          const validPrice =
            command.kind !== 'limit' ||
            (Number.isSafeInteger(command.price) && command.price >= 1 && command.price <= MAX_PRICE)
          if (!validPrice)
            expect(first).toMatchObject({ type: 'OrderRejected', data: { code: REJECT_BAD_PRICE } })
          else if (!validQuantity) {
            expect(first).toMatchObject({ type: 'OrderRejected', data: { code: REJECT_BAD_QUANTITY } })
          }
          if (first.type === 'OrderRejected') {
            expect(events).toHaveLength(1)
            if (first.data.code === REJECT_UNKNOWN_ORDER) expect(command.kind).toBe('cancel')
            const after = hashBook(book)
            // Only the command counter moves.
            expect(book.totals.rejected).toBeGreaterThan(0)
            expect(after).not.toBe(before)
            expect(book.orders.size).toBe(
              book.bids.concat(book.asks).reduce((n, l) => n + l.orders.length, 0),
            )
          }
          before = hashBook(book)
        })
      }),
      FC,
    )
  })
})

describe('record keys', () => {
  it('keys every event with the id of the order its command was about; a rejected new order has none', () => {
    fc.assert(
      fc.property(commands(), (cmds) => {
        run(cmds, ({ command, events }) => {
          const first = events[0]!
          // A new order's events start with its OrderPlaced or OrderRejected; a trade has no orderId.
          const ownId = 'orderId' in first.data ? first.data.orderId : undefined
          const orderId = command.kind === 'cancel' ? command.orderId : ownId
          for (const event of events) {
            if (orderId === '') expect(event).not.toHaveProperty('key')
            else expect(event.key).toBe(orderId)
          }
        })
      }),
      FC,
    )
  })
})

describe('decide and apply agree', () => {
  it('the engine’s book after every command equals a fold of all events so far, and decides alike', () => {
    fc.assert(
      fc.property(commands(60), (cmds) => {
        const all: OrderEvent[] = []
        run(cmds, ({ events, book }) => {
          all.push(...events)
          const folded = fold(orderBook, all)
          expect(hashBook(folded)).toBe(hashBook(book))
          // Decisions depend only on the state, not on how it was built.
          const probe: Command = { kind: 'market', accountId: 'x', side: BUY, quantity: 25 }
          expect(decide(folded, probe)).toEqual(decide(book, probe))
        })
      }),
      { ...FC, numRuns: 120 },
    )
  })

  it('events round-trip through every serializer to the same book', () => {
    const codecs = Object.values(serializers).map((make) => make())
    fc.assert(
      fc.property(commands(), (cmds) => {
        const all: OrderEvent[] = []
        const book = run(cmds, ({ events }) => all.push(...events))
        for (const codec of codecs) {
          const decoded = all.map((e) => ({ ...e, data: codec.decode(codec.encode(e.data, e.type), e.type) }))
          expect(hashBook(fold(orderBook, decoded)), codec.name).toBe(hashBook(book))
        }
      }),
      { ...FC, numRuns: 100 },
    )
  })
})
