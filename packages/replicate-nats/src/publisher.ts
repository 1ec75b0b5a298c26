/**
 * One replication session's publishes: the first record alone, then a pipeline of publishes in
 * flight, each conditional on its predecessor, and their acknowledgements in order. An encrypted
 * log's key messages join the same chain (a record's key goes right before it), so they cost no
 * round trip of their own.
 */
import type { JetStreamClient, JetStreamPublishOptions, PubAck } from '@nats-io/jetstream'
import type { SourceLog, SourceRecord } from './source.js'

/** What a {@link Publisher} reports to the replicator that owns the counters. */
export interface PublisherEvents {
  /** JetStream acknowledged a record's publish; `duplicate` when it already held the message id. */
  acked(duplicate: boolean): void
  /** The stream now holds every record up to `seq`. */
  advanced(seq: number): void
}

/** A message for the chain: a record's (with its seq) or a key message. */
export interface ChainedMessage {
  subject: string
  payload: Uint8Array
  /** Message id (required: the next message of the chain expects it), headers, timeout. */
  options: Partial<JetStreamPublishOptions> & { msgID: string }
  /** The record's WAL seq; undefined for a key message. */
  seq: number | undefined
  /** Told when the message is stored, with its stream sequence (or that its publish failed). */
  settled?: (error: unknown, streamSeq?: number) => void
}

/**
 * Publishes one session's messages in order. Publishes go out in bursts and settle in any order;
 * `advanced` is reported only for the longest acknowledged prefix. The first failure aborts
 * {@link Publisher.signal} (which ends the session's tail) and is rethrown by
 * {@link Publisher.throwIfFailed} once every publish in flight has settled.
 */
export class Publisher {
  private readonly controller = new AbortController()
  // The publishes in flight, in order: whether each is acknowledged, and its record's seq (-1 for a
  // key message); `head` is the first unacknowledged.
  private readonly acked: boolean[] = []
  private readonly seqs: number[] = []
  private head = 0
  private inFlightCount = 0
  // Messages queued and not yet published. They go out in bursts (one socket write for many) on the
  // next macrotask: publishing each as the tail yields it would cost one write per record.
  private readonly pending: ChainedMessage[] = []
  private scheduled = false
  private ended = false
  private failure: { error: unknown } | undefined = undefined
  private waking: (() => void)[] = []
  /** The message id the next chained publish expects as the stream's last; undefined until the first record. */
  private lastId: string | undefined = undefined
  private readonly publishPendingLater = () => this.publishPending()

  /**
   * @param js - the JetStream client
   * @param subject - the subject records are published on
   * @param source - turns records into messages
   * @param events - receives acknowledgements and progress
   */
  constructor(
    private readonly js: JetStreamClient,
    private readonly subject: string,
    private readonly source: SourceLog,
    private readonly events: PublisherEvents,
  ) {}

  /** Aborted when a publish fails or the session is stopped: the end of the records to publish. */
  get signal(): AbortSignal {
    return this.controller.signal
  }

  /** Publishes sent and not yet settled. */
  get inFlight(): number {
    return this.inFlightCount
  }

  /** Whether the chain has begun ({@link publishFirst} succeeded): {@link push} may follow. */
  get chained(): boolean {
    return this.lastId !== undefined
  }

  /** Ends the session: no more records are read. */
  abort(): void {
    this.controller.abort()
  }

  /**
   * Publishes the session's first record alone and waits for its acknowledgement. Bound to the stream's
   * actual last record (or to nothing on an empty subject, where no other publish is in flight), it
   * starts the chain the pipelined publishes extend.
   *
   * @param lastStreamSeq - the stream sequence of the subject's last message, if any
   */
  async publishFirst(record: SourceRecord, lastStreamSeq: number | undefined): Promise<void> {
    const message = this.source.message(this.subject, record)
    if (lastStreamSeq !== undefined) message.options.expect = { lastSubjectSequence: lastStreamSeq }
    const ack = await this.js.publish(message.subject, message.payload, message.options)
    this.events.acked(ack.duplicate)
    this.lastId = message.options.msgID
    this.events.advanced(record.seq)
  }

  /**
   * Publishes a message on its own, waiting for its acknowledgement, outside the chain: only before
   * the first record ({@link chained} false), since the stream's last message id is then no longer
   * the chain's.
   */
  async publishAlone(message: ChainedMessage): Promise<PubAck> {
    if (this.chained) throw new Error('a message published alone would break the chain')
    return this.js.publish(message.subject, message.payload, message.options)
  }

  /** Queues `record` for the next burst of pipelined publishes. */
  push(record: SourceRecord): void {
    this.pushMessage(this.source.message(this.subject, record))
  }

  /**
   * Queues a message for the next burst, chained after the last one queued: it is stored only if the
   * stream's last message is its predecessor, so a lost publish fails every later one and the stream
   * never skips one. Requires {@link chained}.
   */
  pushMessage(message: ChainedMessage): void {
    if (this.failure !== undefined || this.ended) {
      message.settled?.(this.failure?.error ?? new Error('the session ended'))
      return
    }
    message.options.expect = { lastMsgID: this.lastId! }
    this.lastId = message.options.msgID
    this.pending.push(message)
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(this.publishPendingLater)
    }
  }

  /** Whether `maxInFlight` messages are in flight or queued, so the caller should wait for {@link settled}. */
  full(maxInFlight: number): boolean {
    return this.inFlightCount + this.pending.length >= maxInFlight && this.failure === undefined
  }

  /** Whether a publish failed: stop reading records. */
  get failed(): boolean {
    return this.failure !== undefined
  }

  /** Resolves when a publish in flight settles. */
  settled(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.waking.push(resolve)
    })
  }

  /** Drops the queued messages, aborts {@link signal}, and waits for the publishes in flight to settle. */
  async close(): Promise<void> {
    this.ended = true
    for (const m of this.pending) m.settled?.(new Error('the session ended'))
    this.pending.length = 0
    this.controller.abort()
    while (this.inFlightCount > 0) await this.settled()
  }

  /** Fails the session with `error` (a key sync that failed): as a failed publish does. */
  fail(error: unknown): void {
    this.failure ??= { error }
    this.controller.abort()
    this.notify()
  }

  /** Rethrows the first publish failure, if any. */
  throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure.error
  }

  private publishPending(): void {
    this.scheduled = false
    if (this.ended || this.failure !== undefined) return
    for (const message of this.pending) {
      const index = this.acked.push(false) - 1
      this.seqs.push(message.seq ?? -1)
      this.inFlightCount++
      this.js.publish(message.subject, message.payload, message.options).then(
        (ack) => {
          message.settled?.(undefined, ack.seq)
          this.onAck(index, ack, message.seq !== undefined)
        },
        (err: unknown) => {
          message.settled?.(err)
          this.onFailure(err)
        },
      )
    }
    this.pending.length = 0
  }

  private onAck(index: number, ack: PubAck, record: boolean): void {
    if (record) this.events.acked(ack.duplicate)
    this.acked[index] = true
    let advanced = -1
    while (this.head < this.acked.length && this.acked[this.head]) {
      if (this.seqs[this.head]! >= 0) advanced = this.seqs[this.head]!
      this.head++
    }
    if (advanced >= 0) this.events.advanced(advanced)
    // Reset once everything sent is acknowledged, so indexes stay small on a long session.
    if (this.head === this.acked.length) {
      this.acked.length = 0
      this.seqs.length = 0
      this.head = 0
    }
    this.inFlightCount--
    this.notify()
  }

  private onFailure(error: unknown): void {
    this.failure ??= { error }
    this.controller.abort()
    this.inFlightCount--
    this.notify()
  }

  private notify(): void {
    const waking = this.waking
    this.waking = []
    for (const wake of waking) wake()
  }
}
