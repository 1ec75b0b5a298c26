/**
 * The events' JetStream stream as the store reads it: only the messages that count (see
 * `isCountedAfter` in `message-format.ts`), a stream's head from its last counted message, the
 * events of a message. A stream's last message is asked of the stream leader; other single messages
 * are asked of any replica by a direct get when the stream allows it (see {@link CountedLog.nextOf}
 * for why a replica's answer is safe to use), else of the leader; long reads go through an ordered
 * consumer.
 */
import type { JetStreamClient, JetStreamManager, StoredMsg } from '@nats-io/jetstream'
import type { BodyEvent } from './message-format.js'
import {
  decodeBody,
  headOf,
  isCountedAfter,
  type MessageMeaning,
  messageHeaders,
  NO_STREAM,
  readMeaning,
  type StreamHead,
} from './message-format.js'
import { readMessages, tailMessages } from './message-reader.js'
import { unavailable } from './nats-errors.js'
import type { StreamBinding } from './stream-setup.js'
import { streamOfToken, streamToken } from './stream-subject.js'
import { type KnownMessages, type LogMessage, SubjectHistory } from './subject-history.js'

export type { LogMessage } from './subject-history.js'

/**
 * Reads of one subject expected to cover at most this many messages go message by message (a get
 * each, about 0.6 ms on a loaded 3-node loopback cluster); longer ones through an ordered consumer,
 * whose creation costs about 8 ms there (the JetStream meta group agrees on it). Measured with
 * 20-message subjects: gets 12 ms, a consumer 10 ms.
 */
const GET_READ_MAX = 12

/** What the messages a client keeps of the subjects it read or wrote may take, bytes. */
const HISTORY_BYTES = 32 * 1024 * 1024

function logMessage(m: StoredMsg): LogMessage {
  return { seq: m.seq, subject: m.subject, headers: m.header, data: m.data }
}

/** An event of a message, before its data is decoded. */
export interface RawEvent extends BodyEvent {
  stream: string
  revision: number
  position: number
  time: number
  /** Whether it is the first event of a message that created its stream. */
  created: boolean
}

/**
 * A pass over the whole stream from `from`: the last message seen of each subject, which tells
 * whether the next one counts.
 */
export interface WholeRead {
  from: number
  previous: Map<string, number>
}

/**
 * The counted messages of the events stream.
 *
 * @internal
 */
export class CountedLog {
  /** The messages of the subjects read or written, from their first one (see `subject-history.ts`). */
  private readonly history = new SubjectHistory(HISTORY_BYTES)

  constructor(
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly binding: StreamBinding,
    /** How long a read of stored messages waits for the next one before it fails, ms. */
    private readonly idleMs: number,
    /** Told the sequence of every message read. */
    private readonly onSeen: (seq: number) => void,
    /** Whether the stream answers direct gets (`allow_direct`). */
    private readonly direct: boolean,
  ) {}

  /** The subject of an event-store stream. */
  subjectOf(stream: string): string {
    return `${this.binding.prefix}.${streamToken(stream)}`
  }

  /** One message by a `STREAM.MSG.GET` request (answered by the stream leader); null when none. */
  async getMessage(
    query: Parameters<JetStreamManager['streams']['getMessage']>[1],
    stream?: string,
  ): Promise<Awaited<ReturnType<JetStreamManager['streams']['getMessage']>>> {
    try {
      return await this.jsm.streams.getMessage(this.binding.stream, query)
    } catch (err) {
      throw unavailable(`reading stream ${this.binding.stream}`, err, stream)
    }
  }

  /**
   * The first message of `subject` at or after `from`, or null when there is none. A replica answers
   * when the stream allows direct gets. Its answer can be behind the leader's, never different from
   * it: a replica stores the committed messages in order, so it holds every message up to the last
   * one it stores, and a message it returns is the subject's true next one. Only its "none" may come
   * from behind: then the leader is asked. A replica that does not answer is no reason to fail either.
   */
  async nextOf(subject: string, from: number): Promise<LogMessage | null> {
    const query = { seq: from, next_by_subj: subject }
    if (this.direct) {
      const m = await this.jsm.direct.getMessage(this.binding.stream, query).catch(() => null)
      if (m !== null) return logMessage(m)
    }
    const m = await this.getMessage(query as never)
    return m === null ? null : logMessage(m)
  }

  /** The stream's last sequence, from the server. */
  async lastSeq(): Promise<number> {
    try {
      const info = await this.jsm.streams.info(this.binding.stream)
      this.onSeen(info.state.last_seq)
      return info.state.last_seq
    } catch (err) {
      throw unavailable(`reading the state of stream ${this.binding.stream}`, err)
    }
  }

  /** The messages of every subject from `from` to `to` (a message). */
  readAll(from: number, to: number): AsyncGenerator<LogMessage, void, undefined> {
    return readMessages(this.js, this.binding.stream, {
      filter: `${this.binding.prefix}.>`,
      from,
      to,
      idleMs: this.idleMs,
    })
  }

  /** The messages of `filter` (default: every subject) from `from` on, live, until `signal` aborts. */
  tail(
    from: number,
    signal: AbortSignal,
    filter = `${this.binding.prefix}.>`,
  ): AsyncGenerator<LogMessage, void, undefined> {
    return tailMessages(this.js, this.binding.stream, filter, from, signal)
  }

  /**
   * Whether the message at `seq` of `subject`, published expecting `last` as the subject's last,
   * counts: no other message of the subject lies between them (see {@link isCountedAfter}).
   */
  async isCounted(subject: string, last: number, seq: number): Promise<boolean> {
    if (last + 1 === seq) return true
    const next = await this.nextOf(subject, last + 1)
    return next?.seq === seq
  }

  /** The sequence of the last message at or below `seq` (0: none). */
  async lastSeqUpTo(seq: number): Promise<number> {
    for (let s = seq; s >= 1; s--) {
      try {
        const m = await this.jsm.streams.getMessage(this.binding.stream, { seq: s })
        if (m !== null) return s
      } catch (err) {
        throw unavailable(`reading message ${s}`, err)
      }
    }
    return 0
  }

  /**
   * The stream's state after its last message, read from the stream leader. Whether that message
   * counts is known without asking when the subject's history reaches it.
   */
  async head(subject: string, stream: string): Promise<StreamHead> {
    const m = await this.getMessage({ last_by_subj: subject }, stream)
    if (m === null) {
      this.history.forget(subject)
      return NO_STREAM
    }
    this.onSeen(m.seq)
    const meaning = readMeaning(m.header, m.seq)
    const known = this.knownUpTo(subject, m.seq, meaning)
    const lastCounts =
      known?.lastSeq === m.seq
        ? isCountedAfter(meaning, known.messages.at(-2)?.seq ?? 0)
        : await this.isCounted(subject, meaning.last, m.seq)
    if (lastCounts) return headOf(meaning, m.seq)
    // The last message lost a race (rare): the state is the last counted one's.
    let counted: MessageMeaning | undefined
    for await (const c of this.countedMessages(subject, m.seq)) counted = c.meaning
    return headOf(counted, m.seq)
  }

  /**
   * The subject's history, if it holds no message after `lastSeq` (the subject's last message,
   * whose headers mean `last`). One that does, or whose message at `lastSeq` differs, is forgotten:
   * messages were removed (the stream's limits, a purge) or the JetStream stream was re-created.
   */
  private knownUpTo(subject: string, lastSeq: number, last?: MessageMeaning): KnownMessages | undefined {
    const known = this.history.get(subject)
    if (known === undefined || known.lastSeq < lastSeq) return known
    const same =
      known.lastSeq === lastSeq &&
      (last === undefined ||
        JSON.stringify(readMeaning(known.messages.at(-1)!.headers, lastSeq)) === JSON.stringify(last))
    if (same) return known
    this.history.forget(subject)
    return undefined
  }

  /**
   * Adds a message this client wrote to its subject's history, once it knows the message counts
   * (so the subject's message before it is `meaning.last`). `body` must not change afterwards.
   */
  written(subject: string, seq: number, meaning: MessageMeaning, body: Uint8Array): void {
    const headers = new Map<string, string>(messageHeaders(meaning))
    this.history.extend(subject, meaning.last, {
      seq,
      subject,
      headers: { get: (name) => headers.get(name) ?? '' },
      data: body,
    })
  }

  /**
   * The messages of one subject up to `lastSeq` (a message of it), in order: those in its history,
   * then the rest from the server, one get after the other while `few` (at most
   * {@link GET_READ_MAX} expected), through an ordered consumer otherwise and from the first message
   * past that many. What was read joins the history, even when the caller stops early.
   */
  async *subjectMessages(
    subject: string,
    lastSeq: number,
    few: boolean,
  ): AsyncGenerator<LogMessage, void, undefined> {
    // A history past `lastSeq` (this client appended since the head was read) holds all up to it.
    const known = this.history.get(subject)
    const seen: LogMessage[] = known === undefined ? [] : [...known.messages]
    const read = (m: LogMessage): LogMessage => {
      const kept = { seq: m.seq, subject: m.subject, headers: m.headers, data: m.data.slice() }
      seen.push(kept)
      return kept
    }
    try {
      for (const m of known?.messages ?? []) {
        if (m.seq > lastSeq) return
        yield m
      }
      let from = (known?.lastSeq ?? 0) + 1
      for (let n = 0; few && n < GET_READ_MAX; n++) {
        if (from > lastSeq) return
        const m = await this.nextOf(subject, from)
        // None up to `lastSeq` left: the stream's limits removed them since the head was read.
        if (m === null || m.seq > lastSeq) return
        yield read(m)
        from = m.seq + 1
      }
      if (from > lastSeq) return
      for await (const m of readMessages(this.js, this.binding.stream, {
        filter: subject,
        from,
        to: lastSeq,
        idleMs: this.idleMs,
      })) {
        yield read(m)
      }
    } finally {
      if (seen.length > (known?.messages.length ?? 0)) this.history.set(subject, seen)
    }
  }

  /**
   * The counted messages of one subject up to `lastSeq` (a message of it), in order; `few` as in
   * {@link subjectMessages}.
   */
  async *countedMessages(
    subject: string,
    lastSeq: number,
    few = false,
  ): AsyncGenerator<{ m: LogMessage; meaning: MessageMeaning }, void, undefined> {
    let previous = 0
    for await (const m of this.subjectMessages(subject, lastSeq, few)) {
      const meaning = readMeaning(m.headers, m.seq)
      const counted = isCountedAfter(meaning, previous)
      previous = m.seq
      if (counted) yield { m, meaning }
    }
  }

  /** A stream's events with revisions `lo..hi` (deleted ones too), from its messages up to `lastSeq`. */
  async *subjectEvents(
    stream: string,
    subject: string,
    lastSeq: number,
    lo: number,
    hi: number,
  ): AsyncGenerator<RawEvent, void, undefined> {
    // Each message holds at least one event: up to revision `hi` there are at most `hi` of them
    // (and the markers, rare).
    for await (const { m, meaning } of this.countedMessages(subject, lastSeq, hi <= GET_READ_MAX)) {
      if (meaning.kind !== 'events' || meaning.revision < lo) continue
      for (const e of this.eventsOf(stream, m, meaning)) {
        if (e.revision > hi) return
        if (e.revision >= lo) yield e
      }
      if (meaning.revision >= hi) return
    }
  }

  /**
   * The events of a message of any stream, read in a pass over the whole stream from `read.from`
   * (none for a marker, or a message that does not count).
   */
  async messageEvents(m: LogMessage, read: WholeRead): Promise<RawEvent[]> {
    this.onSeen(m.seq)
    const meaning = readMeaning(m.headers, m.seq)
    const previous = read.previous.get(m.subject)
    read.previous.set(m.subject, m.seq)
    // The message before it on its subject: seen in this pass, or known to be before the pass.
    const counted =
      previous !== undefined
        ? isCountedAfter(meaning, previous)
        : meaning.last + 1 >= read.from || (await this.isCounted(m.subject, meaning.last, m.seq))
    if (meaning.kind !== 'events' || !counted) return []
    const stream = streamOfToken(m.subject.slice(this.binding.prefix.length + 1))
    return this.eventsOf(stream, m, meaning)
  }

  /** The events of message `m` of `stream`, whose headers mean `meaning`. */
  eventsOf(stream: string, m: LogMessage, meaning: MessageMeaning): RawEvent[] {
    const body = decodeBody(m.data, meaning.count, m.seq)
    const first = meaning.revision - meaning.count + 1
    return body.map((e, i) => ({
      ...e,
      // A copy: the body may be kept in the subject's history, and a bytes serializer hands `data` on.
      data: e.data.slice(),
      stream,
      revision: first + i,
      position: m.seq,
      time: meaning.time,
      created: i === 0 && meaning.created,
    }))
  }
}
