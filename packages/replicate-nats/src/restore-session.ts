/**
 * One call of `restoreFromJetStream` after its options are checked: reads the stream through a
 * consumer (recreated when it fails or falls silent) and appends what it receives to the replica.
 */
import { type ConsumerMessages, type JetStreamManager, type JsMsg, jetstream } from '@nats-io/jetstream'
import { isWalError, type WalLogger } from '@waltz/core'
import { isReplicationError, ReplicationError } from './errors.js'
import { Replica } from './replica.js'
import type { RestoreOptions, RestoreResult } from './restore.js'
import { nextOnSubject, parseReplicatedMessage, type ReplicatedMessage, streamSeqFor } from './stream.js'
import { backoff, sleep } from './util.js'
import { ConsumerWatchdog, HEARTBEAT_MS } from './watchdog.js'

/** The options of a restore, checked, with the defaults filled in, and a JetStream manager. */
interface RestoreSessionOptions extends RestoreOptions {
  /** A JetStream manager on `nc`. */
  jsm: JetStreamManager
  /** Keep reading after the stream's last record (as of the call) until `signal` aborts. */
  follow: boolean
  /** Records per appended batch at most. */
  batchSize: number
  /** Where to report progress. */
  logger: WalLogger
}

/** Reads the stream into the replica until done; owns the replica, the consumer and its watchdog. */
export class RestoreSession {
  private replica: Replica | undefined
  // The stream sequence the next consumer starts at: one after the last message received.
  private startStreamSeq = 1
  private messages: ConsumerMessages | undefined
  private readonly onAbort = () => {
    void this.messages?.close()
  }

  /**
   * @param options - the checked options
   * @param last - the subject's last message as of the call; without `follow`, the restore ends there
   */
  constructor(
    private readonly options: RestoreSessionOptions,
    private readonly last: ReplicatedMessage | undefined,
  ) {}

  /**
   * Restores: opens and checks an existing replica when the stream holds records, then reads until
   * done. The replica is closed at the end, keeping every record received (also on an error).
   *
   * @param first - the subject's first message (undefined when it holds none)
   */
  async run(first: ReplicatedMessage | undefined): Promise<RestoreResult> {
    const { signal, logger } = this.options
    signal?.addEventListener('abort', this.onAbort, { once: true })
    try {
      if (first !== undefined && this.last !== undefined) {
        const replica = await this.openReplica(this.last.serializer, first.seq)
        this.startStreamSeq = await this.resumePoint(replica, first, this.last)
      }
      await this.readUntilDone()
      await this.flush()
      logger.info('restored', { dir: this.options.dir, restored: this.restored, lastSeq: this.next - 1 })
      return this.summary()
    } catch (err) {
      await this.flush().catch(() => {})
      throw err
    } finally {
      signal?.removeEventListener('abort', this.onAbort)
      await this.replica?.close()
    }
  }

  /** The seq to receive next (0 before the replica is open). */
  private get next(): number {
    return this.replica?.next ?? 0
  }

  private get restored(): number {
    return this.replica?.appended ?? 0
  }

  private get done(): boolean {
    const { signal, follow } = this.options
    return signal?.aborted === true || (!follow && this.last !== undefined && this.next > this.last.seq)
  }

  private async openReplica(serializer: string, firstSeq: number): Promise<Replica> {
    const { dir, walOptions } = this.options
    this.replica = await Replica.open(dir, serializer, firstSeq, walOptions)
    return this.replica
  }

  // The client's ordered consumer rides out most faults itself; when it gives up (every server
  // restarted, the consumer lost), read on from the next stream sequence after a pause.
  private async readUntilDone(): Promise<void> {
    const { nc, signal, logger } = this.options
    let failures = 0
    while (!this.done) {
      const before = this.next
      try {
        await this.readOnce()
      } catch (err) {
        if (isReplicationError(err) || isWalError(err)) throw err
        logger.warn('reading the stream failed; retrying', { next: this.next, error: err })
      } finally {
        await this.messages?.close()
        this.messages = undefined
      }
      if (this.done) break
      if (nc.isClosed()) {
        throw ReplicationError.CLOSED(`the NATS connection closed at seq ${this.next - 1}`, {
          seq: this.next - 1,
        })
      }
      failures = this.next > before ? 1 : failures + 1
      await sleep(backoff(failures, 100, 2000), signal)
    }
  }

  /** Reads the stream from `startStreamSeq` until done, the consumer ends, or the watchdog stops it. */
  private async readOnce(): Promise<void> {
    const messages = await this.consume()
    const watchdog = new ConsumerWatchdog(messages, this.options.logger, () => {
      this.options.logger.warn('the stream consumer fell silent; starting a new one', { next: this.next })
      messages.stop()
    })
    try {
      for await (const m of messages) {
        watchdog.storing()
        try {
          if (await this.receive(m)) break
        } finally {
          watchdog.stored()
        }
      }
    } finally {
      watchdog.stop()
    }
    await this.flush()
  }

  /** Starts a consumer on the subject at `startStreamSeq`. */
  private async consume(): Promise<ConsumerMessages> {
    const { nc, stream, subject, signal, batchSize } = this.options
    const consumer = await jetstream(nc).consumers.get(stream, {
      filter_subjects: subject,
      opt_start_seq: this.startStreamSeq,
    })
    // Short pulls and heartbeats: a consumer lost in a cluster restart is noticed and recreated in
    // seconds (the client's defaults, 30 s pulls with 15 s heartbeats, take half a minute).
    const messages = await consumer.consume({
      max_messages: Math.max(100, batchSize),
      expires: 5000,
      idle_heartbeat: HEARTBEAT_MS,
    })
    this.messages = messages
    // Aborted while the consumer was being created: `onAbort` found nothing to close.
    if (signal?.aborted) await messages.close()
    return messages
  }

  /** Stores one stream message in the replica (batched); returns whether restoring is done. */
  private async receive(m: JsMsg): Promise<boolean> {
    const r = parseReplicatedMessage(m)
    this.startStreamSeq = r.streamSeq + 1
    const replica = this.replica ?? (await this.openReplica(r.serializer, r.seq))
    if (r.seq < replica.next) return false // at or before the replica's end: already stored
    if (r.seq > replica.next) {
      throw ReplicationError.GAP(
        `the stream skips from seq ${replica.next - 1} to ${r.seq} (stream sequence ${r.streamSeq})`,
        { seq: replica.next, streamSeq: r.streamSeq },
      )
    }
    if (r.serializer !== replica.serializer) {
      throw ReplicationError.DIVERGED(
        `seq ${r.seq} uses serializer '${r.serializer}', the replica '${replica.serializer}'`,
        { seq: r.seq, streamSeq: r.streamSeq },
      )
    }
    replica.add(r)
    if (this.done) return true
    if (replica.batched >= this.options.batchSize || m.info.pending === 0) await this.flush()
    return false
  }

  /** Appends the records received so far (also before an error: the replica stays a valid prefix). */
  private async flush(): Promise<void> {
    const appended = await this.replica?.flush()
    if (appended !== undefined) this.options.onProgress?.(appended)
  }

  /**
   * Checks an existing replica against the stream and returns the stream sequence to read from.
   * The replica must end within the stream, on a record with the stream's bytes.
   */
  private async resumePoint(
    replica: Replica,
    first: ReplicatedMessage,
    last: ReplicatedMessage,
  ): Promise<number> {
    const { jsm, stream, subject, dir } = this.options
    if (replica.lastSeq > last.seq) {
      throw ReplicationError.DIVERGED(
        `the replica in ${dir} ends at seq ${replica.lastSeq}, after the stream's last (${last.seq})`,
        { seq: replica.lastSeq },
      )
    }
    if (replica.next < first.seq) {
      throw ReplicationError.GAP(
        `the replica needs seq ${replica.next} but the stream starts at ${first.seq} (removed by its retention?)`,
        { seq: replica.next, streamSeq: first.streamSeq },
      )
    }
    if (replica.lastSeq >= first.seq && replica.lastSeq >= replica.firstSeq) {
      return this.checkLastRecord(replica, first, last)
    }
    if (replica.next > last.seq) return last.streamSeq + 1
    return streamSeqFor(jsm, stream, subject, replica.next, first, last)
  }

  /**
   * Checks that the replica's last record is the stream's record of that seq (type, time, key,
   * headers and data bytes), and returns the stream sequence after it.
   *
   * @throws ReplicationError `REPLICATION_DIVERGED`
   */
  private async checkLastRecord(
    replica: Replica,
    first: ReplicatedMessage,
    last: ReplicatedMessage,
  ): Promise<number> {
    const { jsm, stream, subject, dir } = this.options
    const seq = replica.lastSeq
    const at = seq === last.seq ? last.streamSeq : await streamSeqFor(jsm, stream, subject, seq, first, last)
    const theirs = seq === last.seq ? last : await nextOnSubject(jsm, stream, subject, at)
    if (theirs === undefined || !(await replica.endsWith(theirs))) {
      throw ReplicationError.DIVERGED(`seq ${seq} of the replica in ${dir} differs from the stream's`, {
        seq,
        streamSeq: at,
      })
    }
    return at + 1
  }

  private summary(): RestoreResult {
    const replica = this.replica
    const stored = replica !== undefined && replica.lastSeq >= replica.firstSeq
    return {
      firstSeq: stored ? replica.firstSeq : 0,
      lastSeq: stored ? replica.lastSeq : 0,
      restored: this.restored,
      serializer: replica?.serializer,
    }
  }
}
