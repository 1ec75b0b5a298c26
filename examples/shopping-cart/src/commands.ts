/**
 * Runs a cart command against the store: `handleCommand` reads the cart's stream, folds it with the
 * decider's `evolve`, calls `decide` and appends the events with the revision it read as the expected
 * one, retrying when another writer got there first.
 *
 * An HTTP client can pin the revision it saw (`If-Match`). `handleCommand` has no option for that,
 * so the state folded here carries the stream's revision beside the cart, and the decision refuses a
 * revision other than the pinned one. A concurrent writer then makes the append conflict, the retry
 * re-reads the newer revision, and the command fails with {@link RevisionMismatch} instead of being
 * decided again on a state the client never saw.
 */
import { type EventStore, handleCommand } from '@waltz/eventstore'
import { type CartCommand, type CartState, decide, evolve, initialState } from './cart.js'
import { type CartEvent, type CartRecord, cartStream } from './events.js'

/** The cart's revision was not the one the client expected; nothing was appended. */
export class RevisionMismatch extends Error {
  override readonly name = 'RevisionMismatch'
  readonly code = 'WRONG_EXPECTED_REVISION'
  readonly expected: number
  readonly actual: number

  constructor(expected: number, actual: number) {
    super(`WRONG_EXPECTED_REVISION: the cart is at revision ${actual}, expected ${expected}`)
    this.expected = expected
    this.actual = actual
  }
}

/** Options of {@link executeCartCommand}. */
export interface ExecuteOptions {
  /** The revision the cart must be at (an `If-Match`); default: decide on whatever is current. */
  expectedRevision?: number | undefined
  /** Re-reads after a conflict (handleCommand's `retries`). Default 3. */
  retries?: number | undefined
}

/** What a command did. */
export interface CommandOutcome {
  /** The cart's revision after the command. */
  revision: number
  /** The store position of the last event appended. */
  position: number
  /** The events appended. */
  events: CartEvent[]
}

interface Versioned {
  cart: CartState
  revision: number
}

const versionedInitial = (): Versioned => ({ cart: initialState(), revision: 0 })
const versionedEvolve = (s: Versioned, e: CartEvent & { revision: number }): Versioned => ({
  cart: evolve(s.cart, e),
  revision: e.revision,
})

/**
 * Executes a command on cart `cartId`.
 *
 * @param store - the cart store
 * @param cartId - the cart
 * @param command - the command
 * @param options - `expectedRevision` (If-Match), `retries`
 * @returns the new revision, the position and the events appended
 * @throws CartRejected (the cart's rules), RevisionMismatch (`expectedRevision` was stale),
 *   EventStoreError `COMMAND_RETRIES_EXHAUSTED` (kept conflicting), and what the store throws
 */
export async function executeCartCommand(
  store: EventStore<CartRecord>,
  cartId: string,
  command: CartCommand,
  options: ExecuteOptions = {},
): Promise<CommandOutcome> {
  const { expectedRevision } = options
  const result = await handleCommand(
    store,
    cartStream(cartId),
    (state: Versioned) => {
      if (expectedRevision !== undefined && state.revision !== expectedRevision) {
        throw new RevisionMismatch(expectedRevision, state.revision)
      }
      return decide(command, state.cart)
    },
    { initialState: versionedInitial, evolve: versionedEvolve, retries: options.retries ?? 3 },
  )
  return {
    revision: result.nextExpectedRevision,
    position: result.position,
    events: result.newEvents as CartEvent[],
  }
}
