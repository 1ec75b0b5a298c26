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
import { ReplicationError } from './errors.js'

/** Header names of a replicated record. The body is the record exactly as the WAL stores it. */
export const HEADER = Object.freeze({
  /** The record's WAL seq, decimal. */
  seq: 'Waltz-Seq',
  /** The record's type, {@link escapeHeaderValue escaped}. */
  type: 'Waltz-Type',
  /** The record's time, milliseconds since the epoch, decimal (a JS number's `String()`). */
  time: 'Waltz-Time',
  /** The name of the serializer that encoded the body, {@link escapeHeaderValue escaped}. */
  serializer: 'Waltz-Serializer',
  /** The id of the source log, {@link escapeHeaderValue escaped}. */
  walId: 'Waltz-Wal-Id',
} as const)

/** Default `duplicate_window` of {@link ensureStream}: 2 minutes (the JetStream default). */
export const DEFAULT_DUPLICATE_WINDOW_MS = 120_000

/** A record read back from the stream. */
export interface ReplicatedMessage {
  /** The record's WAL seq (`Waltz-Seq`). */
  seq: number
  /** The JetStream stream sequence of the message. */
  streamSeq: number
  /** The record's type (`Waltz-Type`), or undefined when the publisher could not decode it. */
  type: string | undefined
  /** The record's time (`Waltz-Time`), or undefined when the publisher could not decode it. */
  time: number | undefined
  /** The serializer name (`Waltz-Serializer`). */
  serializer: string
  /** The source log's id (`Waltz-Wal-Id`). */
  walId: string
  /** The body: the serializer's bytes, as the source WAL stores them. */
  payload: Uint8Array
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

/** Builds the headers of one record; `serializer` and `walId` are escaped already. */
export function recordHeaders(
  seq: number,
  walId: string,
  serializer: string,
  type: string | undefined,
  time: number | undefined,
): MsgHdrs {
  const h = headers()
  h.set(HEADER.seq, String(seq))
  const escapedType = type === undefined ? undefined : escapeHeaderValue(type)
  if (escapedType !== undefined) h.set(HEADER.type, escapedType)
  if (time !== undefined) h.set(HEADER.time, String(time))
  h.set(HEADER.serializer, serializer)
  h.set(HEADER.walId, walId)
  return h
}

function bad(streamSeq: number, problem: string): ReplicationError {
  return new ReplicationError('REPLICATION_BAD_MESSAGE', `stream message ${streamSeq}: ${problem}`, {
    streamSeq,
  })
}

/**
 * Reads a message that a replicator published: its WAL seq, type, time, serializer, source id and
 * payload. For consumers that read the stream directly.
 *
 * @param msg - a `JsMsg` (from a consumer) or `StoredMsg` (from `getMessage`)
 * @returns the record and its metadata
 * @throws ReplicationError `REPLICATION_BAD_MESSAGE` when the `Waltz-*` headers are missing or malformed
 */
export function parseReplicatedMessage(msg: MessageLike): ReplicatedMessage {
  const h = msg.headers ?? msg.header
  if (h === undefined) throw bad(msg.seq, 'no headers (not published by a waltz replicator)')
  const seqText = h.get(HEADER.seq)
  const seq = Number(seqText)
  if (seqText === '' || !Number.isSafeInteger(seq) || seq < 1)
    throw bad(msg.seq, `bad ${HEADER.seq} '${seqText}'`)
  const serializerText = h.get(HEADER.serializer)
  if (serializerText === '') throw bad(msg.seq, `no ${HEADER.serializer} header`)
  const typeText = h.has(HEADER.type) ? h.get(HEADER.type) : undefined
  const timeText = h.get(HEADER.time)
  return {
    seq,
    streamSeq: msg.seq,
    type: typeText === undefined ? undefined : unescapeHeader(msg.seq, HEADER.type, typeText),
    time: timeText === '' ? undefined : Number(timeText),
    serializer: unescapeHeader(msg.seq, HEADER.serializer, serializerText),
    walId: unescapeHeader(msg.seq, HEADER.walId, h.get(HEADER.walId)),
    payload: msg.data,
  }
}

function unescapeHeader(streamSeq: number, header: string, value: string): string {
  try {
    return decodeURIComponent(value)
  } catch (err) {
    throw new ReplicationError('REPLICATION_BAD_MESSAGE', `stream message ${streamSeq}: bad ${header}`, {
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
 * limits), or returns the existing one's info after checking that it captures `subject`.
 *
 * @param jsm - a JetStream manager (`await jetstreamManager(nc)`)
 * @param options - stream, subject, replicas, duplicate window, storage
 * @returns the stream info
 * @throws ReplicationError `REPLICATION_INVALID_ARGUMENT` when an existing stream does not capture
 *   `subject`; NATS errors as thrown by the client
 */
export async function ensureStream(jsm: JetStreamManager, options: EnsureStreamOptions): Promise<StreamInfo> {
  checkSubject(options.subject)
  const existing = await streamInfo(jsm, options.stream)
  if (existing !== undefined) {
    const subjects = existing.config.subjects ?? []
    if (!subjects.some((pattern) => subjectMatches(pattern, options.subject))) {
      throw new ReplicationError(
        'REPLICATION_INVALID_ARGUMENT',
        `stream ${options.stream} exists but does not capture ${options.subject} (subjects: ${subjects.join(', ')})`,
      )
    }
    return existing
  }
  try {
    return await jsm.streams.add({
      name: options.stream,
      subjects: [options.subject],
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
    throw new ReplicationError(
      'REPLICATION_INVALID_ARGUMENT',
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
