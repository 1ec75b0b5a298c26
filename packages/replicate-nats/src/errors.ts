import { isWaltzError, WaltzError } from '@waltz/core'

/**
 * Stable error codes of `@waltz/replicate-nats`. Codes are public API: new ones may be added, existing
 * ones are never renamed. Check `err.code` (or {@link isReplicationError}) rather than `instanceof`.
 */
export type ReplicationErrorCode =
  /** A seq is missing: the stream skips one, or records the other side needs were removed (retention). */
  | 'REPLICATION_GAP'
  /**
   * The two sides disagree: the stream holds seqs the source WAL does not have, a record with other
   * bytes, another serializer, or a replica directory that is not a prefix of the stream.
   */
  | 'REPLICATION_DIVERGED'
  /** A stream message lacks the `Waltz-*` headers or carries malformed ones. */
  | 'REPLICATION_BAD_MESSAGE'
  /** The NATS connection or the WAL was closed under a running replicator or restore. */
  | 'REPLICATION_CLOSED'
  /** An option is missing or malformed. */
  | 'REPLICATION_INVALID_ARGUMENT'

/** Extra context attached to a {@link ReplicationError}. */
export interface ReplicationErrorDetails extends ErrorOptions {
  /** The WAL seq concerned, when known. */
  seq?: number | undefined
  /** The JetStream stream sequence concerned, when known. */
  streamSeq?: number | undefined
}

/**
 * The error of this package, a family of core's `WaltzError`. `message` starts with the code; `code`
 * is stable; `cause` holds the underlying NATS or WAL error when there is one. Raise one with the
 * factory of its code, e.g. `ReplicationError.GAP(message, { seq })`.
 *
 * @example
 * ```ts
 * await replicator.done.catch((err) => {
 *   if (isReplicationError(err, 'REPLICATION_DIVERGED')) alert('the stream is not a copy of this log')
 * })
 * ```
 */
export class ReplicationError extends WaltzError<ReplicationErrorCode> {
  /** Always `'ReplicationError'`: check it (or `code`) rather than `instanceof` across duplicate installs. */
  override readonly name = 'ReplicationError'
  /** The WAL seq concerned, if known. */
  readonly seq: number | undefined
  /** The JetStream stream sequence concerned, if known. */
  readonly streamSeq: number | undefined

  /**
   * @param code - the stable code
   * @param message - a human-readable explanation (the code is prefixed automatically)
   * @param details - seq, stream seq and `cause`
   */
  constructor(code: ReplicationErrorCode, message: string, details: ReplicationErrorDetails = {}) {
    super(code, message, details)
    this.seq = details.seq
    this.streamSeq = details.streamSeq
  }

  /** `REPLICATION_GAP`: a seq is missing from the stream, or was removed from the other side. */
  static GAP(message: string, details?: ReplicationErrorDetails): ReplicationError {
    return new ReplicationError('REPLICATION_GAP', message, details)
  }

  /** `REPLICATION_DIVERGED`: the stream and the WAL disagree. */
  static DIVERGED(message: string, details?: ReplicationErrorDetails): ReplicationError {
    return new ReplicationError('REPLICATION_DIVERGED', message, details)
  }

  /** `REPLICATION_BAD_MESSAGE`: a stream message lacks the `Waltz-*` headers or carries malformed ones. */
  static BAD_MESSAGE(message: string, details?: ReplicationErrorDetails): ReplicationError {
    return new ReplicationError('REPLICATION_BAD_MESSAGE', message, details)
  }

  /** `REPLICATION_CLOSED`: the NATS connection or the WAL closed under a running replicator or restore. */
  static CLOSED(message: string, details?: ReplicationErrorDetails): ReplicationError {
    return new ReplicationError('REPLICATION_CLOSED', message, details)
  }

  /** `REPLICATION_INVALID_ARGUMENT`: an option is missing or malformed. */
  static INVALID_ARGUMENT(message: string, details?: ReplicationErrorDetails): ReplicationError {
    return new ReplicationError('REPLICATION_INVALID_ARGUMENT', message, details)
  }
}

/**
 * Whether `err` is a {@link ReplicationError}, optionally with the given code. Works across duplicate
 * installs (it checks `name` and `code`, not the class).
 *
 * @param err - any thrown value
 * @param code - if given, the code it must carry
 * @returns true when `err` has `name === 'ReplicationError'` (and the code, when given)
 */
export function isReplicationError(err: unknown, code?: ReplicationErrorCode): err is ReplicationError {
  return isWaltzError<ReplicationError>(err, 'ReplicationError', code)
}
