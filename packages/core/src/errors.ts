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
  /** No longer raised (read-only views are `WalReader`s, which have no append); kept so the code stays stable. */
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
  /** Always `'WalError'`: {@link isWalError} checks it, so the check works across package copies. */
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
  return hasNameAndCode(err, 'WalError', code)
}

/**
 * Stable codes of {@link SerializerError}, shared by every serializer package so callers handle one
 * shape whatever codec they use. Public API: codes are added, never renamed.
 */
export type SerializerErrorCode =
  /** The record's type is not registered with the serializer (encode or decode). */
  | 'SERIALIZER_UNKNOWN_TYPE'
  /** The data does not match its schema or message type. */
  | 'SERIALIZER_VALIDATION_FAILED'
  /** The record cannot be encoded (a value the format cannot carry, a malformed record). */
  | 'SERIALIZER_ENCODE_FAILED'
  /** The bytes are not a record of this serializer. */
  | 'SERIALIZER_DECODE_FAILED'
  /** An upcast hook failed, or an old record has no hook. */
  | 'SERIALIZER_UPCAST_FAILED'
  /** A persisted structure table could not be read or written. */
  | 'SERIALIZER_STRUCTURES_FAILED'

/** Context attached to a {@link SerializerError}. */
export interface SerializerErrorDetails extends ErrorOptions {
  /** The name of the serializer that failed (its `Serializer.name`). */
  serializer: string
  /** The record type concerned, when known. */
  type?: string | undefined
}

/**
 * The error serializers throw. `message` starts with the code; `code` is stable. The WAL wraps a
 * decode failure in a `WAL_SERIALIZER_ERROR` that adds the seq and keeps this error as `cause`.
 *
 * @example
 * ```ts
 * if (isSerializerError(err, 'SERIALIZER_VALIDATION_FAILED')) console.log(err.type)
 * ```
 */
export class SerializerError extends Error {
  /** Always `'SerializerError'`: {@link isSerializerError} checks it, so the check works across package copies. */
  override readonly name = 'SerializerError'
  /** The stable code naming the failure. */
  readonly code: SerializerErrorCode
  /** The serializer's name. */
  readonly serializer: string
  /** The record type concerned, if known. */
  readonly type: string | undefined

  /**
   * @param code - the stable code
   * @param message - a human-readable explanation (the code is prefixed automatically)
   * @param details - the serializer's name, the record type and `cause`
   */
  constructor(code: SerializerErrorCode, message: string, details: SerializerErrorDetails) {
    super(`${code}: ${message}`, details.cause === undefined ? undefined : { cause: details.cause })
    this.code = code
    this.serializer = details.serializer
    this.type = details.type
  }
}

/**
 * Whether `err` is a {@link SerializerError}, optionally with the given code. Works across duplicate
 * installs.
 *
 * @param err - any thrown value
 * @param code - if given, the code it must carry
 * @returns true when `err` has `name === 'SerializerError'` (and the code, when given)
 */
export function isSerializerError(err: unknown, code?: SerializerErrorCode): err is SerializerError {
  return hasNameAndCode(err, 'SerializerError', code)
}

function hasNameAndCode(err: unknown, name: string, code: string | undefined): boolean {
  if (typeof err !== 'object' || err === null) return false
  const e = err as { name?: unknown; code?: unknown }
  return e.name === name && typeof e.code === 'string' && (code === undefined || e.code === code)
}
