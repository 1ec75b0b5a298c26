import { isSerializerError, type Serializer, SerializerError } from '@waltz/core'
import { C1, Packr } from 'msgpackr'
import { BINARY_SERIALIZER_NAME, BINARY_SHARED_SERIALIZER_NAME, baseOptions } from './options.js'
import { readStructures, type Structure, writeStructures } from './structures-file.js'
import type { EventMap, RecordOf } from './types.js'

/** Options of {@link binarySerializer}. */
export interface BinarySerializerOptions {
  /**
   * Share record structures across records through this file, instead of describing them in every
   * record. Smaller records and faster decoding, but the log is only readable together with this file:
   * keep it next to the WAL directory and copy or back it up with it. New structures are written to it
   * atomically and fsync'd before `encode` returns the first record that uses them. Default: unset
   * (every record is self-describing).
   */
  structuresPath?: string
  /**
   * How many distinct object shapes are stored in the structures file (1 to 8160, default 32). Shapes
   * beyond it are described inline in each record, as in the default mode. Only with `structuresPath`.
   */
  maxSharedStructures?: number
}

/**
 * Creates a MessagePack serializer (msgpackr) for a record's data: plain objects, arrays, strings,
 * numbers, bigints, `Date`, `Map`, `Set`, `Uint8Array` and other typed arrays. The data is encoded as
 * one MessagePack value; the record's type, time, key and headers are core's and not part of it. Objects
 * use msgpackr's record extension, so repeated shapes are written as a key list once and then as bare
 * values.
 *
 * By default the data of every record is self-describing: its structures are defined inside it, so any
 * record decodes on its own, in any process, after any crash, from any point of the log. With
 * `structuresPath` the structures are shared through a durable file instead (see
 * {@link BinarySerializerOptions.structuresPath}).
 *
 * `Events` only types the records; nothing is checked at run time. Strings with lone surrogates are
 * written with U+FFFD in their place, as `TextEncoder` does.
 *
 * @typeParam Events - maps each record type to its payload type; defaults to any type with any data
 * @param options - see {@link BinarySerializerOptions}
 * @returns a serializer named `'waltz-msgpackr/2'`, or `'waltz-msgpackr-shared/2'` with `structuresPath`
 * @throws SerializerError `SERIALIZER_ENCODE_FAILED` if `maxSharedStructures` is out of range
 * @example
 * ```ts
 * type Events = {
 *   OrderPlaced: { orderId: string; price: bigint; at: Date }
 *   OrderCancelled: { orderId: string }
 * }
 * const wal = await Wal.open({ dir, serializer: binarySerializer<Events>() })
 * await wal.append({ type: 'OrderPlaced', key: 'o-1', data: { orderId: 'o-1', price: 1999n, at: new Date() } })
 * ```
 */
export function binarySerializer<Events extends EventMap = Record<string, unknown>>(
  options: BinarySerializerOptions = {},
): Serializer<keyof Events & string, Events[keyof Events & string], RecordOf<Events>> {
  const { structuresPath, maxSharedStructures = 32 } = options
  const serializer = structuresPath === undefined ? BINARY_SERIALIZER_NAME : BINARY_SHARED_SERIALIZER_NAME
  if (!Number.isInteger(maxSharedStructures) || maxSharedStructures < 1 || maxSharedStructures > 8160) {
    throw SerializerError.ENCODE_FAILED(
      `maxSharedStructures must be an integer from 1 to 8160, got ${maxSharedStructures}`,
      { serializer },
    )
  }
  const packr =
    structuresPath === undefined
      ? new Packr(baseOptions())
      : new Packr({
          ...baseOptions(),
          maxSharedStructures,
          getStructures: () => readStructures(structuresPath),
          saveStructures: (structures: object[], isCompatible?: (existing: object[]) => boolean) => {
            // Another writer changed the file since we read it: let msgpackr merge and re-encode.
            if (isCompatible !== undefined && !isCompatible(readStructures(structuresPath))) return false
            writeStructures(structuresPath, structures as Structure[])
            return true
          },
        })
  type Rec = RecordOf<Events>

  return {
    name: serializer,

    encode(data: Rec['data'], type: Rec['type']): Uint8Array {
      try {
        return packr.pack(data)
      } catch (err) {
        if (isSerializerError(err)) throw err
        throw SerializerError.ENCODE_FAILED(`cannot encode ${String(type)} data: ${describe(err)}`, {
          serializer,
          type,
          cause: err,
        })
      }
    },

    decode(bytes: Uint8Array, type: Rec['type']): Rec['data'] {
      // Every MessagePack value takes at least one byte: name the actual problem.
      if (bytes.byteLength === 0) {
        throw SerializerError.DECODE_FAILED(`empty ${type} data`, { serializer, type })
      }
      let value: unknown
      try {
        value = packr.unpack(bytes)
      } catch (err) {
        if (isSerializerError(err)) throw err
        throw SerializerError.DECODE_FAILED(`${type} data is not msgpackr data: ${describe(err)}`, {
          serializer,
          type,
          cause: err,
        })
      }
      // msgpackr reads the never-used byte 0xc1 as a marker object instead of failing.
      if (value === C1) {
        throw SerializerError.DECODE_FAILED(`${type} data is the never-used byte 0xc1`, { serializer, type })
      }
      return value as Rec['data']
    },
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
