/**
 * Stable error codes raised by waltz. Codes are public API: new ones may be added, existing ones are
 * never renamed. Check `err.code` rather than `instanceof`, which fails when two copies of the package
 * are installed.
 */
export type WalErrorCode =
  /** A frame or segment failed validation (checksum, length, sequence chain, header). */
  | 'WAL_CORRUPT'
  /** Another writer holds the directory's lock file. */
  | 'WAL_LOCKED'
  /** A file-system call failed; the original error is the `cause`. The WAL is now failed. */
  | 'WAL_IO'
  /** The WAL was closed, or an operation was attempted after close. */
  | 'WAL_CLOSED'
  /** The WAL's segments were written by a different serializer. */
  | 'WAL_SERIALIZER_MISMATCH'
  /** An encoded record is larger than `maxRecordSize`. */
  | 'WAL_RECORD_TOO_LARGE'
  /** The serializer threw or returned something unusable while encoding or decoding. */
  | 'WAL_SERIALIZER_ERROR'
  /** The segment uses a format version this build cannot read. */
  | 'WAL_FORMAT_UNSUPPORTED'
  /** The requested sequence number has been removed by `truncateBefore`. */
  | 'WAL_TRUNCATED'
  /** An append or write was attempted on a WAL opened with `readOnly: true`. */
  | 'WAL_READ_ONLY'
  /** An argument is out of range or malformed. */
  | 'WAL_INVALID_ARGUMENT'

/** Extra context attached to a {@link WalError}. */
export interface WalErrorDetails extends ErrorOptions {
  /** The file the problem was found in, when it concerns one. */
  file?: string
  /** The byte offset within `file`, when known. */
  offset?: number
  /** The sequence number involved, when known. */
  seq?: number
}

/**
 * The one error class of waltz. `message` starts with the code; `code` is stable.
 *
 * @example
 * ```ts
 * try { await wal.append(record) } catch (err) {
 *   if (isWalError(err) && err.code === 'WAL_IO') await reopen()
 * }
 * ```
 */
export class WalError extends Error {
  override readonly name = 'WalError'
  /** The stable code naming the failure. */
  readonly code: WalErrorCode
  /** The file concerned, if any. */
  readonly file: string | undefined
  /** The byte offset in `file`, if known. */
  readonly offset: number | undefined
  /** The sequence number concerned, if known. */
  readonly seq: number | undefined

  /**
   * @param code - the stable code
   * @param message - a human-readable explanation (the code is prefixed automatically)
   * @param details - file, offset, seq and `cause`
   */
  constructor(code: WalErrorCode, message: string, details: WalErrorDetails = {}) {
    super(`${code}: ${message}`, details.cause === undefined ? undefined : { cause: details.cause })
    this.code = code
    this.file = details.file
    this.offset = details.offset
    this.seq = details.seq
  }
}

/**
 * Whether `err` is a waltz error, optionally with the given code. Works across duplicate installs.
 *
 * @param err - any thrown value
 * @param code - if given, the code it must carry
 * @returns true when `err` has `name === 'WalError'` (and the code, when given)
 */
export function isWalError(err: unknown, code?: WalErrorCode): err is WalError {
  if (typeof err !== 'object' || err === null) return false
  const e = err as { name?: unknown; code?: unknown }
  return e.name === 'WalError' && typeof e.code === 'string' && (code === undefined || e.code === code)
}
