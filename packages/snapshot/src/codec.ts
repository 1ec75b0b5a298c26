import { Packr } from 'msgpackr'
import { SnapshotError } from './errors.js'
import { unfaithfulValue } from './faithful.js'

/**
 * Turns an aggregate's state into bytes and back. The `name` is stored in every snapshot file; loading
 * a snapshot written under another name fails with `SNAPSHOT_SERIALIZER_MISMATCH`.
 *
 * `encode` must be deterministic (the same state gives the same bytes) and must not keep a reference to
 * the state: the encoded bytes are the copy a snapshot is taken from, so the application may go on
 * mutating its state as soon as `encode` returns.
 *
 * @typeParam S - the state type
 */
export interface StateCodec<S> {
  /** Identifies the encoding, 1 to 255 UTF-8 bytes, e.g. `'msgpackr/1'`. */
  readonly name: string
  /** Encodes the state. */
  encode(state: S): Uint8Array
  /** Decodes bytes produced by `encode`. */
  decode(bytes: Uint8Array): S
}

/**
 * The serializer shape {@link fromSerializer} needs: any `@waltz/core` `Serializer` whose record union
 * includes `{ type: T, data: S }` fits. Serializers encode only a record's data; the type selects the
 * schema or message where the serializer has one.
 *
 * @typeParam S - the state type
 * @typeParam T - the record type the state is stored under
 */
export interface RecordSerializerLike<S, T extends string = 'snapshot'> {
  /** The serializer's name, part of the codec's name. */
  readonly name: string
  /** Encodes the data of a record of type `type`. */
  encode(data: S, type: T): Uint8Array
  /** Decodes the data of a record of type `type` (for the state's type: an `S`). */
  decode(bytes: Uint8Array, type: T): unknown
}

/**
 * The default state codec: msgpackr with `moreTypes`, so plain objects, arrays, `Map`s (any keys),
 * `Set`s, typed arrays, `Date`s, `Error`s and bigints round-trip with their types. Objects use
 * msgpackr's record extension with structures embedded in each snapshot (no shared structure table),
 * so a snapshot decodes on its own. Deterministic: the same state (same key and insertion order) gives
 * the same bytes. A state that would not load back as it was saved (a function, a class instance, a
 * boxed primitive, a `WeakMap`, an `Error` subclass, a cycle) is refused with
 * `SNAPSHOT_SERIALIZER_ERROR` naming the value's path, instead of being saved as something else.
 *
 * @typeParam S - the state type (the codec does not check it)
 * @returns a codec named `'msgpackr/1'`
 * @example
 * ```ts
 * const store = await SnapshotStore.open<Map<string, number>>({ dir, codec: msgpackrCodec() })
 * ```
 */
export function msgpackrCodec<S = unknown>(): StateCodec<S> {
  const packr = new Packr({ moreTypes: true, useRecords: true, mapsAsObjects: false })
  return {
    name: 'msgpackr/1',
    encode: (state) => {
      const problem = unfaithfulValue(state)
      if (problem !== undefined) {
        throw SnapshotError.SERIALIZER_ERROR(`msgpackr cannot save this state faithfully: ${problem}`)
      }
      return packr.pack(state)
    },
    decode: (bytes) => packr.unpack(bytes) as S,
  }
}

/**
 * Adapts a WAL serializer (`@waltz/serializer-binary`, `-json`, `-proto`, or your own) into a
 * {@link StateCodec}: the state is encoded as the data of a record of type `type`. The serializer must
 * accept that type (register a schema or message for it where the serializer needs one).
 *
 * The codec is named `<serializer name>:<type>`, e.g. `'waltz-json/2:snapshot'`: the bytes hold no type,
 * so a snapshot is only ever decoded as the type it was encoded as, and a store of another serializer
 * or type fails with `SNAPSHOT_SERIALIZER_MISMATCH` instead of misreading it.
 *
 * @typeParam S - the state type
 * @typeParam T - the record type the state is stored under
 * @param serializer - the WAL serializer
 * @param type - the record type the state is stored under (default `'snapshot'`)
 * @returns the codec
 * @example
 * ```ts
 * const store = await SnapshotStore.open({ dir, codec: fromSerializer(jsonSerializer({ schemas })) })
 * ```
 */
export function fromSerializer<S, T extends string = 'snapshot'>(
  serializer: RecordSerializerLike<S, T>,
  type: T = 'snapshot' as T,
): StateCodec<S> {
  return {
    name: `${serializer.name}:${type}`,
    encode(state) {
      const bytes = serializer.encode(state, type)
      // A serializer may return the data itself (core's bytesSerializer does); a codec must not keep a
      // reference to the state.
      return bytes === (state as unknown) ? bytes.slice() : bytes
    },
    decode: (bytes) => serializer.decode(bytes, type) as S,
  }
}
