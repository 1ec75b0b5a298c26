import type { WalRecord } from '@waltz/core'

/**
 * How a state is derived from the log, in the style of an event-sourcing "evolve" function: the state
 * is `records.reduce(apply, initial())`. Keep both functions deterministic (no clock, no randomness, no
 * I/O), so replaying the same log always gives the same state, with or without a snapshot.
 *
 * `apply` may return a new state or mutate `state` and return it: `recover()` owns the state while it
 * replays, and snapshots are taken from an encoded copy.
 *
 * @typeParam S - the state type
 * @typeParam R - the record type, e.g. `WalRecordOf<MyRecords>` for a typed WAL
 * @example
 * ```ts
 * const balances: Aggregate<Map<string, number>, WalRecord<'deposit', { account: string; amount: number }>> = {
 *   initial: () => new Map(),
 *   apply: (state, r) => state.set(r.data.account, (state.get(r.data.account) ?? 0) + r.data.amount),
 * }
 * ```
 */
export interface Aggregate<S, R = WalRecord> {
  /** The state before any record. Must return a fresh value each call. */
  initial(): S
  /** The state after `record`. */
  apply(state: S, record: R): S
}

/**
 * Folds records into a state: `records.reduce(aggregate.apply, aggregate.initial())`. Useful in tests,
 * to compute the state a full replay gives.
 *
 * @param aggregate - the aggregate
 * @param records - the records, in seq order
 * @returns the state
 * @example
 * ```ts
 * const state = fold(balances, await Array.fromAsync(wal.records()))
 * ```
 */
export function fold<S, R>(aggregate: Aggregate<S, R>, records: Iterable<R>): S {
  let state = aggregate.initial()
  for (const record of records) state = aggregate.apply(state, record)
  return state
}
