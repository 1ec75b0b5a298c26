/**
 * Turns appended records into whole frames in a write buffer: validates the envelope (type, time,
 * key, headers), encodes it, has the serializer encode the data in place, and frames the result.
 * Nothing here knows about batches, segments or files.
 *
 * @internal
 */
import { WalError } from './errors.js'
import {
  type EnvelopeInput,
  type EnvelopeText,
  envelopeSize,
  FRAME_HEADER_SIZE,
  framePrefixSize,
  LONG_TEXT,
  MAX_KEY_BYTES,
  MAX_TIME,
  MAX_TYPE_BYTES,
  writeEnvelope,
  writeFrameHeader,
} from './format.js'
import type { RecordCipher } from './record-cipher.js'
import type { RecordShape, Serializer } from './serializer.js'

/** What `append` accepts, untyped (the facade types it). */
export interface AppendRecord {
  type: string
  data: unknown
  time?: number
  key?: string
  headers?: Readonly<Record<string, string>>
  /** A raw record only: its data is a sealed field (an encrypted record copied as stored). */
  encrypted?: boolean
}

/** A buffer that frames are encoded into, grown on demand (its contents kept). */
export interface FrameTarget {
  buf: Buffer
}

/** Makes `target.buf` hold at least `capacity` bytes, keeping all of its current contents. */
export function grow(target: FrameTarget, capacity: number): void {
  if (target.buf.length >= capacity) return
  let size = Math.max(64, target.buf.length * 2)
  while (size < capacity) size *= 2
  const grown = Buffer.allocUnsafe(size)
  target.buf.copy(grown)
  target.buf = grown
}

/**
 * The UTF-8 bytes of a string that must round-trip exactly: a lone surrogate has no UTF-8 form (it
 * would come back as U+FFFD), so it is refused.
 */
function utf8Of(value: string, what: string): Buffer {
  if (!(value as unknown as { isWellFormed(): boolean }).isWellFormed()) {
    throw WalError.INVALID_ARGUMENT(`${what} holds a lone surrogate (not representable in UTF-8)`)
  }
  return Buffer.from(value, 'utf8')
}

/**
 * A key, header name or header value as an envelope field: the string itself when it is all ASCII
 * (nothing to allocate), else its UTF-8 bytes.
 */
function textOf(value: string, what: string): EnvelopeText {
  const n = value.length
  if (n >= LONG_TEXT) {
    // One native call instead of a loop: the UTF-8 length equals the string's length exactly when
    // every character is ASCII (any other takes 2 or more bytes, a lone surrogate 3).
    return Buffer.byteLength(value, 'utf8') === n ? value : utf8Of(value, what)
  }
  for (let i = 0; i < n; i++) {
    if (value.charCodeAt(i) > 0x7f) return utf8Of(value, what)
  }
  return value
}

/** Encodes type names to UTF-8 once: a log has few distinct types. */
class TypeNameBytes {
  private readonly cache = new Map<string, Buffer>()

  get(type: unknown): Buffer {
    let bytes = this.cache.get(type as string)
    if (bytes === undefined) {
      if (typeof type !== 'string') {
        throw WalError.INVALID_ARGUMENT(`record type must be a string, got ${typeof type}`)
      }
      bytes = utf8Of(type, 'record type')
      if (bytes.length > MAX_TYPE_BYTES) {
        throw WalError.INVALID_ARGUMENT(
          `record type '${type.slice(0, 40)}…' is longer than ${MAX_TYPE_BYTES} UTF-8 bytes`,
        )
      }
      if (this.cache.size >= 1024) this.cache.clear() // unbounded type names must not grow memory
      this.cache.set(type, bytes)
    }
    return bytes
  }
}

/** Checks a record time: a non-negative integer of milliseconds that fits the 48-bit field. */
export function checkTime(time: unknown): number {
  if (typeof time !== 'number' || !Number.isInteger(time) || time < 0 || time > MAX_TIME) {
    throw WalError.INVALID_ARGUMENT(
      `record time must be an integer of milliseconds from 0 to ${MAX_TIME}, got ${String(time)}`,
    )
  }
  return time
}

function keyBytes(key: unknown): EnvelopeText | undefined {
  if (key === undefined) return undefined
  if (typeof key !== 'string') {
    throw WalError.INVALID_ARGUMENT(`record key must be a string, got ${typeof key}`)
  }
  const bytes = textOf(key, 'record key')
  if (bytes.length > MAX_KEY_BYTES) {
    throw WalError.INVALID_ARGUMENT(`record key is longer than ${MAX_KEY_BYTES} UTF-8 bytes`)
  }
  return bytes
}

/**
 * Fills `out` with the headers as name/value pairs of envelope fields (its length set to match) and
 * returns it, or undefined when there are none. The encoder passes the one array it keeps: a fresh
 * array per record was the largest allocation of a keyed append with headers.
 */
function headerBytes(headers: unknown, out: EnvelopeText[]): EnvelopeText[] | undefined {
  if (headers === undefined) return undefined
  if (typeof headers !== 'object' || headers === null || Array.isArray(headers)) {
    throw WalError.INVALID_ARGUMENT('record headers must be an object of string values')
  }
  let n = 0
  for (const name in headers) {
    // Own properties only, as Object.keys gives them (without allocating their array).
    if (!Object.hasOwn(headers, name)) continue
    const value = (headers as Record<string, unknown>)[name]
    if (typeof value !== 'string') throw WalError.INVALID_ARGUMENT(`record header '${name}' must be a string`)
    out[n++] = textOf(name, 'a record header name')
    out[n++] = textOf(value, `record header '${name}'`)
  }
  if (out.length !== n) out.length = n
  return out
}

/** Where a frame goes: its seq, its place in an atomic batch, and how far behind durability is. */
export interface FramePlacement {
  seq: number
  batchRemaining: number
  /** `seq` minus the highest seq already fdatasync'ed. */
  syncDistance: number
}

/** Encodes records into frames (see the module comment). One per WAL: it caches type names. */
export class RecordEncoder {
  private readonly types = new TypeNameBytes()
  private readonly serializer: Serializer<string, unknown, RecordShape>
  private readonly maxRecordSize: number
  private readonly envelope: EnvelopeInput = {
    time: 0,
    typeBytes: EMPTY,
    keyBytes: undefined,
    headerBytes: undefined,
    encrypted: false,
  }
  private readonly cipher: RecordCipher | undefined
  /** The envelope's header fields, refilled for each record (see {@link headerBytes}). */
  private readonly headerFields: EnvelopeText[] = []

  /**
   * @param serializer - encodes record data
   * @param maxRecordSize - the largest body a frame may have
   * @param cipher - seals record data (an encrypted log)
   */
  constructor(
    serializer: Serializer<string, unknown, RecordShape>,
    maxRecordSize: number,
    cipher?: RecordCipher,
  ) {
    this.serializer = serializer
    this.maxRecordSize = maxRecordSize
    this.cipher = cipher
  }

  /**
   * Encodes `input` as a whole frame into `target.buf` at `at`, growing the buffer as needed.
   * Nothing else changes, so a failure leaves the target's committed bytes as they were.
   *
   * @returns the offset just past the frame
   * @throws WalError `WAL_INVALID_ARGUMENT` (a bad envelope), `WAL_SERIALIZER_ERROR`,
   *   `WAL_RECORD_TOO_LARGE`
   */
  encode(target: FrameTarget, at: number, input: AppendRecord, place: FramePlacement): number {
    if (typeof input !== 'object' || input === null) {
      throw WalError.INVALID_ARGUMENT('a record must be an object')
    }
    const envelope = this.envelope
    envelope.typeBytes = this.types.get(input.type)
    envelope.time = input.time === undefined ? Date.now() : checkTime(input.time)
    envelope.keyBytes = keyBytes(input.key)
    envelope.headerBytes = headerBytes(input.headers, this.headerFields)
    envelope.encrypted = this.cipher !== undefined
    const dataAt = this.writeEnvelope(target, at, place)
    const end = this.cipher ? this.sealData(target, dataAt, input) : this.encodeData(target, dataAt, input)
    return this.finish(target, at, end, place, input.type)
  }

  /** The data of an encrypted log: the serializer's bytes, sealed under the record's data key. */
  private sealData(target: FrameTarget, start: number, input: AppendRecord): number {
    const cipher = this.cipher!
    const keyId = cipher.keyIdOf(input)
    let plain: Uint8Array
    try {
      plain = this.serializer.encode(input.data, input.type)
      if (!(plain instanceof Uint8Array)) throw new TypeError('encode returned no Uint8Array')
    } catch (err) {
      throw WalError.SERIALIZER_ERROR(`encoding a '${input.type}' record failed`, { cause: err })
    }
    const size = cipher.sealedSize(keyId, plain.byteLength)
    if (size > this.maxRecordSize) return start + size
    grow(target, start + size)
    return cipher.seal(target.buf, start, keyId, plain, this.envelope.typeBytes)
  }

  /**
   * Encodes a stored record (a replica's) as a whole frame: its data bytes as they are.
   *
   * @returns the offset just past the frame
   * @throws WalError `WAL_INVALID_ARGUMENT`, `WAL_RECORD_TOO_LARGE`
   */
  encodeRaw(
    target: FrameTarget,
    at: number,
    record: AppendRecord & { data: Uint8Array },
    place: FramePlacement,
  ): number {
    if (typeof record !== 'object' || record === null) {
      throw WalError.INVALID_ARGUMENT('a record must be an object')
    }
    if (!(record.data instanceof Uint8Array)) {
      throw WalError.INVALID_ARGUMENT('a raw record needs data as a Uint8Array')
    }
    const envelope = this.envelope
    envelope.typeBytes = this.types.get(record.type)
    envelope.time = checkTime(record.time)
    envelope.keyBytes = keyBytes(record.key)
    envelope.headerBytes = headerBytes(record.headers, this.headerFields)
    envelope.encrypted = record.encrypted === true
    const dataAt = this.writeEnvelope(target, at, place)
    const end = dataAt + record.data.byteLength
    if (end - at - FRAME_HEADER_SIZE <= this.maxRecordSize) {
      grow(target, end)
      target.buf.set(record.data, dataAt)
    }
    return this.finish(target, at, end, place, record.type)
  }

  private writeEnvelope(target: FrameTarget, at: number, place: FramePlacement): number {
    const start = at + framePrefixSize(place.batchRemaining, place.syncDistance)
    grow(target, start + envelopeSize(this.envelope))
    return writeEnvelope(target.buf, start, this.envelope)
  }

  /** Has the serializer write the data at `start` (in place when it can); returns its end. */
  private encodeData(target: FrameTarget, start: number, input: AppendRecord): number {
    const { serializer, maxRecordSize } = this
    try {
      if (serializer.encodeInto) {
        let end = serializer.encodeInto(input.data, input.type, target.buf, start)
        while (end < 0) {
          if (target.buf.length - start > maxRecordSize) return Number.POSITIVE_INFINITY
          grow(target, target.buf.length * 2)
          end = serializer.encodeInto(input.data, input.type, target.buf, start)
        }
        return end
      }
      const bytes = serializer.encode(input.data, input.type)
      if (!(bytes instanceof Uint8Array)) throw new TypeError('encode returned no Uint8Array')
      if (bytes.byteLength <= maxRecordSize) {
        grow(target, start + bytes.byteLength)
        target.buf.set(bytes, start)
      }
      return start + bytes.byteLength
    } catch (err) {
      if (err instanceof WalError) throw err
      throw WalError.SERIALIZER_ERROR(`encoding a '${input.type}' record failed`, { cause: err })
    }
  }

  private finish(target: FrameTarget, at: number, end: number, place: FramePlacement, type: string): number {
    const body = end - at - FRAME_HEADER_SIZE
    if (body > this.maxRecordSize) {
      throw WalError.RECORD_TOO_LARGE(
        `a '${type}' record encodes to ${Number.isFinite(body) ? `${body} bytes` : 'more bytes'}, over maxRecordSize ${this.maxRecordSize}`,
      )
    }
    return writeFrameHeader(target.buf, at, place.seq, place.batchRemaining, place.syncDistance, end)
  }
}

const EMPTY = Buffer.alloc(0)
