import { type Serializer, SerializerError } from '@waltz/core'
import type { IConversionOptions } from 'protobufjs'
import { findLoneSurrogate, findUnsafeLong } from './checks.js'
import type { ProtoDataOf, ProtoMessageType, ProtoRecordOf, ProtoTypes } from './types.js'

/**
 * The serializer name stored in segment headers. Version 2: the data alone, encoded with its type's
 * message type (version 1 wrapped it in a `waltz.Record` envelope with the type and time, now core's).
 */
export const PROTO_SERIALIZER_NAME = 'waltz-protobuf/2'

/** This serializer's name, as its errors' `serializer` field. */
const serializer = PROTO_SERIALIZER_NAME

/** Options of {@link protoSerializer}. */
export interface ProtoSerializerOptions<Types extends ProtoTypes> {
  /**
   * One message type per record type, keyed by the record type name, e.g.
   * `{ OrderPlaced: root.lookupType('waltz.example.OrderPlaced') }` or the generated class
   * `{ OrderPlaced: waltz.example.OrderPlaced }`.
   */
  types: Types
}

/**
 * How decoded payloads become plain objects: int64 as `number` (checked to be a safe integer first),
 * enums as their numbers, bytes as `Uint8Array` views, and every field present (proto3 defaults filled in).
 */
const TO_OBJECT: IConversionOptions = { longs: Number, defaults: true, arrays: true, objects: true }

/**
 * Creates a Protocol Buffers serializer (protobufjs) for a record's data: the data is encoded with the
 * message type registered for the record's type, nothing else. The record's type, time, key and headers
 * are core's; core hands the type to `decode`, which picks the message type by it.
 *
 * On encode the payload is checked with the message type's `verify` and for lone surrogates, so data
 * protobufjs would silently drop or write unreadably is rejected. On decode, payloads are returned as
 * plain objects with all fields present; int64 fields become `number`, and a value beyond
 * `Number.MAX_SAFE_INTEGER` fails rather than losing precision. As in any protobuf message, a message
 * with every field at its default encodes to zero bytes.
 *
 * @typeParam Types - the message type map; record types and payload types are inferred from it
 * @param options - see {@link ProtoSerializerOptions}
 * @returns a serializer named `'waltz-protobuf/2'`
 * @throws SerializerError `SERIALIZER_ENCODE_FAILED` if `types` is empty
 * @example
 * ```ts
 * const root = protobuf.loadSync('order_events.proto')
 * const serializer = protoSerializer({
 *   types: {
 *     OrderPlaced: protoType<OrderPlaced>(root.lookupType('waltz.example.OrderPlaced')),
 *     OrderCancelled: protoType<OrderCancelled>(root.lookupType('waltz.example.OrderCancelled')),
 *   },
 * })
 * const wal = await Wal.open({ dir, serializer })
 * await wal.append({ type: 'OrderCancelled', key: 'o-1', data: { orderId: 'o-1', reason: 'user' } })
 * ```
 */
export function protoSerializer<const Types extends ProtoTypes>(
  options: ProtoSerializerOptions<Types>,
): Serializer<keyof Types & string, ProtoDataOf<Types[keyof Types & string]>, ProtoRecordOf<Types>> {
  type Rec = ProtoRecordOf<Types>
  // A Map, so a type name such as 'constructor' or '__proto__' can never hit Object.prototype.
  const codecs = new Map<string, ProtoMessageType<unknown>>(Object.entries(options.types))
  if (codecs.size === 0) {
    throw SerializerError.ENCODE_FAILED('types must not be empty', { serializer })
  }
  const codecOf = (type: string): ProtoMessageType<unknown> => {
    const codec = codecs.get(type)
    if (codec === undefined) {
      throw SerializerError.UNKNOWN_TYPE(`no message type for record type ${String(type)}`, {
        serializer,
        type,
      })
    }
    return codec
  }

  return {
    name: PROTO_SERIALIZER_NAME,

    encode(data: Rec['data'], type: Rec['type']): Uint8Array {
      const codec = codecOf(type)
      if (typeof data !== 'object' || data === null) {
        throw SerializerError.VALIDATION_FAILED(`${type} data must be an object`, {
          serializer,
          type,
        })
      }
      let problem: string | null | undefined
      try {
        problem = codec.verify(data as Record<string, unknown>)
      } catch (err) {
        problem = describe(err)
      }
      if (problem !== null) {
        throw SerializerError.VALIDATION_FAILED(`invalid ${type} data: ${problem}`, {
          serializer,
          type,
        })
      }
      const surrogate = findLoneSurrogate(data, 'data')
      if (surrogate !== undefined) {
        throw SerializerError.VALIDATION_FAILED(
          `invalid ${type} data: ${surrogate} holds a lone surrogate, which is not valid UTF-8`,
          { serializer, type },
        )
      }
      try {
        return codec.encode(data).finish()
      } catch (err) {
        throw SerializerError.ENCODE_FAILED(`cannot encode ${type} data: ${describe(err)}`, {
          serializer,
          type,
          cause: err,
        })
      }
    },

    decode(bytes: Uint8Array, type: Rec['type']): Rec['data'] {
      const codec = codecOf(type)
      let message: object
      try {
        message = codec.decode(bytes)
      } catch (err) {
        throw SerializerError.DECODE_FAILED(`cannot decode ${type} data: ${describe(err)}`, {
          serializer,
          type,
          cause: err,
        })
      }
      const unsafe = findUnsafeLong(message, 'data')
      if (unsafe !== undefined) {
        throw SerializerError.DECODE_FAILED(`${type} data: int64 ${unsafe} exceeds Number.MAX_SAFE_INTEGER`, {
          serializer,
          type,
        })
      }
      try {
        return codec.toObject(message as never, TO_OBJECT) as Rec['data']
      } catch (err) {
        throw SerializerError.DECODE_FAILED(`cannot convert ${type} data: ${describe(err)}`, {
          serializer,
          type,
          cause: err,
        })
      }
    },
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
