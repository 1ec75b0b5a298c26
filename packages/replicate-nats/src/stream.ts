/**
 * The message layout on the stream (headers and body), and the stream queries replication and restore
 * share: create the stream, find the last and first replicated record, find the stream sequence of a
 * WAL seq.
 */
import {
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  type MsgRequest,
  StorageType,
  type StoredMsg,
  type StreamInfo,
} from '@nats-io/jetstream'
import { headers, type MsgHdrs, nanos } from '@nats-io/transport-node'
import { MAX_TIME, type RawRecord, type RecordHeaders } from '@waltz/core'
import { ReplicationError } from './errors.js'

/**
 * Header names of a replicated record. The body is the record's data exactly as the WAL stores it
 * (the serializer's bytes); the envelope travels in these headers.
 */
export const HEADER = Object.freeze({
  /** The message layout's version, {@link MESSAGE_FORMAT}. */
  format: 'Waltz-Format',
  /** The record's WAL seq, decimal. */
  seq: 'Waltz-Seq',
  /** The record's type, {@link escapeHeaderValue escaped}. */
  type: 'Waltz-Type',
  /** The record's time, integer milliseconds since the epoch, decimal. */
  time: 'Waltz-Time',
  /** The record's key, {@link escapeHeaderValue escaped}; only when the record has one. */
  key: 'Waltz-Key',
  /** How many headers the record has, decimal; only when it has headers (`0` for `{}`). */
  headerCount: 'Waltz-Headers',
  /** Prefix of one message header per record header: `Waltz-Header-<escaped name>: <escaped value>`. */
  headerPrefix: 'Waltz-Header-',
  /** The name of the serializer that encoded the body, {@link escapeHeaderValue escaped}. */
  serializer: 'Waltz-Serializer',
  /** The id of the source log, {@link escapeHeaderValue escaped}. */
  walId: 'Waltz-Wal-Id',
  /**
   * `1` when the body is a sealed data field (a record of an encrypted log: its data encrypted under
   * its subject's data key, see core's docs/FORMAT.md); absent otherwise.
   */
  sealed: 'Waltz-Sealed',
} as const)

/**
 * The version of the message layout, in `Waltz-Format`. Version 2 (core v2) carries the envelope in
 * headers and only the data in the body; the earlier layout had no `Waltz-Format` and a body holding
 * the whole encoded record, and is refused.
 */
export const MESSAGE_FORMAT = '2'

/** Default `duplicate_window` of {@link ensureStream}: 2 minutes (the JetStream default). */
export const DEFAULT_DUPLICATE_WINDOW_MS = 120_000

/** A record read back from the stream. `key` and `headers` are present only when the record has them. */
export interface ReplicatedMessage {
  /** The record's WAL seq (`Waltz-Seq`). */
  seq: number
  /** The JetStream stream sequence of the message. */
  streamSeq: number
  /** The record's type (`Waltz-Type`). */
  type: string
  /** The record's time (`Waltz-Time`). */
  time: number
  /** The record's key (`Waltz-Key`). */
  key?: string
  /** The record's headers (`Waltz-Headers` and `Waltz-Header-*`). */
  headers?: RecordHeaders
  /** The serializer name (`Waltz-Serializer`). */
  serializer: string
  /** The source log's id (`Waltz-Wal-Id`). */
  walId: string
  /**
   * The body: the record's data as the source WAL stores it: the serializer's bytes, or in an
   * encrypted log the sealed field (`sealed`), which only a replica with the log's keys opens.
   */
  payload: Uint8Array
  /** Set when the payload is sealed (`Waltz-Sealed: 1`): a record of an encrypted log. */
  sealed?: true
}

/** The parts of a `JsMsg` or `StoredMsg` that {@link parseReplicatedMessage} reads. */
export interface MessageLike {
  /** Stream sequence. */
  readonly seq: number
  /** The body. */
  readonly data: Uint8Array
  /** Headers of a `JsMsg`. */
  readonly headers?: MsgHdrs | undefined
  /** Headers of a `StoredMsg`. */
  readonly header?: MsgHdrs | undefined
}

/**
 * Escapes a header value: every character but printable ASCII other than `%` (so spaces, `%`, control
 * characters and non-ASCII) becomes its UTF-8 percent-encoding; `decodeURIComponent` reverses it.
 * Typical names (`OrderPlaced`, `waltz-bytes/1`) are unchanged.
 *
 * @returns the escaped value, or undefined for a string holding a lone surrogate (not encodable)
 */
export function escapeHeaderValue(value: string): string | undefined {
  try {
    return value.replace(/[^\x21-\x24\x26-\x7e]/gu, (c) => encodeURIComponent(c))
  } catch {
    return undefined
  }
}

// Strings read from a WAL were decoded from UTF-8, so they hold no lone surrogate and always escape.
function escapeStored(value: string): string {
  return escapeHeaderValue(value)!
}

/** A record header's name in a message header name: escaped, and `:` (not allowed in names) too. */
function recordHeaderName(name: string): string {
  return HEADER.headerPrefix + escapeStored(name).replaceAll(':', '%3A')
}

/**
 * Builds the headers of the message carrying `record` (see {@link HEADER}).
 *
 * @param record - the record as stored (its data is the body, not a header)
 * @param walId - the source log's id, escaped already
 * @param serializer - the serializer name, escaped already
 */
export function recordHeaders(record: Omit<RawRecord, 'data'>, walId: string, serializer: string): MsgHdrs {
  const h = headers()
  h.set(HEADER.format, MESSAGE_FORMAT)
  h.set(HEADER.seq, String(record.seq))
  h.set(HEADER.type, escapeStored(record.type))
  h.set(HEADER.time, String(record.time))
  if (record.key !== undefined) h.set(HEADER.key, escapeStored(record.key))
  const fields = record.headers
  if (fields !== undefined) {
    const names = Object.keys(fields)
    h.set(HEADER.headerCount, String(names.length))
    for (const name of names) h.set(recordHeaderName(name), escapeStored(fields[name]!))
  }
  h.set(HEADER.serializer, serializer)
  h.set(HEADER.walId, walId)
  if (record.encrypted === true) h.set(HEADER.sealed, '1')
  return h
}

function bad(streamSeq: number, problem: string): ReplicationError {
  return ReplicationError.BAD_MESSAGE(`stream message ${streamSeq}: ${problem}`, {
    streamSeq,
  })
}

/** Reads a decimal header holding an integer from `min` to `max`. */
function integerHeader(
  h: MsgHdrs,
  streamSeq: number,
  name: string,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const text = h.get(name)
  const value = Number(text)
  if (!/^[0-9]+$/.test(text) || value < min || value > max) {
    throw bad(streamSeq, `bad ${name} '${text}'`)
  }
  return value
}

/**
 * Reads a message that a replicator published: its WAL seq, type, time, key, headers, serializer,
 * source id and payload. For consumers that read the stream directly.
 *
 * @param msg - a `JsMsg` (from a consumer) or `StoredMsg` (from `getMessage`)
 * @returns the record and its metadata
 * @throws ReplicationError `REPLICATION_BAD_MESSAGE` when the `Waltz-*` headers are missing or malformed,
 *   or the message has another layout than {@link MESSAGE_FORMAT}
 */
export function parseReplicatedMessage(msg: MessageLike): ReplicatedMessage {
  const h = msg.headers ?? msg.header
  if (h === undefined) throw bad(msg.seq, 'no headers (not published by a waltz replicator)')
  const format = h.get(HEADER.format)
  if (format !== MESSAGE_FORMAT) {
    throw bad(
      msg.seq,
      `${HEADER.format} '${format}', not ${MESSAGE_FORMAT} (published by an older replicator?)`,
    )
  }
  const seq = integerHeader(h, msg.seq, HEADER.seq, 1)
  const time = integerHeader(h, msg.seq, HEADER.time, 0, MAX_TIME)
  if (!h.has(HEADER.type)) throw bad(msg.seq, `no ${HEADER.type} header`)
  const serializerText = h.get(HEADER.serializer)
  if (serializerText === '') throw bad(msg.seq, `no ${HEADER.serializer} header`)
  const message: ReplicatedMessage = {
    seq,
    streamSeq: msg.seq,
    type: unescapeHeader(msg.seq, HEADER.type, h.get(HEADER.type)),
    time,
    serializer: unescapeHeader(msg.seq, HEADER.serializer, serializerText),
    walId: unescapeHeader(msg.seq, HEADER.walId, h.get(HEADER.walId)),
    payload: msg.data,
  }
  if (h.has(HEADER.key)) message.key = unescapeHeader(msg.seq, HEADER.key, h.get(HEADER.key))
  const fields = parseRecordHeaders(h, msg.seq)
  if (fields !== undefined) message.headers = fields
  if (h.has(HEADER.sealed)) {
    if (h.get(HEADER.sealed) !== '1') throw bad(msg.seq, `bad ${HEADER.sealed} '${h.get(HEADER.sealed)}'`)
    message.sealed = true
  }
  return message
}

/** The record headers of a message: undefined without `Waltz-Headers`, else exactly that many. */
function parseRecordHeaders(h: MsgHdrs, streamSeq: number): RecordHeaders | undefined {
  const entries: [string, string][] = []
  for (const [name, values] of h) {
    if (!name.startsWith(HEADER.headerPrefix)) continue
    if (values.length !== 1) throw bad(streamSeq, `${values.length} values of ${name}`)
    const recordName = unescapeHeader(streamSeq, name, name.slice(HEADER.headerPrefix.length))
    entries.push([recordName, unescapeHeader(streamSeq, name, values[0]!)])
  }
  if (!h.has(HEADER.headerCount)) {
    if (entries.length > 0) {
      throw bad(streamSeq, `${HEADER.headerPrefix}* headers without ${HEADER.headerCount}`)
    }
    return undefined
  }
  const count = integerHeader(h, streamSeq, HEADER.headerCount, 0)
  if (count !== entries.length) {
    throw bad(streamSeq, `${HEADER.headerCount} says ${count}, the message has ${entries.length}`)
  }
  // fromEntries defines own properties: a header named '__proto__' stays an ordinary header.
  return Object.fromEntries(entries)
}

/**
 * Whether `message` carries exactly `record`: the same seq, type, time, key, headers and data bytes
 * (absent key or headers must be absent on both sides), sealed on both sides or on neither.
 */
export function carriesRecord(message: ReplicatedMessage, record: RawRecord): boolean {
  return (
    message.seq === record.seq &&
    message.type === record.type &&
    message.time === record.time &&
    message.key === record.key &&
    (message.sealed === true) === (record.encrypted === true) &&
    sameHeaders(message.headers, record.headers) &&
    Buffer.from(message.payload.buffer, message.payload.byteOffset, message.payload.byteLength).equals(
      record.data,
    )
  )
}

function sameHeaders(a: RecordHeaders | undefined, b: RecordHeaders | undefined): boolean {
  if (a === undefined || b === undefined) return a === b
  const names = Object.keys(a)
  if (names.length !== Object.keys(b).length) return false
  return names.every((name) => Object.hasOwn(b, name) && a[name] === b[name])
}

function unescapeHeader(streamSeq: number, header: string, value: string): string {
  try {
    return decodeURIComponent(value)
  } catch (err) {
    throw ReplicationError.BAD_MESSAGE(`stream message ${streamSeq}: bad ${header}`, {
      streamSeq,
      cause: err,
    })
  }
}

/** Options of {@link ensureStream}. */
export interface EnsureStreamOptions {
  /** The stream name. */
  stream: string
  /** The subject the WAL's records are published on (the stream's only subject when created here). */
  subject: string
  /** Copies JetStream keeps (RAFT replicas): 1 on a single server, 3 (or 5) on a cluster. Default 1. */
  replicas?: number
  /**
   * How long JetStream remembers message ids to drop re-published records (`duplicate_window`).
   * Default 2 minutes.
   */
  duplicateWindowMs?: number
  /** `'file'` (default) or `'memory'`. */
  storage?: 'file' | 'memory'
}

/**
 * Creates the stream for one WAL when it does not exist yet (file storage, limits retention, no
 * limits; subjects `subject` and `<subject>.wzk.>`, the key store of an encrypted log), or returns the
 * existing one's info after checking that it captures `subject`; an existing stream that does not
 * capture `<subject>.wzk.>` is updated to.
 *
 * @param jsm - a JetStream manager (`await jetstreamManager(nc)`)
 * @param options - stream, subject, replicas, duplicate window, storage
 * @returns the stream info
 * @throws ReplicationError `REPLICATION_INVALID_ARGUMENT` when an existing stream does not capture
 *   `subject`; NATS errors as thrown by the client
 */
export async function ensureStream(jsm: JetStreamManager, options: EnsureStreamOptions): Promise<StreamInfo> {
  checkSubject(options.subject)
  const keySubjects = `${options.subject}.wzk.>`
  const existing = await streamInfo(jsm, options.stream)
  if (existing !== undefined) {
    const subjects = existing.config.subjects ?? []
    if (!subjects.some((pattern) => subjectMatches(pattern, options.subject))) {
      throw ReplicationError.INVALID_ARGUMENT(
        `stream ${options.stream} exists but does not capture ${options.subject} (subjects: ${subjects.join(', ')})`,
      )
    }
    if (subjects.some((pattern) => subjectMatches(pattern, `${options.subject}.wzk.kek`))) return existing
    // Made before encrypted logs replicated their keys: let it carry them.
    return jsm.streams.update(options.stream, { subjects: [...subjects, keySubjects] })
  }
  try {
    return await jsm.streams.add({
      name: options.stream,
      subjects: [options.subject, keySubjects],
      num_replicas: options.replicas ?? 1,
      duplicate_window: nanos(options.duplicateWindowMs ?? DEFAULT_DUPLICATE_WINDOW_MS),
      storage: options.storage === 'memory' ? StorageType.Memory : StorageType.File,
    })
  } catch (err) {
    // Created concurrently by another process: use that one.
    const raced = await streamInfo(jsm, options.stream)
    if (raced !== undefined) return raced
    throw err
  }
}

async function streamInfo(jsm: JetStreamManager, stream: string): Promise<StreamInfo | undefined> {
  try {
    return await jsm.streams.info(stream)
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) return undefined
    throw err
  }
}

/** Whether a NATS subject pattern (with `*` and `>` wildcards) matches a literal subject. */
export function subjectMatches(pattern: string, subject: string): boolean {
  const p = pattern.split('.')
  const s = subject.split('.')
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '>') return s.length > i
    if (i >= s.length || (p[i] !== '*' && p[i] !== s[i])) return false
  }
  return p.length === s.length
}

/** Throws unless `subject` is a literal NATS subject (tokens separated by dots, no wildcards). */
export function checkSubject(subject: unknown): asserts subject is string {
  if (
    typeof subject !== 'string' ||
    subject === '' ||
    subject.split('.').some((t) => t === '' || t === '*' || t === '>' || /\s/.test(t))
  ) {
    throw ReplicationError.INVALID_ARGUMENT(
      `subject must be a literal NATS subject (no wildcards, no spaces), got ${String(subject)}`,
    )
  }
}

/** Reads a stream message by query; undefined when there is none. */
async function getMessage(
  jsm: JetStreamManager,
  stream: string,
  query: MsgRequest,
): Promise<ReplicatedMessage | undefined> {
  const m: StoredMsg | null = await jsm.streams.getMessage(stream, query)
  return m === null ? undefined : parseReplicatedMessage(m)
}

/** The newest message on `subject`, or undefined when the subject holds none. */
export function lastOnSubject(
  jsm: JetStreamManager,
  stream: string,
  subject: string,
): Promise<ReplicatedMessage | undefined> {
  return getMessage(jsm, stream, { last_by_subj: subject })
}

/**
 * How many messages the stream holds on `subject` (one request: the stream's info filtered to it).
 */
export async function countOnSubject(
  jsm: JetStreamManager,
  stream: string,
  subject: string,
): Promise<number> {
  const info = await jsm.streams.info(stream, { subjects_filter: subject })
  return info.state.subjects?.[subject] ?? 0
}

/**
 * The first message on `subject` at or after stream sequence `from`, or undefined. (`next_by_subj` on
 * STREAM.MSG.GET is served by nats-server 2.9 and later; the client's type only lists it for direct get.)
 */
export function nextOnSubject(
  jsm: JetStreamManager,
  stream: string,
  subject: string,
  from: number,
): Promise<ReplicatedMessage | undefined> {
  return getMessage(jsm, stream, { seq: from, next_by_subj: subject } as unknown as MsgRequest)
}

/**
 * The stream sequence of the first message on `subject` whose WAL seq is at least `walSeq`. WAL seqs
 * grow with stream sequences on a subject (replication publishes in order, each message conditional on
 * its predecessor), so this is a binary search: O(log n) requests, one when the stream holds only this
 * subject with no deletions.
 *
 * @param first - the first message on the subject
 * @param last - the last message on the subject; its seq must be at least `walSeq`
 */
export async function streamSeqFor(
  jsm: JetStreamManager,
  stream: string,
  subject: string,
  walSeq: number,
  first: ReplicatedMessage,
  last: ReplicatedMessage,
): Promise<number> {
  if (first.seq >= walSeq) return first.streamSeq
  // Fast path: a contiguous stream maps seqs to stream sequences by a constant offset.
  const guess = last.streamSeq - (last.seq - walSeq)
  if (guess > first.streamSeq) {
    const m = await nextOnSubject(jsm, stream, subject, guess)
    if (m !== undefined && m.seq === walSeq && m.streamSeq === guess) return guess
  }
  let lo = first.streamSeq + 1
  let hi = last.streamSeq
  let best = last.streamSeq
  while (lo <= hi) {
    const mid = Math.floor((lo + hi) / 2)
    const m = await nextOnSubject(jsm, stream, subject, mid)
    if (m === undefined || m.streamSeq > hi) {
      hi = mid - 1
    } else if (m.seq >= walSeq) {
      best = m.streamSeq
      hi = mid - 1
    } else {
      lo = m.streamSeq + 1
    }
  }
  return best
}
