import type { EncodableRecord, Serializer } from '@waltz/core'

/**
 * A pass-through serializer carrying another serializer's name: `encode` stores `data` (the source's
 * encoded bytes) verbatim, `decode` hands the stored bytes back as `data`. A replica WAL opened with it
 * holds byte-identical records under the source serializer's name, so applications open the replica
 * with their real serializer.
 *
 * @param name - the source serializer's name (`wal.serializerName`, or the `Waltz-Serializer` header)
 * @returns the serializer
 * @example
 * ```ts
 * const replica = await Wal.open({ dir, serializer: replicaSerializer('msgpackr/1'), firstSeq: 1001 })
 * await replica.append({ type: '', time: 0, data: payload })
 * ```
 */
export function replicaSerializer(name: string): Serializer<string, Uint8Array> {
  return {
    name,
    encode: (record: EncodableRecord<string, Uint8Array>) => record.data,
    decode: (bytes: Uint8Array) => ({ type: '', time: 0, data: bytes }),
  }
}
