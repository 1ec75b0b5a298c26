/**
 * Stable error codes of `@waltz/serializer-proto`. Codes are public API: new ones may be added, existing
 * ones are never renamed.
 */
export type ProtoSerializerErrorCode =
  /** The record's type has no message type registered in `types` (on encode or decode). */
  | 'SERIALIZER_UNKNOWN_TYPE'
  /** The record's data does not fit its message type (protobufjs `verify`), or holds a lone surrogate. */
  | 'SERIALIZER_VALIDATION_FAILED'
  /** protobufjs could not encode the record, or the record is malformed. */
  | 'SERIALIZER_ENCODE_FAILED'
  /** The bytes are not a record of this serializer, or hold an int64 beyond `Number.MAX_SAFE_INTEGER`. */
  | 'SERIALIZER_DECODE_FAILED'

/** Context attached to a {@link ProtoSerializerError}. */
export interface ProtoSerializerErrorDetails {
  /** The record type concerned, when known. */
  type?: string | undefined
  /** The sequence number concerned, when known (a serializer never knows it; the WAL adds it). */
  seq?: number | undefined
  /** The error thrown inside protobufjs, if any. */
  cause?: unknown
}

/**
 * The error thrown by the binary serializer. `message` starts with the code; `code` is stable. Check
 * `err.code` (or {@link isProtoSerializerError}) rather than `instanceof` across duplicate installs.
 */
export class ProtoSerializerError extends Error {
  override readonly name = 'ProtoSerializerError'
  /** The stable code naming the failure. */
  readonly code: ProtoSerializerErrorCode
  /** The record type concerned, if known. */
  readonly type: string | undefined
  /** The sequence number concerned, if known. */
  readonly seq: number | undefined

  /**
   * @param code - the stable code
   * @param message - a human-readable explanation (the code is prefixed automatically)
   * @param details - the record type, seq and `cause`
   */
  constructor(code: ProtoSerializerErrorCode, message: string, details: ProtoSerializerErrorDetails = {}) {
    super(`${code}: ${message}`, details.cause === undefined ? undefined : { cause: details.cause })
    this.code = code
    this.type = details.type
    this.seq = details.seq
  }
}

/**
 * Whether `err` is a {@link ProtoSerializerError}, optionally with the given code. Works across
 * duplicate installs.
 *
 * @param err - any thrown value
 * @param code - if given, the code it must carry
 * @returns true when `err` has `name === 'ProtoSerializerError'` (and the code, when given)
 */
export function isProtoSerializerError(
  err: unknown,
  code?: ProtoSerializerErrorCode,
): err is ProtoSerializerError {
  if (typeof err !== 'object' || err === null) return false
  const e = err as { name?: unknown; code?: unknown }
  return (
    e.name === 'ProtoSerializerError' && typeof e.code === 'string' && (code === undefined || e.code === code)
  )
}
