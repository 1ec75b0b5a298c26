/**
 * The verdict of castore's `force` on a stored version: the waltz log cannot replace an event, so a
 * forced push of an existing version succeeds only when it is the event already stored.
 */
import { isDeepStrictEqual } from 'node:util'
import type { EventDetail, OptionalTimestamp } from '@castore/core'
import { type Serializer, WalError } from '@waltz/core'
import type { StoredEvent } from '@waltz/eventstore'
import { METADATA_KEY, metadataJson, timestampOf } from './mapping.js'

/**
 * Whether a stored event is the one pushed: same type, same timestamp when one was pushed, same
 * `castore.metadata` entry (metadata is stored as its JSON, so the JSON is compared), same payload.
 *
 * Payloads are compared as the store holds them: with the store's `serializer`, both the pushed payload
 * and the stored one (decoded, so upcast by a versioned serializer) are encoded and the bytes compared,
 * so whatever the serializer drops or normalises (an `undefined` property under JSON, keys a schema
 * strips) does not count. Without it only decoded values can be compared: equal values are the same
 * event, but a retry whose payload the serializer changed is taken for a different one.
 *
 * @throws CastoreAdapterError `CASTORE_INVALID_ARGUMENT` (metadata without JSON form); WalError
 *   `WAL_SERIALIZER_ERROR` (the serializer cannot encode one of the payloads)
 */
export function sameEvent(
  stored: StoredEvent,
  pushed: OptionalTimestamp<EventDetail>,
  eventStoreId: string,
  serializer: Serializer | undefined,
): boolean {
  if (stored.type !== pushed.type) return false
  if (pushed.timestamp !== undefined && pushed.timestamp !== timestampOf(stored)) return false
  if (metadataJson(pushed, eventStoreId) !== stored.metadata[METADATA_KEY]) return false
  if (serializer === undefined) return isDeepStrictEqual(stored.data, pushed.payload)
  const a = encode(serializer, pushed.payload, pushed.type, 'pushed')
  const b = encode(serializer, stored.data, stored.type, 'stored')
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b)
}

function encode(serializer: Serializer, data: unknown, type: string, which: string): Uint8Array {
  try {
    return serializer.encode(data, type)
  } catch (err) {
    throw WalError.SERIALIZER_ERROR(`encoding the ${which} ${type} payload to compare it failed`, {
      cause: err,
    })
  }
}
