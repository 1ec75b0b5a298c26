import { type EventAlreadyExistsError, eventAlreadyExistsErrorCode } from '@castore/core'
import { isWaltzError, WaltzError } from '@waltz/core'

/**
 * Stable error codes of `@waltz/castore`. Codes are public API: new ones may be added, existing ones
 * are never renamed. A version that already exists is not among them: it fails with castore's own
 * {@link WaltzEventAlreadyExistsError} (`code: 'EventAlreadyExistsError'`), which castore's `Command`
 * retries on.
 */
export type CastoreAdapterErrorCode =
  /** An argument is malformed (an event store id holding `-`, a bad page token, ...); nothing was written. */
  | 'CASTORE_INVALID_ARGUMENT'
  /** The pushed version is not the aggregate's next one: a waltz stream has no gaps; nothing was written. */
  | 'CASTORE_VERSION_GAP'
  /** `force` asked to replace a stored event with a different one: the log is append-only; nothing was written. */
  | 'CASTORE_OVERWRITE_UNSUPPORTED'
  /** A stored event's `castore.*` entries are not what the adapter writes (other code wrote them); nothing was returned. */
  | 'CASTORE_UNREADABLE_EVENT'

/** Extra context attached to a {@link CastoreAdapterError}. */
export interface CastoreAdapterErrorDetails extends ErrorOptions {
  /** The castore event store concerned, when there is one. */
  eventStoreId?: string | undefined
  /** The aggregate concerned, when there is one. */
  aggregateId?: string | undefined
  /** The version concerned, when there is one. */
  version?: number | undefined
}

/**
 * The error of `@waltz/castore`, a family of core's `WaltzError`: `message` starts with the code, `code`
 * is stable. Errors of the event store and the log (`WRONG_EXPECTED_REVISION` excepted, which the adapter
 * translates) come through as they are.
 *
 * @example
 * ```ts
 * try {
 *   await pokemons.pushEvent({ aggregateId: 'pikachu', version: 7, type: 'LEVELED_UP' })
 * } catch (err) {
 *   if (isCastoreAdapterError(err, 'CASTORE_VERSION_GAP')) console.log(err.aggregateId, err.version)
 * }
 * ```
 */
export class CastoreAdapterError extends WaltzError<CastoreAdapterErrorCode> {
  /** Always `'CastoreAdapterError'`: {@link isCastoreAdapterError} checks it. */
  override readonly name = 'CastoreAdapterError'
  /** The castore event store concerned, if any. */
  readonly eventStoreId: string | undefined
  /** The aggregate concerned, if any. */
  readonly aggregateId: string | undefined
  /** The version concerned, if any. */
  readonly version: number | undefined

  /**
   * @param code - the stable code
   * @param message - a human-readable explanation (the code is prefixed automatically)
   * @param details - event store id, aggregate id, version and `cause`
   */
  constructor(code: CastoreAdapterErrorCode, message: string, details: CastoreAdapterErrorDetails = {}) {
    super(code, message, details)
    this.eventStoreId = details.eventStoreId
    this.aggregateId = details.aggregateId
    this.version = details.version
  }

  /** `CASTORE_INVALID_ARGUMENT`: a malformed argument. */
  static INVALID_ARGUMENT(message: string, details?: CastoreAdapterErrorDetails): CastoreAdapterError {
    return new CastoreAdapterError('CASTORE_INVALID_ARGUMENT', message, details)
  }

  /** `CASTORE_VERSION_GAP`: the version is past the aggregate's next one. */
  static VERSION_GAP(
    eventStoreId: string,
    aggregateId: string,
    version: number,
    current: number,
  ): CastoreAdapterError {
    return new CastoreAdapterError(
      'CASTORE_VERSION_GAP',
      `${eventStoreId} aggregate ${JSON.stringify(aggregateId)} is at version ${current}: version ${version} would leave a gap (the next version is ${current + 1})`,
      { eventStoreId, aggregateId, version },
    )
  }

  /** `CASTORE_OVERWRITE_UNSUPPORTED`: `force` met a stored event that differs. */
  static OVERWRITE_UNSUPPORTED(
    eventStoreId: string,
    aggregateId: string,
    version: number,
  ): CastoreAdapterError {
    return new CastoreAdapterError(
      'CASTORE_OVERWRITE_UNSUPPORTED',
      `${eventStoreId} aggregate ${JSON.stringify(aggregateId)} already has a different event at version ${version}, and the waltz log is append-only: force cannot replace it`,
      { eventStoreId, aggregateId, version },
    )
  }

  /** `CASTORE_UNREADABLE_EVENT`: a stored event cannot be read as a castore event. */
  static UNREADABLE_EVENT(
    stream: string,
    problem: string,
    details: CastoreAdapterErrorDetails,
  ): CastoreAdapterError {
    return new CastoreAdapterError(
      'CASTORE_UNREADABLE_EVENT',
      `the event at revision ${String(details.version)} of the stream ${JSON.stringify(stream)} is not a castore event: ${problem} (written by other code than this adapter)`,
      details,
    )
  }
}

/**
 * Whether `err` is a {@link CastoreAdapterError}, optionally with the given code. Checks `name` and
 * `code`, so it works across duplicate installs of the package.
 *
 * @param err - any thrown value
 * @param code - if given, the code it must carry
 * @returns true when `err` has `name === 'CastoreAdapterError'` (and the code, when given)
 */
export function isCastoreAdapterError(
  err: unknown,
  code?: CastoreAdapterErrorCode,
): err is CastoreAdapterError {
  return isWaltzError<CastoreAdapterError>(err, 'CastoreAdapterError', code)
}

/**
 * Castore's "event already exists" failure, thrown when a pushed version is already stored (another
 * writer won the race, or the push is a retry). It carries castore's `code`
 * (`'EventAlreadyExistsError'`), so castore's `isEventAlreadyExistsError` recognises it and its
 * `Command` retries; `cause` is the event store's `WRONG_EXPECTED_REVISION` error.
 */
export class WaltzEventAlreadyExistsError extends Error implements EventAlreadyExistsError {
  /** Always `'WaltzEventAlreadyExistsError'`. */
  override readonly name = 'WaltzEventAlreadyExistsError'
  /** Castore's code, `'EventAlreadyExistsError'`. */
  readonly code: typeof eventAlreadyExistsErrorCode = eventAlreadyExistsErrorCode
  /** The castore event store. */
  readonly eventStoreId: string
  /** The aggregate. */
  readonly aggregateId: string
  /** The version that already exists. */
  readonly version: number

  /**
   * @param details - the event store id, aggregate id and version, and the `cause`
   */
  constructor(details: { eventStoreId: string; aggregateId: string; version: number; cause?: unknown }) {
    super(
      `Event already exists for ${details.eventStoreId} aggregate ${details.aggregateId} and version ${details.version}`,
      details.cause === undefined ? undefined : { cause: details.cause },
    )
    this.eventStoreId = details.eventStoreId
    this.aggregateId = details.aggregateId
    this.version = details.version
  }
}
