import { setTimeout as sleep } from 'node:timers/promises'
import type { RecordShape } from '@waltz/core'
import { EventStoreError, isEventStoreError } from './errors.js'
import type { AppendResult } from './event-store.js'
import type { EventInput, StoredEvent } from './events.js'
import type { EventStoreApi } from './store-api.js'

/** Options of {@link handleCommand}. */
export interface HandleCommandOptions<State, Rec extends RecordShape> {
  /** The state before the stream's first event. */
  initialState: () => State
  /** Folds one stored event into the state. Not called for shredded events (see `onShredded`). */
  evolve: (state: State, event: StoredEvent<Rec>) => State
  /**
   * Folds a shredded event (encrypted stores: `data: undefined`) into the state. Default: skipped;
   * it still counts in the revision the decision is appended after.
   */
  onShredded?: (state: State, event: StoredEvent<Rec>) => State
  /** How many times to re-read and decide again after a `WRONG_EXPECTED_REVISION`. Default 3. */
  retries?: number
  /**
   * The revision the caller decided on (e.g. from an HTTP `If-Match`): the stream must be at it. A
   * conflict then rejects with `WRONG_EXPECTED_REVISION` at once, without retrying.
   */
  expectedRevision?: number
}

/** What `decide` is told besides the state. */
export interface DecideContext {
  /** The stream's revision the state was folded up to. */
  revision: number
  /** Whether the stream has visible events. */
  exists: boolean
  /** 0 for the first decision, then 1, 2, ... for each retry after a conflict. */
  attempt: number
}

/** The result of {@link handleCommand}. */
export interface HandleCommandResult<State, Rec extends RecordShape> extends AppendResult {
  /** The events `decide` returned (none: nothing was appended). */
  newEvents: EventInput<Rec>[]
  /** The state the decision was made on. */
  state: State
}

/**
 * What {@link handleCommand} needs of a store: any {@link EventStoreApi} (the embedded `EventStore`,
 * the one `EventStore.connect` returns), or a wrapper of one.
 */
export type CommandStore<Rec extends RecordShape> = Pick<
  EventStoreApi<Rec>,
  'aggregateStream' | 'appendToStream'
>

/**
 * Handles one command on one stream: reads the stream into a state, calls `decide`, and appends
 * what it returns with the revision it read as the expected one. When another writer got there
 * first (`WRONG_EXPECTED_REVISION`) it waits a short random time, reads and decides again, up to
 * `retries` times. `decide` may throw to reject the command; nothing is appended then.
 *
 * @param store - the event store
 * @param stream - the stream the command is about
 * @param decide - the decision: from the current state (and its revision), the events to append
 *   (possibly none)
 * @param options - `initialState`, `evolve`, `retries` (default 3), `expectedRevision`
 * @returns the append's result (when `decide` returns no events: the stream's revision, position 0,
 *   created false), the events and the state they were decided on
 * @throws EventStoreError `COMMAND_RETRIES_EXHAUSTED` (the last conflict is its `cause`),
 *   `WRONG_EXPECTED_REVISION` (with `expectedRevision`); what `decide` throws; as
 *   {@link EventStoreApi.appendToStream}
 * @example
 * ```ts
 * const { nextExpectedRevision } = await handleCommand(store, `cart-${id}`, (cart) => addItem(cart, item), {
 *   initialState: () => emptyCart,
 *   evolve,
 * })
 * ```
 */
export async function handleCommand<State, Rec extends RecordShape>(
  store: CommandStore<Rec>,
  stream: string,
  decide: (
    state: State,
    context: DecideContext,
  ) => EventInput<Rec> | readonly EventInput<Rec>[] | Promise<EventInput<Rec> | readonly EventInput<Rec>[]>,
  options: HandleCommandOptions<State, Rec>,
): Promise<HandleCommandResult<State, Rec>> {
  const retries = options.retries ?? 3
  if (!Number.isSafeInteger(retries) || retries < 0) {
    throw EventStoreError.INVALID_ARGUMENT(`retries must be an integer >= 0, got ${String(retries)}`)
  }
  const pinned = options.expectedRevision
  if (pinned !== undefined && (!Number.isSafeInteger(pinned) || pinned < 0)) {
    throw EventStoreError.INVALID_ARGUMENT(`expectedRevision must be a revision >= 0, got ${String(pinned)}`)
  }
  let conflict: unknown
  for (let attempt = 0; attempt <= retries; attempt++) {
    if (attempt > 0) {
      // Spread the retries of writers that conflicted together, so they do not collide again.
      await sleep(Math.random() * Math.min(50, 2 ** attempt))
    }
    const { state, revision, exists } = await store.aggregateStream(stream, options)
    if (pinned !== undefined && revision !== pinned) {
      throw EventStoreError.WRONG_EXPECTED_REVISION(stream, pinned, revision)
    }
    const decided = await decide(state, { revision, exists, attempt })
    const newEvents = (Array.isArray(decided) ? [...decided] : [decided]) as EventInput<Rec>[]
    if (newEvents.length === 0) {
      return { nextExpectedRevision: revision, position: 0, created: false, newEvents, state }
    }
    try {
      const result = await store.appendToStream(stream, newEvents, { expectedRevision: revision })
      return { ...result, newEvents, state }
    } catch (err) {
      if (!isEventStoreError(err, 'WRONG_EXPECTED_REVISION') || pinned !== undefined) throw err
      conflict = err
    }
  }
  throw EventStoreError.COMMAND_RETRIES_EXHAUSTED(
    `the command on ${JSON.stringify(stream)} conflicted ${retries + 1} times`,
    { stream, cause: conflict },
  )
}
