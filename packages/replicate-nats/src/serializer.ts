import type { Serializer } from '@waltz/core'

/**
 * A pass-through serializer carrying another serializer's name: `data` is the source serializer's
 * bytes, stored and read back as they are. The replica WAL a restore writes is opened with it, so the
 * replica is stored under the source serializer's name and applications read it with their real
 * serializer (or with `Wal.openReader` and no serializer, as stored bytes).
 *
 * @param name - the source serializer's name (`wal.serializerName`, or the `Waltz-Serializer` header)
 * @returns the serializer
 * @example
 * ```ts
 * const replica = await Wal.open({ dir, serializer: replicaSerializer('msgpackr/1'), firstSeq: 1001 })
 * await replica.appendRaw([{ seq: 1001, time, type: 'placed', key: 'order-7', data: storedBytes }])
 * ```
 */
export function replicaSerializer(name: string): Serializer<string, Uint8Array> {
  return { name, encode: (data) => data, decode: (bytes) => bytes }
}
