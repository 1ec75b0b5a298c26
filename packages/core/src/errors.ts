/**
 * The base of every waltz error: a stable `code`, a message that starts with it, and `cause` when
 * there is one. Each package derives one family from it (`WalError`, `SerializerError`,
 * `SnapshotError`, `ReplicationError`, ...) with its own `name`, its fields and one static factory per
 * code (`WalError.CORRUPT(message, details)`), so every error of a code is built the same way.
 *
 * Check a family with its `is*Error` helper (or {@link isWaltzError}) rather than `instanceof`, which
 * fails when two copies of a package are installed.
 *
 * @typeParam C - the family's code union
 * @example
 * ```ts
 * export class CacheError extends WaltzError<'CACHE_MISS' | 'CACHE_CLOSED'> {
 *   override readonly name = 'CacheError'
 *   constructor(code: CacheError['code'], message: string, details: ErrorOptions = {}) {
 *     super(code, message, details)
 *   }
 *   static MISS(message: string): CacheError {
 *     return new CacheError('CACHE_MISS', message)
 *   }
 * }
 * ```
 */
export abstract class WaltzError<C extends string = string> extends Error {
  /** The family's name, e.g. `'WalError'`: {@link isWaltzError} checks it, with `code`. */
  abstract override readonly name: string
  /** The stable code naming the failure. */
  readonly code: C

  /**
   * @param code - the stable code
   * @param message - a human-readable explanation (the code is prefixed automatically)
   * @param options - `cause`, set on the error only when defined
   */
  protected constructor(code: C, message: string, options: ErrorOptions = {}) {
    super(`${code}: ${message}`, options.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
  }
}

/**
 * Whether `err` is a waltz error of the family `name`, optionally with the given code. It compares
 * `name` and `code` rather than the class, so it works across duplicate installs.
 *
 * @typeParam E - the family, e.g. `WalError`
 * @param err - any thrown value
 * @param name - the family's name, e.g. `'WalError'`
 * @param code - if given, the code it must carry
 * @returns true when `err` has that `name` and a string `code` (equal to `code`, when given)
 * @example
 * ```ts
 * if (isWaltzError<WalError>(err, 'WalError', 'WAL_IO')) await reopen()
 * ```
 */
export function isWaltzError<E extends WaltzError = WaltzError>(
  err: unknown,
  name: E['name'],
  code?: E['code'],
): err is E {
  if (typeof err !== 'object' || err === null) return false
  const e = err as { name?: unknown; code?: unknown }
  return e.name === name && typeof e.code === 'string' && (code === undefined || e.code === code)
}

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
  /**
   * No longer raised (read-only views are `WalReader`s, which have no append), so it has no factory;
   * kept so the code stays stable.
   */
  | 'WAL_READ_ONLY'
  /** An argument is out of range or malformed. */
  | 'WAL_INVALID_ARGUMENT'
  /**
   * A read needs a segment that exists only in the archive, and the archive does not hold it or
   * failed (its error is the `cause`); `file` names the segment in the archive.
   */
  | 'WAL_ARCHIVE'
  /**
   * Encryption keys are unavailable: the master key cannot unwrap the log's key store (a wrong or
   * missing master key), the keyring failed (`cause`), or an encrypted log has no key store.
   */
  | 'WAL_KEYRING'

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
 * The error of `@waltz/core`. `message` starts with the code; `code` is stable. Raise one with the
 * factory of its code, e.g. `WalError.IO('cannot open x', { file, cause })`.
 *
 * @example
 * ```ts
 * try { await wal.append(record) } catch (err) {
 *   if (isWalError(err) && err.code === 'WAL_IO') await reopen()
 * }
 * ```
 */
export class WalError extends WaltzError<WalErrorCode> {
  /** Always `'WalError'`: {@link isWalError} checks it, so the check works across package copies. */
  override readonly name = 'WalError'
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
    super(code, message, details)
    this.file = details.file
    this.offset = details.offset
    this.seq = details.seq
  }

  /** `WAL_CORRUPT`: a frame or segment failed validation. */
  static CORRUPT(message: string, details?: WalErrorDetails): WalError {
    return new WalError('WAL_CORRUPT', message, details)
  }

  /** `WAL_LOCKED`: another writer holds the directory's lock file. */
  static LOCKED(message: string, details?: WalErrorDetails): WalError {
    return new WalError('WAL_LOCKED', message, details)
  }

  /** `WAL_IO`: a file-system call failed (the fs error is `cause`). */
  static IO(message: string, details?: WalErrorDetails): WalError {
    return new WalError('WAL_IO', message, details)
  }

  /** `WAL_CLOSED`: the WAL was closed. */
  static CLOSED(message: string, details?: WalErrorDetails): WalError {
    return new WalError('WAL_CLOSED', message, details)
  }

  /** `WAL_SERIALIZER_MISMATCH`: the segments were written by a different serializer. */
  static SERIALIZER_MISMATCH(message: string, details?: WalErrorDetails): WalError {
    return new WalError('WAL_SERIALIZER_MISMATCH', message, details)
  }

  /** `WAL_RECORD_TOO_LARGE`: an encoded record is larger than `maxRecordSize`. */
  static RECORD_TOO_LARGE(message: string, details?: WalErrorDetails): WalError {
    return new WalError('WAL_RECORD_TOO_LARGE', message, details)
  }

  /** `WAL_SERIALIZER_ERROR`: the serializer threw or returned something unusable (its error is `cause`). */
  static SERIALIZER_ERROR(message: string, details?: WalErrorDetails): WalError {
    return new WalError('WAL_SERIALIZER_ERROR', message, details)
  }

  /** `WAL_FORMAT_UNSUPPORTED`: a segment of a format version this build cannot read. */
  static FORMAT_UNSUPPORTED(message: string, details?: WalErrorDetails): WalError {
    return new WalError('WAL_FORMAT_UNSUPPORTED', message, details)
  }

  /** `WAL_TRUNCATED`: the requested seq was removed by `truncateBefore`. */
  static TRUNCATED(message: string, details?: WalErrorDetails): WalError {
    return new WalError('WAL_TRUNCATED', message, details)
  }

  /** `WAL_INVALID_ARGUMENT`: an argument or option is out of range or malformed. */
  static INVALID_ARGUMENT(message: string, details?: WalErrorDetails): WalError {
    return new WalError('WAL_INVALID_ARGUMENT', message, details)
  }

  /** `WAL_ARCHIVE`: an archived segment a read needs is missing from the archive, or the archive failed. */
  static ARCHIVE(message: string, details?: WalErrorDetails): WalError {
    return new WalError('WAL_ARCHIVE', message, details)
  }

  /** `WAL_KEYRING`: the master key cannot unwrap the log's keys, or the keyring failed. */
  static KEYRING(message: string, details?: WalErrorDetails): WalError {
    return new WalError('WAL_KEYRING', message, details)
  }
}

/**
 * Whether `err` is a {@link WalError}, optionally with the given code. Works across duplicate installs.
 *
 * @param err - any thrown value
 * @param code - if given, the code it must carry
 * @returns true when `err` has `name === 'WalError'` (and the code, when given)
 */
export function isWalError(err: unknown, code?: WalErrorCode): err is WalError {
  return isWaltzError<WalError>(err, 'WalError', code)
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
 * decode failure in a `WAL_SERIALIZER_ERROR` that adds the seq and keeps this error as `cause`. Raise
 * one with the factory of its code, e.g. `SerializerError.UNKNOWN_TYPE(message, { serializer, type })`.
 *
 * @example
 * ```ts
 * if (isSerializerError(err, 'SERIALIZER_VALIDATION_FAILED')) console.log(err.type)
 * ```
 */
export class SerializerError extends WaltzError<SerializerErrorCode> {
  /** Always `'SerializerError'`: {@link isSerializerError} checks it, so the check works across package copies. */
  override readonly name = 'SerializerError'
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
    super(code, message, details)
    this.serializer = details.serializer
    this.type = details.type
  }

  /** `SERIALIZER_UNKNOWN_TYPE`: the record's type is not registered with the serializer. */
  static UNKNOWN_TYPE(message: string, details: SerializerErrorDetails): SerializerError {
    return new SerializerError('SERIALIZER_UNKNOWN_TYPE', message, details)
  }

  /** `SERIALIZER_VALIDATION_FAILED`: the data does not match its schema or message type. */
  static VALIDATION_FAILED(message: string, details: SerializerErrorDetails): SerializerError {
    return new SerializerError('SERIALIZER_VALIDATION_FAILED', message, details)
  }

  /** `SERIALIZER_ENCODE_FAILED`: the record cannot be encoded. */
  static ENCODE_FAILED(message: string, details: SerializerErrorDetails): SerializerError {
    return new SerializerError('SERIALIZER_ENCODE_FAILED', message, details)
  }

  /** `SERIALIZER_DECODE_FAILED`: the bytes are not a record of this serializer. */
  static DECODE_FAILED(message: string, details: SerializerErrorDetails): SerializerError {
    return new SerializerError('SERIALIZER_DECODE_FAILED', message, details)
  }

  /** `SERIALIZER_UPCAST_FAILED`: an upcast hook failed, or an old record has no hook. */
  static UPCAST_FAILED(message: string, details: SerializerErrorDetails): SerializerError {
    return new SerializerError('SERIALIZER_UPCAST_FAILED', message, details)
  }

  /** `SERIALIZER_STRUCTURES_FAILED`: a persisted structure table could not be read or written. */
  static STRUCTURES_FAILED(message: string, details: SerializerErrorDetails): SerializerError {
    return new SerializerError('SERIALIZER_STRUCTURES_FAILED', message, details)
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
  return isWaltzError<SerializerError>(err, 'SerializerError', code)
}
