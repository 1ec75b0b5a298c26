/**
 * The record and its codec contract. Core owns the record envelope (`seq`, `time`, `type`, `key`,
 * `headers`): they are stored in the frame, readable without any codec. A {@link Serializer} turns
 * only `data` into bytes and back.
 */
import { SerializerError } from './errors.js'

/** A record's headers: string names to string values (correlation id, causation id, user metadata). */
export type RecordHeaders = Readonly<Record<string, string>>

/**
 * One record of the log. `seq` is assigned by the WAL: global, gap-free, monotonic, starting at 1.
 * `key` and `headers` are present only when they were appended (absent stays absent).
 *
 * @typeParam Type - the record type names (a string literal union for typed logs)
 * @typeParam Data - the payload type
 */
export interface WalRecord<Type extends string = string, Data = unknown> {
  /** Sequence number assigned by the WAL. */
  seq: number
  /** Milliseconds since the epoch; defaults to `Date.now()` at append time. */
  time: number
  /** The record type, e.g. `'OrderPlaced'`. */
  type: Type
  /** The stream or entity the record belongs to (as a Kafka record key), when it has one. */
  key?: string
  /** Correlation id, causation id, user metadata, when the record has any. */
  headers?: RecordHeaders
  /** The payload. */
  data: Data
  /**
   * Set on a record of an encrypted log whose data key was shredded (`wal.shred`): its `data` is then
   * `undefined`, whatever `Data` says, and nothing of the payload can be read back.
   */
  shredded?: true
  /**
   * Set by raw reads (`recordsRaw`, `tailRaw`, `recordsAtRaw`) on a record of an encrypted log: `data`
   * is the sealed field as stored, not the serializer's bytes. `appendRaw` stores it sealed again.
   */
  encrypted?: true
}

/**
 * A record type and its payload type: the unit a serializer's record union is made of, e.g.
 * `RecordShape<'Deposited', { amount: number }> | RecordShape<'Withdrawn', { amount: number }>`.
 */
export interface RecordShape<Type extends string = string, Data = unknown> {
  /** The record type. */
  type: Type
  /** The payload. */
  data: Data
}

/** A record as appended: everything but the sequence number (`time` included). */
export type EncodableRecord<Type extends string = string, Data = unknown> = Omit<WalRecord<Type, Data>, 'seq'>

/**
 * Turns a record's `data` into bytes and back; the envelope (type, time, key, headers) is core's. The
 * `name` is stored in every segment header; opening a WAL with a serializer of another name fails with
 * `WAL_SERIALIZER_MISMATCH`.
 *
 * `decode` receives a view into the WAL's read buffer. The WAL never reuses that memory, so decoded
 * data may keep views into it. Empty data (zero bytes) is allowed.
 *
 * Throwing from `encode` rejects that one append (no sequence number is used); throwing from `decode`
 * surfaces as `WAL_SERIALIZER_ERROR` naming the record's seq. Serializers throw {@link SerializerError}.
 *
 * @typeParam Type - the record type names
 * @typeParam Data - the payload type
 * @typeParam Rec - the record union; for typed logs a discriminated union such as
 *   `RecordShape<'A', DataA> | RecordShape<'B', DataB>`, so that `data` narrows with `type`
 */
export interface Serializer<
  Type extends string = string,
  Data = unknown,
  Rec extends RecordShape<Type, Data> = RecordShape<Type, Data>,
> {
  /** Identifies the encoding, 1 to 255 UTF-8 bytes, e.g. `'waltz-msgpackr/2'`. */
  readonly name: string
  /**
   * Encodes a record's data.
   *
   * @param data - the payload
   * @param type - the record's type (a serializer may pick a schema by it)
   */
  encode(data: Rec['data'], type: Rec['type']): Uint8Array
  /**
   * Decodes bytes produced by `encode` for the same type.
   *
   * @param bytes - the stored data
   * @param type - the record's type, from the envelope
   */
  decode(bytes: Uint8Array, type: Rec['type']): Rec['data']
  /**
   * Optional fast path: writes exactly the bytes `encode` would return into `target` from `offset`
   * and returns the offset just past them, or -1 when they do not fit (the WAL then grows `target`
   * and calls again). Saves an allocation and a copy per record on the append path.
   */
  encodeInto?(data: Rec['data'], type: Rec['type'], target: Buffer, offset: number): number
}

/** Adds the envelope (`seq`, `time`, `key`, `headers`) to each member of a record union, keeping it discriminated by `type`. */
export type WalRecordOf<Rec extends RecordShape> =
  Rec extends RecordShape<infer T, infer D> ? WalRecord<T, D> : never

/** The records (with seq) that a serializer reads and writes. */
export type SerializerRecord<S> = S extends Serializer<string, unknown, infer R> ? WalRecordOf<R> : never

/**
 * What `append` accepts for a record union: `type` and `data`, and optionally `time` (default
 * `Date.now()`), `key` and `headers`. Distributes over the union so `data` is checked against its `type`.
 */
export type AppendInput<Rec extends RecordShape> =
  Rec extends RecordShape<infer T, infer D>
    ? {
        /** The record type (at most 255 UTF-8 bytes). */
        type: T
        /** The payload, checked against `type`. */
        data: D
        /** Milliseconds since the epoch, a non-negative integer below 2^48; default `Date.now()`. */
        time?: number
        /** The stream or entity the record belongs to (at most 65,535 UTF-8 bytes). */
        key?: string
        /** String headers (names and values are strings). */
        headers?: RecordHeaders
      }
    : never

/**
 * A record exactly as stored, data undecoded: what {@link Serializer}-less readers return and what a
 * replica's `appendRaw` takes.
 */
export type RawRecord = WalRecord<string, Uint8Array>

/**
 * Where records' frames lie, one entry per record in parallel arrays: the byte offset of each frame in
 * the segment file that holds its seq, and the frame's length in bytes. `Wal.appendBatch` reports them,
 * `WalReader.recordsLocated` yields them, and point reads (`recordsAt`) take them as hints: a record
 * with a location is read with one small read at that place, no walk from a seek point. A location is
 * checked before use: the frame found there must have the wanted seq, exactly that length and a valid
 * checksum, else the record is read through the seek index as if no location had been given, so a
 * stale location costs a read. Pass only locations this log reported: the checks cannot tell a frame
 * boundary from bytes inside another record's data that form a complete frame with the wanted seq.
 */
export interface FrameLocations {
  /** Byte offset of each record's frame in its segment file (a negative one: no location). */
  offsets: number[]
  /** Length of each record's frame in bytes. */
  lengths: number[]
}

/** A stored record with the place of its frame (see {@link FrameLocations}). */
export interface LocatedRecord extends RawRecord {
  /** Byte offset of the record's frame in the segment file that holds its seq. */
  frameOffset: number
  /** Length of the frame in bytes. */
  frameLength: number
}

/** The name of {@link bytesSerializer}. */
export const BYTES_SERIALIZER_NAME = 'waltz-bytes/1'

/**
 * The dependency-free default serializer: `data` is a `Uint8Array`, stored as it is.
 *
 * @returns a serializer named `'waltz-bytes/1'`
 * @example
 * ```ts
 * const wal = await Wal.open({ dir, serializer: bytesSerializer() })
 * await wal.append({ type: 'blob', data: new Uint8Array([1, 2, 3]) })
 * ```
 */
export function bytesSerializer(): Serializer<string, Uint8Array> {
  return {
    name: BYTES_SERIALIZER_NAME,
    encode(data, type) {
      if (!(data instanceof Uint8Array)) {
        throw SerializerError.ENCODE_FAILED('data must be a Uint8Array', {
          serializer: BYTES_SERIALIZER_NAME,
          type,
        })
      }
      return data
    },
    encodeInto(data, type, target, offset) {
      if (!(data instanceof Uint8Array)) {
        throw SerializerError.ENCODE_FAILED('data must be a Uint8Array', {
          serializer: BYTES_SERIALIZER_NAME,
          type,
        })
      }
      const end = offset + data.byteLength
      if (end > target.length) return -1
      target.set(data, offset)
      return end
    },
    // A plain Uint8Array view (not a Buffer), whatever the input is: data is typed Uint8Array.
    decode: (bytes) => new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
  }
}
