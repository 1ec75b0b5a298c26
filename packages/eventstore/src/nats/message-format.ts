/**
 * The layout of one JetStream message of a connected store (see docs/FORMAT.md, "The event store on
 * NATS JetStream"). One `appendToStream` call is one message on its stream's subject: the body holds
 * all of its events, the headers the stream's state after it. Deletes and tombstones are marker
 * messages with an empty body.
 *
 * Body, format 1: for each event, in order,
 * `type`, `id` (strings), a varint count of metadata entries and each `key`, `value` (strings), then
 * `data` (bytes: the store serializer's encoding). A string is a varint byte length and its UTF-8
 * bytes; bytes are a varint length and the bytes. Varints are unsigned LEB128.
 */
import { EventStoreError } from '../errors.js'
import type { EventMetadata } from '../events.js'

/** Header names of a message. */
export const HEADER = Object.freeze({
  /** The layout's version, {@link MESSAGE_FORMAT}. */
  format: 'Waltz-Format',
  /** `events`, `deleted` or `tombstoned`. */
  kind: 'Waltz-Kind',
  /** The stream's revision after the message (a marker: the revision it was deleted at). */
  revision: 'Waltz-Revision',
  /** The revision up to which the stream's events are deleted, after the message (0: none). */
  deleted: 'Waltz-Deleted',
  /** How many events the body holds (0 for a marker). */
  count: 'Waltz-Count',
  /** `1` when the message's events created (or re-created) the stream. */
  created: 'Waltz-Created',
  /** When the events were appended, ms since the epoch. */
  time: 'Waltz-Time',
  /**
   * The stream sequence of the subject's last message when this one was published (0: none): the
   * expected last subject sequence it was published with. The message counts only if no other message
   * of its subject lies between that one and itself (see {@link isCountedAfter}).
   */
  last: 'Waltz-Last',
} as const)

/** The message layout's version, in `Waltz-Format`. */
export const MESSAGE_FORMAT = '1'

/** What a message means. */
export type MessageKind = 'events' | 'deleted' | 'tombstoned'

/** A stream's state: after its last counted message, or nothing (all zero) before its first one. */
export interface StreamHead {
  /** Events ever appended. */
  revision: number
  /** Events up to this revision are deleted. */
  deletedRevision: number
  /** Whether the stream is tombstoned. */
  tombstoned: boolean
  /**
   * The stream sequence of the subject's last message, counted or not (0: none): what the next
   * message is published expecting.
   */
  lastSeq: number
}

/** The headers of a message, read. */
export interface MessageMeaning {
  kind: MessageKind
  revision: number
  deletedRevision: number
  count: number
  created: boolean
  time: number
  /** The subject's last sequence the message was published expecting ({@link HEADER}.last). */
  last: number
}

/**
 * Whether a message counts: the server accepted it expecting `m.last` as its subject's last message,
 * and `previous` (the sequence of the message before it on the subject, 0: none) is that one. On
 * nats-server 2.9 a clustered stream checks the expectation only against messages already applied,
 * so two publishes in flight together with the same expectation can both be stored: the first
 * counts, the second follows a message it did not expect and does not count (every reader skips it,
 * and its writer is told it lost). A stream's messages and their order are the same on every node,
 * so every client draws the same line.
 */
export function isCountedAfter(m: Pick<MessageMeaning, 'last'>, previous: number): boolean {
  return m.last === previous
}

/** Header access, as both `JsMsg.headers` and `StoredMsg.header` offer it. */
export interface HeaderReader {
  get(name: string): string
}

/** One event of a message body. */
export interface BodyEvent {
  type: string
  id: string
  metadata: EventMetadata
  data: Uint8Array
}

/**
 * The header values of a message (the caller sets them on the client's headers object).
 *
 * @returns name/value pairs
 */
export function messageHeaders(m: MessageMeaning): [string, string][] {
  const out: [string, string][] = [
    [HEADER.format, MESSAGE_FORMAT],
    [HEADER.kind, m.kind],
    [HEADER.revision, String(m.revision)],
    [HEADER.deleted, String(m.deletedRevision)],
    [HEADER.count, String(m.count)],
    [HEADER.time, String(m.time)],
    [HEADER.last, String(m.last)],
  ]
  if (m.created) out.push([HEADER.created, '1'])
  return out
}

/**
 * Reads a message's headers.
 *
 * @param h - the headers (undefined: the message has none)
 * @param seq - its stream sequence, for the error
 * @throws EventStoreError `EVENTSTORE_CORRUPT` when the message was not written by a connected store
 */
export function readMeaning(h: HeaderReader | undefined, seq: number): MessageMeaning {
  const kind = h?.get(HEADER.kind)
  const revision = Number(h?.get(HEADER.revision) || Number.NaN)
  const deletedRevision = Number(h?.get(HEADER.deleted) || Number.NaN)
  const count = Number(h?.get(HEADER.count) || Number.NaN)
  const time = Number(h?.get(HEADER.time) || Number.NaN)
  const last = Number(h?.get(HEADER.last) || Number.NaN)
  if (
    h?.get(HEADER.format) !== MESSAGE_FORMAT ||
    (kind !== 'events' && kind !== 'deleted' && kind !== 'tombstoned') ||
    !Number.isSafeInteger(revision) ||
    !Number.isSafeInteger(deletedRevision) ||
    !Number.isSafeInteger(count) ||
    !Number.isSafeInteger(time) ||
    !Number.isSafeInteger(last) ||
    last < 0 ||
    last >= seq ||
    revision < deletedRevision ||
    deletedRevision < 0 ||
    count < 0 ||
    (kind === 'events') !== count > 0
  ) {
    throw EventStoreError.CORRUPT(
      `stream message ${seq} is not an event-store message (format ${MESSAGE_FORMAT})`,
    )
  }
  return { kind, revision, deletedRevision, count, created: h.get(HEADER.created) === '1', time, last }
}

/**
 * The head of a stream whose last counted message is `m`, and whose last message (counted or not) is
 * at `lastSeq`.
 */
export function headOf(m: MessageMeaning | undefined, lastSeq: number): StreamHead {
  if (m === undefined) return { ...NO_STREAM, lastSeq }
  return {
    revision: m.revision,
    deletedRevision: m.deletedRevision,
    tombstoned: m.kind === 'tombstoned',
    lastSeq,
  }
}

/** The head of a stream without messages. */
export const NO_STREAM: StreamHead = Object.freeze({
  revision: 0,
  deletedRevision: 0,
  tombstoned: false,
  lastSeq: 0,
})

const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder('utf-8', { fatal: true })

function varintSize(n: number): number {
  let size = 1
  while (n >= 0x80) {
    n = Math.floor(n / 0x80)
    size++
  }
  return size
}

/**
 * Encodes the events of one append (data already encoded by the serializer).
 *
 * @returns the message body
 */
export function encodeBody(events: readonly BodyEvent[]): Uint8Array {
  const parts: Uint8Array[] = []
  let size = 0
  const add = (bytes: Uint8Array) => {
    parts.push(bytes)
    size += varintSize(bytes.byteLength) + bytes.byteLength
  }
  const counts: number[] = []
  for (const e of events) {
    add(utf8.encode(e.type))
    add(utf8.encode(e.id))
    const keys = Object.keys(e.metadata)
    counts.push(keys.length)
    size += varintSize(keys.length)
    for (const k of keys) {
      add(utf8.encode(k))
      add(utf8.encode(e.metadata[k]!))
    }
    add(e.data)
  }
  const out = new Uint8Array(size)
  let at = 0
  const writeVarint = (n: number) => {
    while (n >= 0x80) {
      out[at++] = (n % 0x80) | 0x80
      n = Math.floor(n / 0x80)
    }
    out[at++] = n
  }
  const write = (bytes: Uint8Array) => {
    writeVarint(bytes.byteLength)
    out.set(bytes, at)
    at += bytes.byteLength
  }
  let p = 0
  for (let i = 0; i < events.length; i++) {
    write(parts[p++]!)
    write(parts[p++]!)
    writeVarint(counts[i]!)
    for (let k = 0; k < counts[i]!; k++) {
      write(parts[p++]!)
      write(parts[p++]!)
    }
    write(parts[p++]!)
  }
  return out
}

/**
 * Decodes a message body of `count` events.
 *
 * @throws EventStoreError `EVENTSTORE_CORRUPT` when the body does not hold exactly `count` events
 */
export function decodeBody(body: Uint8Array, count: number, seq: number): BodyEvent[] {
  let at = 0
  const corrupt = () =>
    EventStoreError.CORRUPT(`stream message ${seq}: the body does not hold ${count} events`)
  const varint = (): number => {
    let n = 0
    let scale = 1
    for (;;) {
      if (at >= body.byteLength || scale > 2 ** 49) throw corrupt()
      const b = body[at++]!
      n += (b & 0x7f) * scale
      if (b < 0x80) return n
      scale *= 0x80
    }
  }
  const bytes = (): Uint8Array => {
    const n = varint()
    if (at + n > body.byteLength) throw corrupt()
    const out = body.subarray(at, at + n)
    at += n
    return out
  }
  const string = (): string => {
    try {
      return fromUtf8.decode(bytes())
    } catch (err) {
      throw EventStoreError.CORRUPT(`stream message ${seq}: a string is not UTF-8`, { cause: err })
    }
  }
  const events: BodyEvent[] = new Array(count)
  for (let i = 0; i < count; i++) {
    const type = string()
    const id = string()
    const entries = varint()
    const metadata: Record<string, string> = {}
    for (let k = 0; k < entries; k++) {
      const key = string()
      metadata[key] = string()
    }
    events[i] = { type, id, metadata, data: bytes() }
  }
  if (at !== body.byteLength) throw corrupt()
  return events
}
