/**
 * Records as the page shows them: the envelope, and the data decoded to JSON when a decoder is
 * given and succeeds, otherwise hex (the first {@link HEX_BYTES} bytes) with the stored size. Bounded:
 * a huge event never makes a huge response.
 *
 * @internal
 */
import type { StoreRecord } from '@waltz/eventstore'

/** Decodes a record's data, as the store's serializer would (throws when it cannot). */
export type DataDecoder = (bytes: Uint8Array, type: string) => unknown

/** Bytes of data shown as hex at most. */
export const HEX_BYTES = 4096
/** Characters of JSON data shown at most; longer data is shown as hex. */
const JSON_CHARS = 256 * 1024

/** A record as the API sends it. */
export interface RecordView {
  kind: StoreRecord['kind']
  stream: string
  revision: number
  position: number
  id: string
  type: string
  time: number
  metadata: Readonly<Record<string, string>>
  /** Stored size of the data in bytes. */
  size: number
  /** The decoded data, as JSON text (pretty-printed). */
  json?: string
  /** The data as hex (at most {@link HEX_BYTES} bytes of it). */
  hex?: string
  /** Why the data is shown as hex although a decoder was given. */
  decodeError?: string
}

/**
 * Decoded values JSON cannot carry, in the same tagged form as `waltz dump` (`$bigint`, `$bytes`,
 * `$date`, `$map`, `$set`).
 */
function replacer(this: unknown, _key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return { $bigint: value.toString() }
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value).toString('base64') }
  if (value instanceof Map) return { $map: [...value] }
  if (value instanceof Set) return { $set: [...value] }
  return value
}

function hexOf(data: Uint8Array): string {
  return Buffer.from(data.buffer, data.byteOffset, Math.min(data.byteLength, HEX_BYTES)).toString('hex')
}

/**
 * Turns a record into what the page shows.
 *
 * @param r - the record, data as stored
 * @param decode - the serializer's decoding, or undefined for hex
 */
export function viewOf(r: StoreRecord, decode: DataDecoder | undefined): RecordView {
  const base = {
    kind: r.kind,
    stream: r.stream,
    revision: r.revision,
    position: r.position,
    id: r.id,
    type: r.type,
    time: r.time,
    metadata: r.metadata,
    size: r.data.byteLength,
  }
  // Sealed data means nothing as hex; shredded data is gone.
  if (r.shredded) return { ...base, hex: '', decodeError: 'shredded: its data key was destroyed' }
  if (r.encrypted) return { ...base, hex: '', decodeError: 'encrypted: start the inspector with the keyring' }
  // Markers carry no data; records not written by a store are shown as stored.
  if (decode === undefined || r.kind !== 'event') return { ...base, hex: hexOf(r.data) }
  try {
    const json = JSON.stringify(decode(r.data, r.type), replacer, 2) ?? 'undefined'
    if (json.length > JSON_CHARS) {
      return { ...base, hex: hexOf(r.data), decodeError: `decoded data over ${JSON_CHARS} characters` }
    }
    return { ...base, json }
  } catch (err) {
    return { ...base, hex: hexOf(r.data), decodeError: (err as Error).message }
  }
}
