import { isWaltzError, WaltzError } from '@waltz/core'
import type { ExpectedRevision } from './events.js'

/**
 * Stable error codes of `@waltz/eventstore`. Codes are public API: new ones may be added, existing
 * ones are never renamed. Check `err.code` (or {@link isEventStoreError}) rather than `instanceof`.
 * Errors of the underlying log (`WAL_IO`, `WAL_CLOSED`, ...) are passed through as core `WalError`s.
 */
export type EventStoreErrorCode =
  /** The stream's current revision did not match `expectedRevision`; nothing was written. */
  | 'WRONG_EXPECTED_REVISION'
  /** The stream was tombstoned: it can never be appended to again. */
  | 'STREAM_TOMBSTONED'
  /**
   * An encrypted store refused an append: the data key of its events was shredded (`shredStream`,
   * `shred`), or its shred is under way. Nothing was written; with the default `keyFor` nothing can
   * ever be appended to the stream again.
   */
  | 'STREAM_SHREDDED'
  /** An argument or option is out of range or malformed; nothing was written. */
  | 'EVENTSTORE_INVALID_ARGUMENT'
  /** The log or a file of the store (index, checkpoint) contradicts itself; the message says where. */
  | 'EVENTSTORE_CORRUPT'
  /** A checkpoint file failed validation (checksum, magic, length). */
  | 'CHECKPOINT_CORRUPT'
  /** A consumer's checkpoint is past the end of the log; reset the consumer to rebuild its projection. */
  | 'CHECKPOINT_AHEAD'
  /** A file-system call of the store's own files failed; the original error is the `cause`. */
  | 'EVENTSTORE_IO'
  /** The store was closed. */
  | 'EVENTSTORE_CLOSED'
  /** A command kept conflicting after all its retries (the last `WRONG_EXPECTED_REVISION` is `cause`). */
  | 'COMMAND_RETRIES_EXHAUSTED'
  /** A consumer of that name is already running in this store. */
  | 'CONSUMER_RUNNING'
  /**
   * The server of a connected store (`EventStore.connect`) could not be reached or refused a request
   * (the server's or the client's error is the `cause`). An append that failed with it may or may not
   * have been stored: retry it with the same event ids, which makes the retry idempotent.
   */
  | 'EVENTSTORE_UNAVAILABLE'

/** Extra context attached to an {@link EventStoreError}. */
export interface EventStoreErrorDetails extends ErrorOptions {
  /** The stream concerned, when there is one. */
  stream?: string | undefined
  /** The expected revision of a failed append. */
  expected?: ExpectedRevision | undefined
  /** The stream's actual revision when an append was refused. */
  actual?: number | undefined
  /** The file concerned, when there is one. */
  file?: string | undefined
}

/**
 * The error of `@waltz/eventstore`, a family of core's `WaltzError`. `message` starts with the code;
 * `code` is stable. `WRONG_EXPECTED_REVISION` carries `stream`, `expected` and `actual`.
 *
 * @example
 * ```ts
 * try {
 *   await store.appendToStream('cart-1', events, { expectedRevision: 3 })
 * } catch (err) {
 *   if (isEventStoreError(err, 'WRONG_EXPECTED_REVISION')) console.log(err.stream, err.expected, err.actual)
 * }
 * ```
 */
export class EventStoreError extends WaltzError<EventStoreErrorCode> {
  /** Always `'EventStoreError'`: {@link isEventStoreError} checks it. */
  override readonly name = 'EventStoreError'
  /** The stream concerned, if any. */
  readonly stream: string | undefined
  /** The expected revision of a refused append. */
  readonly expected: ExpectedRevision | undefined
  /** The stream's revision when the append was refused. */
  readonly actual: number | undefined
  /** The file concerned, if any. */
  readonly file: string | undefined

  /**
   * @param code - the stable code
   * @param message - a human-readable explanation (the code is prefixed automatically)
   * @param details - stream, expected, actual, file and `cause`
   */
  constructor(code: EventStoreErrorCode, message: string, details: EventStoreErrorDetails = {}) {
    super(code, message, details)
    this.stream = details.stream
    this.expected = details.expected
    this.actual = details.actual
    this.file = details.file
  }

  /** `WRONG_EXPECTED_REVISION`: the stream's revision did not match; nothing was written. */
  static WRONG_EXPECTED_REVISION(
    stream: string,
    expected: ExpectedRevision,
    actual: number,
  ): EventStoreError {
    return new EventStoreError(
      'WRONG_EXPECTED_REVISION',
      `stream ${JSON.stringify(stream)} is at revision ${actual}, expected ${String(expected)}`,
      { stream, expected, actual },
    )
  }

  /** `STREAM_TOMBSTONED`: the stream was tombstoned. */
  static STREAM_TOMBSTONED(stream: string): EventStoreError {
    return new EventStoreError('STREAM_TOMBSTONED', `stream ${JSON.stringify(stream)} is tombstoned`, {
      stream,
    })
  }

  /** `STREAM_SHREDDED`: the data key `keyId` of the stream's events was shredded; nothing was written. */
  static STREAM_SHREDDED(stream: string, keyId: string = stream): EventStoreError {
    const key = keyId === stream ? '' : ` (key id ${JSON.stringify(keyId)})`
    return new EventStoreError(
      'STREAM_SHREDDED',
      `stream ${JSON.stringify(stream)} was shredded${key}, or its shred is under way: nothing more can be appended under its key`,
      { stream },
    )
  }

  /** `EVENTSTORE_INVALID_ARGUMENT`: a malformed argument or option. */
  static INVALID_ARGUMENT(message: string, details?: EventStoreErrorDetails): EventStoreError {
    return new EventStoreError('EVENTSTORE_INVALID_ARGUMENT', message, details)
  }

  /** `EVENTSTORE_CORRUPT`: the log or a store file contradicts itself. */
  static CORRUPT(message: string, details?: EventStoreErrorDetails): EventStoreError {
    return new EventStoreError('EVENTSTORE_CORRUPT', message, details)
  }

  /** `CHECKPOINT_CORRUPT`: a checkpoint file failed validation. */
  static CHECKPOINT_CORRUPT(message: string, details?: EventStoreErrorDetails): EventStoreError {
    return new EventStoreError('CHECKPOINT_CORRUPT', message, details)
  }

  /** `CHECKPOINT_AHEAD`: a consumer's checkpoint is past the end of the log. */
  static CHECKPOINT_AHEAD(message: string): EventStoreError {
    return new EventStoreError('CHECKPOINT_AHEAD', message)
  }

  /** `EVENTSTORE_IO`: a file-system call failed (the fs error is `cause`). */
  static IO(message: string, details?: EventStoreErrorDetails): EventStoreError {
    return new EventStoreError('EVENTSTORE_IO', message, details)
  }

  /** `EVENTSTORE_CLOSED`: the store was closed. */
  static CLOSED(message = 'the event store is closed'): EventStoreError {
    return new EventStoreError('EVENTSTORE_CLOSED', message)
  }

  /** `COMMAND_RETRIES_EXHAUSTED`: a command kept conflicting. */
  static COMMAND_RETRIES_EXHAUSTED(message: string, details?: EventStoreErrorDetails): EventStoreError {
    return new EventStoreError('COMMAND_RETRIES_EXHAUSTED', message, details)
  }

  /** `EVENTSTORE_UNAVAILABLE`: the server could not be reached or refused a request. */
  static UNAVAILABLE(message: string, details?: EventStoreErrorDetails): EventStoreError {
    return new EventStoreError('EVENTSTORE_UNAVAILABLE', message, details)
  }

  /** `CONSUMER_RUNNING`: a consumer of that name already runs. */
  static CONSUMER_RUNNING(message: string): EventStoreError {
    return new EventStoreError('CONSUMER_RUNNING', message)
  }
}

/**
 * Whether `err` is an {@link EventStoreError}, optionally with the given code. Checks `name` and
 * `code`, so it works across duplicate installs of the package.
 *
 * @param err - any thrown value
 * @param code - if given, the code it must carry
 * @returns true when `err` has `name === 'EventStoreError'` (and the code, when given)
 */
export function isEventStoreError(err: unknown, code?: EventStoreErrorCode): err is EventStoreError {
  return isWaltzError<EventStoreError>(err, 'EventStoreError', code)
}
