/**
 * emmett's expected stream versions against waltz's expected revisions. An emmett stream version is a
 * waltz revision (the stream's number of events ever appended) as a bigint.
 */
import {
  type ExpectedStreamVersion,
  ExpectedVersionConflictError,
  NO_CONCURRENCY_CHECK,
  STREAM_DOES_NOT_EXIST,
  STREAM_EXISTS,
} from '@event-driven-io/emmett'
import { EventStoreError, type ExpectedRevision } from '@waltz/eventstore'

/**
 * A stream position or count given by the caller: emmett types them as bigints; a non-negative safe
 * integer number is accepted too (plain JavaScript callers), anything else is refused.
 *
 * @throws EventStoreError `EVENTSTORE_INVALID_ARGUMENT`
 */
export function toPosition(name: string, value: unknown, stream: string): number {
  if (typeof value === 'bigint' && value >= 0n && value <= BigInt(Number.MAX_SAFE_INTEGER))
    return Number(value)
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return value
  throw EventStoreError.INVALID_ARGUMENT(
    `${name} must be a bigint from 0 to 2^53 - 1, got ${typeof value === 'bigint' ? `${value}n` : String(value)}`,
    { stream },
  )
}

/**
 * The waltz expectation of an emmett one. `NO_CONCURRENCY_CHECK` (and none) is `'any'`,
 * `STREAM_DOES_NOT_EXIST` is `'no_stream'`, `STREAM_EXISTS` is `'stream_exists'`, a version is the
 * revision.
 *
 * @throws EventStoreError `EVENTSTORE_INVALID_ARGUMENT` for anything else
 */
export function toExpectedRevision(
  expected: ExpectedStreamVersion | number | undefined,
  stream: string,
): ExpectedRevision {
  if (expected === undefined || expected === NO_CONCURRENCY_CHECK) return 'any'
  if (expected === STREAM_DOES_NOT_EXIST) return 'no_stream'
  if (expected === STREAM_EXISTS) return 'stream_exists'
  return toPosition('expectedStreamVersion', expected, stream)
}

/**
 * Checks a read's `expectedStreamVersion` against the stream as it is, with the rules of an append.
 *
 * @param revision - the stream's revision
 * @param exists - whether the stream has visible events
 * @throws ExpectedVersionConflictError (emmett's) when it does not match
 */
export function assertExpected(
  expected: ExpectedStreamVersion | number | undefined,
  stream: string,
  revision: number,
  exists: boolean,
): void {
  const want = toExpectedRevision(expected, stream)
  const ok =
    want === 'any' ||
    (want === 'no_stream' && !exists) ||
    (want === 'stream_exists' && exists) ||
    want === revision
  if (!ok) throw conflict(revision, expected)
}

/** emmett's conflict error: `current` is the stream's version, `expected` as the caller gave it. */
export function conflict(
  current: number,
  expected: ExpectedStreamVersion | number | undefined,
): ExpectedVersionConflictError<bigint> {
  return new ExpectedVersionConflictError<bigint>(
    BigInt(current),
    (expected ?? NO_CONCURRENCY_CHECK) as ExpectedStreamVersion<bigint>,
  )
}
