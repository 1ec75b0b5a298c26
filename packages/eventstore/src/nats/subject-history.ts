/**
 * The messages of the subjects a client has read or written, each from the subject's first message
 * on. A stored JetStream message never changes, and a subject's messages up to one of them never
 * change either (a new one can only come after the last), so a later read of the subject asks the
 * server only for the messages after them. A subject's history is bounded by bytes: the least
 * recently used subjects are forgotten first.
 */
import type { HeaderReader } from './message-format.js'

/** A message of the events stream, as an ordered consumer or a get returns it. */
export interface LogMessage {
  seq: number
  subject: string
  /** Undefined: the message has none (not written by a connected store). */
  headers?: HeaderReader | undefined
  data: Uint8Array
}

/** All messages of one subject up to `lastSeq`, in order. */
export interface KnownMessages {
  /** The sequence of the last one. */
  lastSeq: number
  messages: readonly LogMessage[]
}

/** What one message is counted as in the budget beyond its body, bytes. */
const MESSAGE_OVERHEAD = 256

interface Entry extends KnownMessages {
  messages: LogMessage[]
  bytes: number
}

/** @internal */
export class SubjectHistory {
  private readonly subjects = new Map<string, Entry>()
  private bytes = 0

  /** @param maxBytes - what the histories may take together (bodies and an estimate per message) */
  constructor(private readonly maxBytes: number) {}

  /** The messages of `subject` known from its first one, if any. */
  get(subject: string): KnownMessages | undefined {
    const entry = this.subjects.get(subject)
    if (entry === undefined) return undefined
    this.subjects.delete(subject)
    this.subjects.set(subject, entry)
    return entry
  }

  /**
   * Records `messages` (read from the subject's first message, in order, none left out) as the
   * subject's messages up to the last one. The history keeps them: their bodies must not change (a
   * consumer's or a get's message may be a view of a larger buffer: keep a copy).
   */
  set(subject: string, messages: LogMessage[]): void {
    this.forget(subject)
    if (messages.length === 0) return
    let bytes = 0
    for (const m of messages) bytes += m.data.byteLength + MESSAGE_OVERHEAD
    this.store(subject, { lastSeq: messages.at(-1)!.seq, messages, bytes })
  }

  /**
   * Adds `m`, a message of `subject` that this client wrote and knows counts after `last` (no
   * message of the subject lies between them), when the history reaches exactly `last` (0: the
   * subject had no message). `m.data` must not change afterwards.
   */
  extend(subject: string, last: number, m: LogMessage): void {
    const entry = this.subjects.get(subject)
    const bytes = m.data.byteLength + MESSAGE_OVERHEAD
    if (entry === undefined) {
      if (last === 0) this.store(subject, { lastSeq: m.seq, messages: [m], bytes })
      return
    }
    if (entry.lastSeq !== last) return
    this.forget(subject)
    entry.messages.push(m)
    entry.lastSeq = m.seq
    entry.bytes += bytes
    this.store(subject, entry)
  }

  /** Forgets what is known of `subject`. */
  forget(subject: string): void {
    const entry = this.subjects.get(subject)
    if (entry === undefined) return
    this.subjects.delete(subject)
    this.bytes -= entry.bytes
  }

  private store(subject: string, entry: Entry): void {
    if (entry.bytes > this.maxBytes / 4) return
    this.subjects.set(subject, entry)
    this.bytes += entry.bytes
    for (const [name, oldest] of this.subjects) {
      if (this.bytes <= this.maxBytes) break
      this.subjects.delete(name)
      this.bytes -= oldest.bytes
    }
  }
}
