/**
 * The serializer the store opens its WAL with. The store encodes event data itself, before it checks
 * and reserves a revision (so a failing encode can never leave a hole in a stream), and hands the WAL
 * bytes; reading decodes with the user's serializer. Marker records (`$` types) carry empty bytes.
 * Segment headers record the user's serializer name, so opening a store with another one is refused.
 */
import type { RecordShape, Serializer } from '@waltz/core'

/**
 * Wraps `user` for the store's WAL: `encode` takes bytes the store already encoded; `decode` decodes
 * event data with `user` and leaves marker data as bytes.
 *
 * @param user - the store's serializer
 * @returns the WAL's serializer
 */
export function logSerializer(user: Serializer<string, unknown, RecordShape>): Serializer<string, unknown> {
  return {
    name: user.name,
    encode: (data) => data as Uint8Array,
    decode: (bytes, type) => (type.startsWith('$') ? bytes : user.decode(bytes, type)),
  }
}
