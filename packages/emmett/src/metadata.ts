/**
 * emmett event metadata (any JSON-able values) in waltz event metadata (a string map): string values
 * stay plain headers, so waltz consumers of the same store read them as they are; the rest travels as
 * one JSON object in the {@link JSON_METADATA} header. A caller's `messageId` is metadata like any
 * other (emmett's stores do not dedupe on it, so neither may this one: it is never the waltz event id,
 * which the store would take as a retry key). The positions emmett adds on reads are not stored: they
 * come from the event's place in the log.
 */
import { EventStoreError } from '@waltz/eventstore'

/** The header holding the metadata entries that are not plain strings, as a JSON object. */
export const JSON_METADATA = 'emt:json'

/** Metadata keys emmett computes from the log on every read; an append's values for them are not stored. */
const COMPUTED = new Set(['streamName', 'streamPosition', 'globalPosition'])

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** Whether `key` and `value` can be a plain waltz header (waltz reserves `$` keys; UTF-8 only). */
function plain(key: string, value: unknown): value is string {
  return (
    typeof value === 'string' &&
    !key.startsWith('$') &&
    key !== JSON_METADATA &&
    !LONE_SURROGATE.test(key) &&
    !LONE_SURROGATE.test(value)
  )
}

/** An event as an append gets it: metadata is optional and untyped. */
export interface AppendedEvent {
  type: string
  data: unknown
  metadata?: unknown
}

/**
 * The waltz metadata of an emmett event (undefined when it has none to store).
 *
 * @throws EventStoreError `EVENTSTORE_INVALID_ARGUMENT` when metadata is not an object or holds a value
 *   JSON cannot encode (a bigint, a cycle)
 */
export function encodeMetadata(event: AppendedEvent, stream: string): Record<string, string> | undefined {
  const source = event.metadata
  if (source === undefined || source === null) return undefined
  if (typeof source !== 'object' || Array.isArray(source)) {
    throw EventStoreError.INVALID_ARGUMENT(`event metadata must be an object, got ${String(source)}`, {
      stream,
    })
  }
  let metadata: Record<string, string> | undefined
  let rest: Record<string, unknown> | undefined
  for (const [key, value] of Object.entries(source)) {
    if (COMPUTED.has(key) || value === undefined) continue
    if (plain(key, value)) {
      metadata ??= {}
      metadata[key] = value
    } else {
      rest ??= {}
      rest[key] = value
    }
  }
  if (rest !== undefined) {
    metadata ??= {}
    try {
      metadata[JSON_METADATA] = JSON.stringify(rest)
    } catch (err) {
      throw EventStoreError.INVALID_ARGUMENT('event metadata must be JSON-serializable', {
        stream,
        cause: err,
      })
    }
  }
  return metadata
}

/**
 * The user metadata of a stored event: its plain headers and the entries of its JSON header. A
 * {@link JSON_METADATA} header that is not a JSON object (written by something else) stays a string.
 */
export function decodeMetadata(stored: Readonly<Record<string, string>>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const key in stored) {
    const value = stored[key]!
    if (key === JSON_METADATA) {
      const parsed = parseObject(value)
      if (parsed !== undefined) {
        Object.assign(out, parsed)
        continue
      }
    }
    out[key] = value
  }
  return out
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text)
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined
  } catch {
    return undefined
  }
}
