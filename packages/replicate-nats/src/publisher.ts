/**
 * One replication session's publishes: the first one alone, then a pipeline of publishes in flight,
 * each conditional on its predecessor, and their acknowledgements in seq order.
 */
import type { JetStreamClient, PubAck } from '@nats-io/jetstream'
import type { SourceLog, SourceRecord } from './source.js'

/** What a {@link Publisher} reports to the replicator that owns the counters. */
export interface PublisherEvents {
  /** JetStream acknowledged a publish; `duplicate` when it already held the message id. */
  acked(duplicate: boolean): void
  /** The stream now holds every record up to `seq`. */
  advanced(seq: number): void
}

/**
 * Publishes one session's records in seq order. Publishes go out in bursts and settle in any order;
 * `advanced` is reported only for the longest acknowledged prefix. The first failure aborts
 * {@link Publisher.signal} (which ends the session's tail) and is rethrown by
 * {@link Publisher.throwIfFailed} once every publish in flight has settled.
 */
export class Publisher {
  private readonly controller = new AbortController()
  // Acknowledged flags of the publishes in flight, in seq order; `head` is the first unacknowledged.
  private readonly acked: boolean[] = []
  private head = 0
  private ackedSeq: number
  private inFlightCount = 0
  // Records read and not yet published. They go out in bursts (one socket write for many) on the next
  // macrotask: publishing each as the tail yields it would cost one write per record.
  private readonly pending: SourceRecord[] = []
  private scheduled = false
  private ended = false
  private failure: { error: unknown } | undefined = undefined
  private wake: (() => void) | undefined = undefined
  private readonly publishPendingLater = () => this.publishPending()

  /**
   * @param js - the JetStream client
   * @param subject - the subject records are published on
   * @param source - turns records into messages
   * @param events - receives acknowledgements and progress
   * @param ackedSeq - the seq the stream is known to hold up to (the first publish is the next one)
   */
  constructor(
    private readonly js: JetStreamClient,
    private readonly subject: string,
    private readonly source: SourceLog,
    private readonly events: PublisherEvents,
    ackedSeq: number,
  ) {
    this.ackedSeq = ackedSeq
  }

  /** Aborted when a publish fails or the session is stopped: the end of the records to publish. */
  get signal(): AbortSignal {
    return this.controller.signal
  }

  /** Publishes sent and not yet settled. */
  get inFlight(): number {
    return this.inFlightCount
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
    const { payload, options } = this.source.message(record)
    if (lastStreamSeq !== undefined) options.expect = { lastSubjectSequence: lastStreamSeq }
    const ack = await this.js.publish(this.subject, payload, options)
    this.events.acked(ack.duplicate)
    this.ackedSeq = record.seq
    this.events.advanced(record.seq)
  }

  /** Queues `record` for the next burst of pipelined publishes. */
  push(record: SourceRecord): void {
    this.pending.push(record)
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(this.publishPendingLater)
    }
  }

  /** Whether `maxInFlight` records are in flight or queued, so the caller should wait for {@link settled}. */
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
      this.wake = resolve
    })
  }

  /** Drops the queued records, aborts {@link signal}, and waits for the publishes in flight to settle. */
  async close(): Promise<void> {
    this.ended = true
    this.pending.length = 0
    this.controller.abort()
    while (this.inFlightCount > 0) await this.settled()
  }

  /** Rethrows the first publish failure, if any. */
  throwIfFailed(): void {
    if (this.failure !== undefined) throw this.failure.error
  }

  private publishPending(): void {
    this.scheduled = false
    if (this.ended || this.failure !== undefined) return
    for (const record of this.pending) {
      // Stored only if the stream's last message is this record's predecessor: a lost publish fails
      // every later one, so the stream never skips a seq.
      const { payload, options } = this.source.message(record)
      options.expect = { lastMsgID: this.source.messageId(record.seq - 1) }
      const index = this.acked.push(false) - 1
      this.inFlightCount++
      this.js.publish(this.subject, payload, options).then(
        (ack) => this.onAck(index, ack),
        (err: unknown) => this.onFailure(err),
      )
    }
    this.pending.length = 0
  }

  private onAck(index: number, ack: PubAck): void {
    this.events.acked(ack.duplicate)
    this.acked[index] = true
    let next = this.ackedSeq
    while (this.head < this.acked.length && this.acked[this.head]) {
      this.head++
      next++
    }
    if (next !== this.ackedSeq) {
      this.ackedSeq = next
      this.events.advanced(next)
    }
    // Reset once everything sent is acknowledged, so indexes stay small on a long session.
    if (this.head === this.acked.length) {
      this.acked.length = 0
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
    const wake = this.wake
    this.wake = undefined
    wake?.()
  }
}
