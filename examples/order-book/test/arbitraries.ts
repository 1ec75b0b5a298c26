import fc from 'fast-check'
import { BUY, type Command, MAX_PRICE, MAX_QUANTITY, SELL } from '../src/events.js'

/** fast-check settings: a fixed seed, so CI runs the same cases every time. */
export const FC = { seed: 20_250_505, numRuns: 250 } as const

const side = fc.constantFrom(BUY, SELL)
const accountId = fc.constantFrom('acct-1', 'acct-2', 'acct-3')
// A narrow price band, so orders cross, queue at the same price and sweep several levels.
const price = fc.integer({ min: 96, max: 104 })
const quantity = fc.integer({ min: 1, max: 30 })

/** Commands of every kind, invalid ones included; cancels target ids 1..80 (many unknown or gone). */
export const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('limit'), accountId, side, price, quantity }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('market'), accountId, side, quantity }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('cancel'),
      accountId,
      orderId: fc.integer({ min: 1, max: 80 }).map(String),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('limit'),
      accountId,
      side,
      price: fc.constantFrom(0, -3, 99.5, Number.NaN, Number.POSITIVE_INFINITY, MAX_PRICE + 1),
      quantity,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constantFrom('limit', 'market'),
      accountId,
      side,
      price,
      quantity: fc.constantFrom(0, -1, 2.5, Number.NaN, MAX_QUANTITY + 1, 2 ** 53),
    }),
  },
) as fc.Arbitrary<Command>

export const commands = (maxLength = 80): fc.Arbitrary<Command[]> => fc.array(command, { maxLength })
