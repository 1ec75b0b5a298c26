/**
 * Stable error codes of `@waltz/serializer-binary`. Codes are public API: new ones may be added, existing
 * ones are never renamed.
 */
export type JsonSerializerErrorCode =
  /** The record's type has no schema in `schemas` (on encode or decode). */
  | 'SERIALIZER_UNKNOWN_TYPE'
  /** The data does not match its schema: rejected before writing, or a stored record no longer matches. */
  | 'SERIALIZER_VALIDATION_FAILED'
  /** The record cannot be written as JSON (a non-JSON value such as a bigint or Date, a bad time). */
  | 'SERIALIZER_ENCODE_FAILED'
  /** The bytes are not a JSON record of this serializer, or were written by a newer schema version. */
  | 'SERIALIZER_DECODE_FAILED'
  /** An `upcast` hook threw, or a record needs upcasting and its type has no hook. */
  | 'SERIALIZER_UPCAST_FAILED'

/** Context attached to a {@link JsonSerializerError}. */
export interface JsonSerializerErrorDetails {
  /** The record type concerned, when known. */
  type?: string | undefined
  /** The sequence number concerned, when known (a serializer never knows it; the WAL adds it). */
  seq?: number | undefined
  /** The error thrown inside zod or `JSON`, if any. */
  cause?: unknown
}

/**
 * The error thrown by the binary serializer. `message` starts with the code; `code` is stable. Check
 * `err.code` (or {@link isJsonSerializerError}) rather than `instanceof` across duplicate installs.
 */
export class JsonSerializerError extends Error {
  override readonly name = 'JsonSerializerError'
  /** The stable code naming the failure. */
  readonly code: JsonSerializerErrorCode
  /** The record type concerned, if known. */
  readonly type: string | undefined
  /** The sequence number concerned, if known. */
  readonly seq: number | undefined

  /**
   * @param code - the stable code
   * @param message - a human-readable explanation (the code is prefixed automatically)
   * @param details - the record type, seq and `cause`
   */
  constructor(code: JsonSerializerErrorCode, message: string, details: JsonSerializerErrorDetails = {}) {
    super(`${code}: ${message}`, details.cause === undefined ? undefined : { cause: details.cause })
    this.code = code
    this.type = details.type
    this.seq = details.seq
  }
}

/**
 * Whether `err` is a {@link JsonSerializerError}, optionally with the given code. Works across
 * duplicate installs.
 *
 * @param err - any thrown value
 * @param code - if given, the code it must carry
 * @returns true when `err` has `name === 'JsonSerializerError'` (and the code, when given)
 */
export function isJsonSerializerError(
  err: unknown,
  code?: JsonSerializerErrorCode,
): err is JsonSerializerError {
  if (typeof err !== 'object' || err === null) return false
  const e = err as { name?: unknown; code?: unknown }
  return (
    e.name === 'JsonSerializerError' && typeof e.code === 'string' && (code === undefined || e.code === code)
  )
}
