/**
 * Stable error codes of `@waltz/snapshot`. Codes are public API: new ones may be added, existing ones
 * are never renamed. Check `err.code` (or {@link isSnapshotError}) rather than `instanceof`.
 */
export type SnapshotErrorCode =
  /** A snapshot file failed validation: magic, length, checksum, or its name does not match its seq. */
  | 'SNAPSHOT_CORRUPT'
  /** A file-system call failed; the original error is the `cause`. */
  | 'SNAPSHOT_IO'
  /** The snapshot was written with a state codec of another name. */
  | 'SNAPSHOT_SERIALIZER_MISMATCH'
  /** The state codec threw while encoding, or while decoding an intact (checksum-valid) snapshot. */
  | 'SNAPSHOT_SERIALIZER_ERROR'
  /** The snapshot uses a format version this build cannot read. */
  | 'SNAPSHOT_FORMAT_UNSUPPORTED'
  /** The snapshot includes records the WAL no longer has (its seq is above `wal.lastSeq`). */
  | 'SNAPSHOT_STALE'
  /** The WAL no longer holds the records after the newest usable snapshot (removed by `truncateBefore`). */
  | 'SNAPSHOT_GAP'
  /** The snapshotter was closed. */
  | 'SNAPSHOT_CLOSED'
  /** An argument or option is out of range or malformed. */
  | 'SNAPSHOT_INVALID_ARGUMENT'

/** Extra context attached to a {@link SnapshotError}. */
export interface SnapshotErrorDetails extends ErrorOptions {
  /** The snapshot file concerned, when there is one. */
  file?: string | undefined
  /** The sequence number concerned, when known. */
  seq?: number | undefined
}

/**
 * The one error class of `@waltz/snapshot`. `message` starts with the code; `code` is stable.
 *
 * @example
 * ```ts
 * try { await recover({ wal, store, aggregate }) } catch (err) {
 *   if (isSnapshotError(err, 'SNAPSHOT_GAP')) console.error('restore the WAL from a backup')
 * }
 * ```
 */
export class SnapshotError extends Error {
  /** Always `'SnapshotError'`: {@link isSnapshotError} checks it, so the check works across package copies. */
  override readonly name = 'SnapshotError'
  /** The stable code naming the failure. */
  readonly code: SnapshotErrorCode
  /** The snapshot file concerned, if any. */
  readonly file: string | undefined
  /** The sequence number concerned, if known. */
  readonly seq: number | undefined

  /**
   * @param code - the stable code
   * @param message - a human-readable explanation (the code is prefixed automatically)
   * @param details - file, seq and `cause`
   */
  constructor(code: SnapshotErrorCode, message: string, details: SnapshotErrorDetails = {}) {
    super(`${code}: ${message}`, details.cause === undefined ? undefined : { cause: details.cause })
    this.code = code
    this.file = details.file
    this.seq = details.seq
  }
}

/**
 * Whether `err` is a {@link SnapshotError}, optionally with the given code. Checks `name` and `code`, so
 * it works across duplicate installs of the package.
 *
 * @param err - any thrown value
 * @param code - if given, the code it must carry
 * @returns true when `err` has `name === 'SnapshotError'` (and the code, when given)
 */
export function isSnapshotError(err: unknown, code?: SnapshotErrorCode): err is SnapshotError {
  if (typeof err !== 'object' || err === null) return false
  const e = err as { name?: unknown; code?: unknown }
  return e.name === 'SnapshotError' && typeof e.code === 'string' && (code === undefined || e.code === code)
}
