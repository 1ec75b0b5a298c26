/**
 * Given/when/then helpers for deciders, usable in any test runner (they throw `node:assert` errors):
 *
 * ```ts
 * import { decider } from '@waltz/eventstore/testing'
 * const spec = decider({ decide, evolve, initialState })
 * spec.given([{ type: 'opened', data: {} }]).when({ type: 'add', sku: 'x' }).then([{ type: 'added', data: { sku: 'x' } }])
 * spec.given([]).when({ type: 'add', sku: 'x' }).thenThrows((err) => err instanceof CartNotOpen)
 * ```
 *
 * @packageDocumentation
 */
import { deepStrictEqual, fail, ok } from 'node:assert/strict'

/** An event as a decider sees it: type and data (ids, metadata and positions are the store's). */
export interface DeciderEvent {
  /** The event type. */
  type: string
  /** The event data. */
  data: unknown
}

/**
 * A decider: pure functions from a command and the state to new events, and from events to state.
 *
 * @typeParam Command - the commands
 * @typeParam Event - the events
 * @typeParam State - the state
 */
export interface Decider<Command, Event extends DeciderEvent, State> {
  /** Decides the events a command produces in a state (throws to reject the command). */
  decide: (command: Command, state: State) => Event | readonly Event[]
  /** Folds an event into the state. */
  evolve: (state: State, event: Event) => State
  /** The state before any event. */
  initialState: () => State
}

/** The assertions after {@link DeciderGiven.when}. */
export interface DeciderThen<Event> {
  /** Asserts the command produced exactly these events (deep equality, in order). */
  then(expected: readonly Event[]): void
  /**
   * Asserts the command was rejected.
   *
   * @param check - optional: a predicate on the error, or an error class it must be an instance of
   */
  thenThrows(check?: ((err: unknown) => boolean) | (new (...args: never[]) => unknown)): void
}

/** The step after {@link decider}'s `given`. */
export interface DeciderGiven<Command, Event> {
  /** The command to decide on. */
  when(command: Command): DeciderThen<Event>
}

/** A decider specification: `given(events).when(command).then(events)`. */
export interface DeciderSpec<Command, Event> {
  /** The events already in the stream. */
  given(events: readonly Event[]): DeciderGiven<Command, Event>
}

/**
 * Builds a given/when/then specification of a decider.
 *
 * @param d - `decide`, `evolve`, `initialState`
 * @returns the specification
 */
export function decider<Command, Event extends DeciderEvent, State>(
  d: Decider<Command, Event, State>,
): DeciderSpec<Command, Event> {
  return {
    given: (events) => ({
      when: (command) => {
        const run = (): Event[] => {
          const state = events.reduce(d.evolve, d.initialState())
          const out = d.decide(command, state)
          return Array.isArray(out) ? [...out] : [out as Event]
        }
        return {
          // biome-ignore lint/suspicious/noThenProperty: the given/when/then vocabulary the issue names; the result is never awaited
          then(expected) {
            deepStrictEqual(run(), [...expected])
          },
          thenThrows(check) {
            let produced: Event[]
            try {
              produced = run()
            } catch (err) {
              if (check === undefined) return
              if (isErrorClass(check)) {
                ok(err instanceof check, `expected an instance of ${check.name}, got ${String(err)}`)
              } else {
                ok((check as (e: unknown) => boolean)(err), `the error did not match: ${String(err)}`)
              }
              return
            }
            fail(`expected the command to be rejected, but it produced ${JSON.stringify(produced)}`)
          },
        }
      },
    }),
  }
}

/** Whether `check` is a class (an Error subclass or a `class`), not a predicate. */
function isErrorClass(check: unknown): check is new (...args: never[]) => Error {
  if (typeof check !== 'function' || check.prototype === undefined) return false
  return (
    check === Error ||
    check.prototype instanceof Error ||
    /^class[\s{]/.test(Function.prototype.toString.call(check))
  )
}
