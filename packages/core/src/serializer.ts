/**
 * One record of the log. `seq` is assigned by the WAL: global, gap-free, monotonic, starting at 1.
 *
 * @typeParam Type - the record type names (a string literal union for typed logs)
 * @typeParam Data - the payload type
 */
export interface WalRecord<Type extends string = string, Data = unknown> {
  /** Sequence number assigned by the WAL. */
  seq: number
  /** The record type, e.g. `'OrderPlaced'`. */
  type: Type
  /** Milliseconds since the epoch; defaults to `Date.now()` at append time. */
  time: number
  /** The payload. */
  data: Data
}

/** A record as handed to a serializer: everything but the sequence number. */
export type EncodableRecord<Type extends string = string, Data = unknown> = Omit<WalRecord<Type, Data>, 'seq'>

/**
 * Turns records into bytes and back. The `name` is stored in every segment header; opening a WAL with a
 * serializer of another name fails with `WAL_SERIALIZER_MISMATCH`.
 *
 * `decode` receives a view into the WAL's read buffer. The WAL never reuses that memory, so the decoded
 * record may keep views into it.
 *
 * Throwing from `encode` rejects that one append (no sequence number is used); throwing from `decode`
 * surfaces as `WAL_SERIALIZER_ERROR` naming the record's seq.
 *
 * @typeParam Type - the record type names
 * @typeParam Data - the payload type
 * @typeParam Rec - the exact record shape; for typed logs a discriminated union such as
 *   `EncodableRecord<'A', DataA> | EncodableRecord<'B', DataB>`, so that `data` narrows with `type`
 */
export interface Serializer<
  Type extends string = string,
  Data = unknown,
  Rec extends EncodableRecord<Type, Data> = EncodableRecord<Type, Data>,
> {
  /** Identifies the encoding, 1 to 255 UTF-8 bytes, e.g. `'msgpackr/1'`. */
  readonly name: string
  /** Encodes a record (without seq) into a non-empty byte array. */
  encode(record: Rec): Uint8Array
  /** Decodes bytes produced by `encode`. */
  decode(bytes: Uint8Array): Rec
  /**
   * Optional fast path: writes exactly the bytes `encode` would return into `target` from `offset`
   * and returns the offset just past them, or -1 when they do not fit (the WAL then grows `target`
   * and calls again). Saves an allocation and a copy per record on the append path.
   */
  encodeInto?(record: Rec, target: Buffer, offset: number): number
}

/** Adds `seq` to each member of a record union, keeping the union discriminated by `type`. */
export type WalRecordOf<Rec extends EncodableRecord> =
  Rec extends EncodableRecord<infer T, infer D> ? WalRecord<T, D> : never

/** The records (with seq) that a serializer reads and writes. */
export type SerializerRecord<S> = S extends Serializer<string, unknown, infer R> ? WalRecordOf<R> : never

/**
 * What `append` accepts for a record union: `type` and `data`, and optionally `time` (defaults to
 * `Date.now()`). Distributes over the union so `data` is checked against its `type`.
 */
export type AppendInput<Rec extends EncodableRecord> =
  Rec extends EncodableRecord<infer T, infer D>
    ? {
        /** The record type. */
        type: T
        /** The payload, checked against `type`. */
        data: D
        /** Milliseconds since the epoch; default `Date.now()`. */
        time?: number
      }
    : never

const textDecoder = new TextDecoder('utf-8', { fatal: true })
const f64 = new Float64Array(1)
const f64Bytes = new Uint8Array(f64.buffer)

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1

/** Reads a little-endian float64 without allocating a DataView per call. */
function readFloat64LE(bytes: Uint8Array, offset: number): number {
  for (let i = 0; i < 8; i++) f64Bytes[littleEndian ? i : 7 - i] = bytes[offset + i]!
  return f64[0]!
}

/**
 * Decodes record type names, remembering the last few: a log has few distinct types, and comparing a
 * handful of bytes is cheaper than UTF-8 decoding on every record during replay.
 */
class TypeNameCache {
  private readonly bytes: Uint8Array[] = []
  private readonly names: string[] = []
  private next = 0

  decode(source: Uint8Array, start: number, end: number): string {
    const length = end - start
    for (let i = 0; i < this.bytes.length; i++) {
      const cached = this.bytes[i]!
      if (cached.length !== length) continue
      let same = true
      for (let k = 0; k < length; k++) {
        if (cached[k] !== source[start + k]) {
          same = false
          break
        }
      }
      if (same) return this.names[i]!
    }
    const name = textDecoder.decode(source.subarray(start, end))
    this.bytes[this.next] = source.slice(start, end)
    this.names[this.next] = name
    this.next = (this.next + 1) % 8
    return name
  }
}

const BYTES_HEADER = 9 // f64 time + u8 type length

/**
 * Encodes record type names to UTF-8 once: a log has few distinct types, and copying a few cached
 * bytes is cheaper than encoding the string on every append.
 */
class TypeNameBytes {
  private readonly cache = new Map<string, Buffer>()

  get(type: string): Buffer {
    let bytes = this.cache.get(type)
    if (bytes === undefined) {
      if (typeof type !== 'string') throw new TypeError('bytesSerializer: type must be a string')
      bytes = Buffer.from(type, 'utf8')
      if (bytes.length > 255) throw new RangeError('bytesSerializer: type longer than 255 bytes')
      if (this.cache.size >= 1024) this.cache.clear() // unbounded type names must not grow memory
      this.cache.set(type, bytes)
    }
    return bytes
  }
}

/** Writes a record at `offset` if it fits before `target.length`; returns the end, or -1. */
function bytesEncodeInto(
  record: EncodableRecord<string, Uint8Array>,
  typeBytes: Buffer,
  target: Buffer,
  offset: number,
): number {
  const data = record.data
  if (!(data instanceof Uint8Array)) throw new TypeError('bytesSerializer: data must be a Uint8Array')
  const typeStart = offset + BYTES_HEADER
  const dataStart = typeStart + typeBytes.length
  const end = dataStart + data.byteLength
  if (end > target.length) return -1
  target.writeDoubleLE(record.time, offset)
  target[offset + 8] = typeBytes.length
  for (let i = 0; i < typeBytes.length; i++) target[typeStart + i] = typeBytes[i]!
  target.set(data, dataStart)
  return end
}

/**
 * The dependency-free default serializer: `data` is a `Uint8Array`, `type` a string of at most 255
 * UTF-8 bytes. Layout: `time` as f64 LE, type length u8, type bytes, data bytes.
 *
 * @returns a serializer named `'waltz-bytes/1'`
 * @example
 * ```ts
 * const wal = await Wal.open({ dir, serializer: bytesSerializer() })
 * await wal.append({ type: 'blob', data: new Uint8Array([1, 2, 3]) })
 * ```
 */
export function bytesSerializer(): Serializer<string, Uint8Array> {
  const types = new TypeNameCache()
  const typeBytes = new TypeNameBytes()
  return {
    name: 'waltz-bytes/1',
    encode(record) {
      const type = typeBytes.get(record.type)
      const length = record.data instanceof Uint8Array ? record.data.byteLength : 0
      const out = Buffer.allocUnsafe(BYTES_HEADER + type.length + length)
      bytesEncodeInto(record, type, out, 0)
      return out
    },
    encodeInto(record, target, offset) {
      return bytesEncodeInto(record, typeBytes.get(record.type), target, offset)
    },
    decode(bytes) {
      if (bytes.byteLength < BYTES_HEADER)
        throw new RangeError('bytesSerializer: record shorter than its header')
      const typeEnd = BYTES_HEADER + bytes[8]!
      if (typeEnd > bytes.byteLength) throw new RangeError('bytesSerializer: type runs past the record')
      // A plain Uint8Array view (not a Buffer), whatever the input is: data is typed Uint8Array.
      return {
        type: types.decode(bytes, BYTES_HEADER, typeEnd),
        time: readFloat64LE(bytes, 0),
        data: new Uint8Array(bytes.buffer, bytes.byteOffset + typeEnd, bytes.byteLength - typeEnd),
      }
    },
  }
}
