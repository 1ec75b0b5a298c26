import { isWaltzError, WaltzError } from '@waltz/core'

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
 * The error of `@waltz/snapshot`, a family of core's `WaltzError`. `message` starts with the code;
 * `code` is stable. Raise one with the factory of its code, e.g.
 * `SnapshotError.IO(message, { file, cause })`.
 *
 * @example
 * ```ts
 * try { await recover({ wal, store, aggregate }) } catch (err) {
 *   if (isSnapshotError(err, 'SNAPSHOT_GAP')) console.error('restore the WAL from a backup')
 * }
 * ```
 */
export class SnapshotError extends WaltzError<SnapshotErrorCode> {
  /** Always `'SnapshotError'`: {@link isSnapshotError} checks it, so the check works across package copies. */
  override readonly name = 'SnapshotError'
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
    super(code, message, details)
    this.file = details.file
    this.seq = details.seq
  }

  /** `SNAPSHOT_CORRUPT`: a snapshot file failed validation. */
  static CORRUPT(message: string, details?: SnapshotErrorDetails): SnapshotError {
    return new SnapshotError('SNAPSHOT_CORRUPT', message, details)
  }

  /** `SNAPSHOT_IO`: a file-system call failed (the fs error is `cause`). */
  static IO(message: string, details?: SnapshotErrorDetails): SnapshotError {
    return new SnapshotError('SNAPSHOT_IO', message, details)
  }

  /** `SNAPSHOT_SERIALIZER_MISMATCH`: the snapshot was written with a state codec of another name. */
  static SERIALIZER_MISMATCH(message: string, details?: SnapshotErrorDetails): SnapshotError {
    return new SnapshotError('SNAPSHOT_SERIALIZER_MISMATCH', message, details)
  }

  /** `SNAPSHOT_SERIALIZER_ERROR`: the state codec threw or returned nothing (its error is `cause`). */
  static SERIALIZER_ERROR(message: string, details?: SnapshotErrorDetails): SnapshotError {
    return new SnapshotError('SNAPSHOT_SERIALIZER_ERROR', message, details)
  }

  /** `SNAPSHOT_FORMAT_UNSUPPORTED`: a snapshot of a format version this build cannot read. */
  static FORMAT_UNSUPPORTED(message: string, details?: SnapshotErrorDetails): SnapshotError {
    return new SnapshotError('SNAPSHOT_FORMAT_UNSUPPORTED', message, details)
  }

  /** `SNAPSHOT_STALE`: the snapshot includes records the WAL no longer has. */
  static STALE(message: string, details?: SnapshotErrorDetails): SnapshotError {
    return new SnapshotError('SNAPSHOT_STALE', message, details)
  }

  /** `SNAPSHOT_GAP`: the WAL no longer holds the records after the newest usable snapshot. */
  static GAP(message: string, details?: SnapshotErrorDetails): SnapshotError {
    return new SnapshotError('SNAPSHOT_GAP', message, details)
  }

  /** `SNAPSHOT_CLOSED`: the snapshotter was closed. */
  static CLOSED(message: string, details?: SnapshotErrorDetails): SnapshotError {
    return new SnapshotError('SNAPSHOT_CLOSED', message, details)
  }

  /** `SNAPSHOT_INVALID_ARGUMENT`: an argument or option is out of range or malformed. */
  static INVALID_ARGUMENT(message: string, details?: SnapshotErrorDetails): SnapshotError {
    return new SnapshotError('SNAPSHOT_INVALID_ARGUMENT', message, details)
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
  return isWaltzError<SnapshotError>(err, 'SnapshotError', code)
}
