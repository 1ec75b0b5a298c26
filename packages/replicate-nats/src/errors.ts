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
 * The error of this package. `message` starts with the code; `code` is stable; `cause` holds the
 * underlying NATS or WAL error when there is one.
 *
 * @example
 * ```ts
 * await replicator.done.catch((err) => {
 *   if (isReplicationError(err, 'REPLICATION_DIVERGED')) alert('the stream is not a copy of this log')
 * })
 * ```
 */
export class ReplicationError extends Error {
  /** Always `'ReplicationError'`: check it (or `code`) rather than `instanceof` across duplicate installs. */
  override readonly name = 'ReplicationError'
  /** The stable code naming the failure. */
  readonly code: ReplicationErrorCode
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
    super(`${code}: ${message}`, details.cause === undefined ? undefined : { cause: details.cause })
    this.code = code
    this.seq = details.seq
    this.streamSeq = details.streamSeq
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
  if (typeof err !== 'object' || err === null) return false
  const e = err as { name?: unknown; code?: unknown }
  return (
    e.name === 'ReplicationError' && typeof e.code === 'string' && (code === undefined || e.code === code)
  )
}
