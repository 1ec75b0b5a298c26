import type { RecordShape } from '@waltz/core'
import { EventStoreError, isEventStoreError } from './errors.js'
import type { AppendResult, EventStore } from './event-store.js'
import type { EventInput, StoredEvent } from './events.js'

/** Options of {@link handleCommand}. */
export interface HandleCommandOptions<State, Rec extends RecordShape> {
  /** The state before the stream's first event. */
  initialState: () => State
  /** Folds one stored event into the state. */
  evolve: (state: State, event: StoredEvent<Rec>) => State
  /** How many times to re-read and decide again after a `WRONG_EXPECTED_REVISION`. Default 3. */
  retries?: number
}

/** The result of {@link handleCommand}. */
export interface HandleCommandResult<State, Rec extends RecordShape> extends AppendResult {
  /** The events `decide` returned (none: nothing was appended). */
  newEvents: EventInput<Rec>[]
  /** The state the decision was made on. */
  state: State
}

/**
 * Handles one command on one stream: reads the stream into a state, calls `decide`, and appends
 * what it returns with the revision it read as the expected one. When another writer got there
 * first (`WRONG_EXPECTED_REVISION`) it reads and decides again, up to `retries` times. `decide`
 * may throw to reject the command; nothing is appended then.
 *
 * @param store - the event store
 * @param stream - the stream the command is about
 * @param decide - the decision: from the current state, the events to append (possibly none)
 * @param options - `initialState`, `evolve`, `retries` (default 3)
 * @returns the append's result (when `decide` returns no events: the stream's revision, position 0,
 *   created false), the events and the state they were decided on
 * @throws EventStoreError `COMMAND_RETRIES_EXHAUSTED` (the last conflict is its `cause`); what
 *   `decide` throws; as {@link EventStore.appendToStream}
 * @example
 * ```ts
 * const { nextExpectedRevision } = await handleCommand(store, `cart-${id}`, (cart) => addItem(cart, item), {
 *   initialState: () => emptyCart,
 *   evolve,
 * })
 * ```
 */
export async function handleCommand<State, Rec extends RecordShape>(
  store: EventStore<Rec>,
  stream: string,
  decide: (
    state: State,
  ) => EventInput<Rec> | readonly EventInput<Rec>[] | Promise<EventInput<Rec> | readonly EventInput<Rec>[]>,
  options: HandleCommandOptions<State, Rec>,
): Promise<HandleCommandResult<State, Rec>> {
  const retries = options.retries ?? 3
  if (!Number.isSafeInteger(retries) || retries < 0) {
    throw EventStoreError.INVALID_ARGUMENT(`retries must be an integer >= 0, got ${String(retries)}`)
  }
  let conflict: unknown
  for (let attempt = 0; attempt <= retries; attempt++) {
    const { state, revision } = await store.aggregateStream(stream, options)
    const decided = await decide(state)
    const newEvents = (Array.isArray(decided) ? [...decided] : [decided]) as EventInput<Rec>[]
    if (newEvents.length === 0) {
      return { nextExpectedRevision: revision, position: 0, created: false, newEvents, state }
    }
    try {
      const result = await store.appendToStream(stream, newEvents, {
        expectedRevision: revision,
      })
      return { ...result, newEvents, state }
    } catch (err) {
      if (!isEventStoreError(err, 'WRONG_EXPECTED_REVISION')) throw err
      conflict = err
    }
  }
  throw EventStoreError.COMMAND_RETRIES_EXHAUSTED(
    `the command on ${JSON.stringify(stream)} conflicted ${retries + 1} times`,
    { stream, cause: conflict },
  )
}
