/**
 * Stable error codes of `@waltz/serializer-binary`. Codes are public API: new ones may be added, existing
 * ones are never renamed.
 */
export type BinarySerializerErrorCode =
  /** msgpackr could not encode the record (e.g. an unsupported value), or the record is malformed. */
  | 'SERIALIZER_ENCODE_FAILED'
  /** The bytes are not a record written by this serializer (garbage, truncated, unknown structure). */
  | 'SERIALIZER_DECODE_FAILED'
  /** The shared structures file could not be read or written (`structuresPath` mode only). */
  | 'SERIALIZER_STRUCTURES_FAILED'

/** Context attached to a {@link BinarySerializerError}. */
export interface BinarySerializerErrorDetails {
  /** The record type concerned, when known. */
  type?: string | undefined
  /** The sequence number concerned, when known (a serializer never knows it; the WAL adds it). */
  seq?: number | undefined
  /** The error thrown inside msgpackr or the file system, if any. */
  cause?: unknown
}

/**
 * The error thrown by the binary serializer. `message` starts with the code; `code` is stable. Check
 * `err.code` (or {@link isBinarySerializerError}) rather than `instanceof` across duplicate installs.
 */
export class BinarySerializerError extends Error {
  override readonly name = 'BinarySerializerError'
  /** The stable code naming the failure. */
  readonly code: BinarySerializerErrorCode
  /** The record type concerned, if known. */
  readonly type: string | undefined
  /** The sequence number concerned, if known. */
  readonly seq: number | undefined

  /**
   * @param code - the stable code
   * @param message - a human-readable explanation (the code is prefixed automatically)
   * @param details - the record type, seq and `cause`
   */
  constructor(code: BinarySerializerErrorCode, message: string, details: BinarySerializerErrorDetails = {}) {
    super(`${code}: ${message}`, details.cause === undefined ? undefined : { cause: details.cause })
    this.code = code
    this.type = details.type
    this.seq = details.seq
  }
}

/**
 * Whether `err` is a {@link BinarySerializerError}, optionally with the given code. Works across
 * duplicate installs.
 *
 * @param err - any thrown value
 * @param code - if given, the code it must carry
 * @returns true when `err` has `name === 'BinarySerializerError'` (and the code, when given)
 */
export function isBinarySerializerError(
  err: unknown,
  code?: BinarySerializerErrorCode,
): err is BinarySerializerError {
  if (typeof err !== 'object' || err === null) return false
  const e = err as { name?: unknown; code?: unknown }
  return (
    e.name === 'BinarySerializerError' &&
    typeof e.code === 'string' &&
    (code === undefined || e.code === code)
  )
}
