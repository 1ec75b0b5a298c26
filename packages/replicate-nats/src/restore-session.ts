/**
 * One call of `restoreFromJetStream` after its options are checked: reads the stream through a
 * consumer (recreated when it fails or falls silent) and appends what it receives to the replica.
 * For an encrypted log it first imports the key store as the stream holds it (shreds and rotations
 * included), then takes key messages and records in stream order, so every record's key is imported
 * before the record is appended. A record whose key message is gone from the stream (the key was
 * shredded after this restore read past it: only the tombstone is left, later in the stream) has its
 * key subject read at once.
 */
import { type ConsumerMessages, type JetStreamManager, type JsMsg, jetstream } from '@nats-io/jetstream'
import { isWalError, type KeyStoreEntry, type WalLogger } from '@waltz/core'
import { isReplicationError, ReplicationError } from './errors.js'
import { KeySubjects, lookupKey, parseKeyMessage, readStreamKeys } from './key-messages.js'
import { Replica } from './replica.js'
import type { RestoreOptions, RestoreResult } from './restore.js'
import { nextOnSubject, parseReplicatedMessage, type ReplicatedMessage, streamSeqFor } from './stream.js'
import { backoff, keyIdOf, sleep } from './util.js'
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
  private readonly keySubjects: KeySubjects
  /** Key store entries received before the replica exists (it is created at the first record). */
  private pendingKeys: KeyStoreEntry[] = []
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
  ) {
    this.keySubjects = new KeySubjects(options.subject)
  }

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
      // The key store as the stream holds it now (the key subjects come before the records they
      // seal, and a shred may have happened since an existing replica last read the stream).
      const { nc, jsm, stream } = this.options
      const keys = await readStreamKeys(jetstream(nc), jsm, stream, this.keySubjects, logger)
      this.pendingKeys = keys.map((k) => k.entry)
      if (first !== undefined && this.last !== undefined) {
        const replica = await this.openReplica(this.last.serializer, first.seq, this.last.sealed === true)
        await this.flush()
        this.startStreamSeq = await this.resumePoint(replica, first, this.last)
      }
      await this.readUntilDone()
      await this.keysSince()
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

  /** Opens the replica, a sealed copy when the stream's log is encrypted, and batches the keys received so far. */
  private async openReplica(serializer: string, firstSeq: number, sealed: boolean): Promise<Replica> {
    const { dir, walOptions } = this.options
    const replica = await Replica.open(
      dir,
      serializer,
      firstSeq,
      walOptions,
      sealed || this.pendingKeys.length > 0,
    )
    this.replica = replica
    for (const entry of this.pendingKeys) replica.addKey(entry)
    this.pendingKeys = []
    return replica
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

  /**
   * Starts a consumer at `startStreamSeq`. It reads every subject of the (dedicated) stream: records
   * and key messages must come in stream order, and nats-server 2.9 filters on one subject only.
   */
  private async consume(): Promise<ConsumerMessages> {
    const { nc, stream, signal, batchSize } = this.options
    const consumer = await jetstream(nc).consumers.get(stream, { opt_start_seq: this.startStreamSeq })
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
    if (m.subject !== this.options.subject) {
      this.startStreamSeq = m.seq + 1
      if (this.keySubjects.holds(m.subject)) await this.receiveKey(m)
      return this.done
    }
    const r = parseReplicatedMessage(m)
    this.startStreamSeq = r.streamSeq + 1
    const replica = this.replica ?? (await this.openReplica(r.serializer, r.seq, r.sealed === true))
    if (r.sealed === true && r.seq >= replica.next) await this.findKey(replica, r.payload)
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

  /**
   * A restore that stops at the stream's last record as of the call still takes the key messages
   * published since (a shred, a rotation while it ran): the replica's key store is as of its end.
   */
  private async keysSince(): Promise<void> {
    const { nc, jsm, stream, signal, logger, follow } = this.options
    const replica = this.replica
    if (follow || signal?.aborted || replica === undefined || !replica.sealed) return
    const keys = await readStreamKeys(
      jetstream(nc),
      jsm,
      stream,
      this.keySubjects,
      logger,
      this.startStreamSeq,
    )
    for (const { entry } of keys) replica.addKey(entry)
  }

  /** Batches a key store entry (a new key, a shred, a rotation) for the replica. */
  private async receiveKey(m: JsMsg): Promise<void> {
    const { entry } = parseKeyMessage(m, this.keySubjects)
    const replica = this.replica
    if (replica === undefined) {
      this.pendingKeys.push(entry)
      return
    }
    if (!replica.sealed) {
      throw ReplicationError.DIVERGED(
        `stream message ${m.seq} carries an encryption key; the replica in ${this.options.dir} is of a log that is not encrypted`,
        { streamSeq: m.seq },
      )
    }
    replica.addKey(entry)
    // A shred is applied as soon as the stream has nothing more right now.
    if (replica.batched >= this.options.batchSize || m.info.pending === 0) await this.flush()
  }

  /**
   * Makes sure the replica has the key of a sealed record: its key message came earlier in the
   * stream, unless the key was shredded after this restore read past that point (its message is
   * erased then, and its tombstone comes later): then the key subject is read now.
   */
  private async findKey(replica: Replica, payload: Uint8Array): Promise<void> {
    const keyId = keyIdOf(payload)
    if (keyId === undefined || replica.holdsKey(keyId)) return
    const { jsm, stream } = this.options
    const found = await lookupKey(jsm, stream, this.keySubjects, keyId)
    if (found === undefined) return // Replica.add reports the gap
    this.options.logger.info("a record's key message is gone (shredded since): its subject read", {
      keyId,
      found: found.entry.kind,
    })
    replica.addKey(found.entry)
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
      encrypted: replica?.sealed === true,
    }
  }
}
