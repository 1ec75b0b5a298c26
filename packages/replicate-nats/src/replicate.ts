/**
 * The primary side: follows a WAL and publishes every stored record to a JetStream stream, pipelined,
 * each publish conditional on its predecessor so the stream never holds a gap or a duplicate. An
 * encrypted log's key store goes too, sealed, each record's key before the record (`key-sync.ts`).
 */
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/transport-node'
import { isWalError, type RecordShape, silentLogger, type WalLogger, type WalReader } from '@waltz/core'
import { isReplicationError, ReplicationError } from './errors.js'
import { KeySubjects } from './key-messages.js'
import { KeySync } from './key-sync.js'
import { Publisher, type PublisherEvents } from './publisher.js'
import { SourceLog } from './source.js'
import {
  checkSubject,
  countOnSubject,
  lastOnSubject,
  nextOnSubject,
  type ReplicatedMessage,
} from './stream.js'
import { backoff, sleep } from './util.js'
import { SeqWaiters } from './waiters.js'

/** Options of {@link replicateToJetStream}. */
export interface ReplicateOptions<Rec extends RecordShape = RecordShape> {
  /**
   * The source log: a `Wal` open for writing in this process, or a `WalReader` (`Wal.openReader`)
   * following another process's log.
   */
  wal: WalReader<Rec>
  /**
   * The NATS connection. Give it unlimited reconnects (`maxReconnectAttempts: -1`) so an outage
   * pauses replication rather than closing the connection, which stops it for good.
   */
  nc: NatsConnection
  /** The JetStream stream (see {@link ensureStream}); dedicated to this WAL. */
  stream: string
  /** The subject records are published on: a literal subject that the stream captures. */
  subject: string
  /**
   * A stable id of the source log, in message ids (`<walId>:<seq>`) and the `Waltz-Wal-Id` header:
   * printable ASCII, no spaces, at most 200 characters. Default: the subject (one subject per WAL).
   */
  walId?: string
  /** Publishes awaiting their acknowledgement at most. Default 512. */
  maxInFlight?: number
  /** How long to wait for a publish acknowledgement before treating JetStream as unavailable. Default 5000 ms. */
  publishTimeoutMs?: number
  /** First delay before retrying after a failure; doubles per failure up to `retryMaxMs`. Default 100 ms. */
  retryMinMs?: number
  /** Longest delay between retries. Default 5000 ms. */
  retryMaxMs?: number
  /**
   * An encrypted source: how often its key store is checked for shreds and master-key rotations to
   * publish (new keys go with the records that need them). Default 500 ms.
   */
  keysPollMs?: number
  /** Where to report pauses, resumptions and the fatal error. Default: silent. */
  logger?: WalLogger
}

/** What a {@link Replicator} is doing. */
export type ReplicatorState =
  /** Reading the stream's last record to find where to resume. */
  | 'starting'
  /** Publishing (or waiting for new records). */
  | 'replicating'
  /** JetStream is unreachable or failing: waiting to retry; the WAL keeps accepting appends. */
  | 'paused'
  /** Stopped by `stop()`, or the WAL was closed. */
  | 'stopped'
  /** Stopped by a fatal error (see `done`). */
  | 'failed'

/** Counters and gauges of a {@link Replicator}. */
export interface ReplicationMetrics {
  /** What the replicator is doing: starting, running, paused (backing off after a failure), stopped or failed. */
  state: ReplicatorState
  /** Highest WAL seq that the stream holds, with every seq before it (0 before the first is known). */
  replicatedSeq: number
  /** The WAL's last seq now. */
  lastSeq: number
  /** Records not replicated yet: `lastSeq - replicatedSeq`. */
  lag: number
  /** Highest lag seen when an acknowledgement arrived, since start. */
  maxLag: number
  /** Records JetStream stored (acknowledged as new). */
  published: number
  /** Records JetStream acknowledged as duplicates (already stored, within the duplicate window). */
  duplicates: number
  /** Publishes sent and not yet acknowledged. */
  inFlight: number
  /** Sessions restarted after a failure (each resumes from the stream's last record). */
  retries: number
  /** The last failure (transient ones included), if any. */
  lastError: Error | undefined
  /** Key store messages (an encrypted source's sealed keys, tombstones, headers) stored since start. */
  keyMessages: number
}

/** A running replication, from {@link replicateToJetStream}. */
export interface Replicator {
  /**
   * Settles when replication ends: resolves after `stop()` or when the WAL closes, rejects with the
   * fatal error (`REPLICATION_DIVERGED`, `REPLICATION_GAP`, `REPLICATION_CLOSED`, or a `WalError` such as
   * `WAL_CORRUPT`). Transient NATS failures never reject it: they pause and retry.
   */
  readonly done: Promise<void>
  /** A snapshot of the counters. */
  metrics(): ReplicationMetrics
  /**
   * Resolves once the stream holds every record up to `seq`.
   *
   * @throws ReplicationError `REPLICATION_CLOSED` if replication ends first; the signal's reason on abort
   */
  waitFor(seq: number, options?: { signal?: AbortSignal }): Promise<void>
  /**
   * Resolves once the stream holds the source's key store as it is at the call (an encrypted log):
   * after `await wal.shred(id)`, the shredded key's message is then gone from the stream, and after
   * `wal.rotateMasterKey()`, the KEK wrapped by the old master key. Resolves at once for a log that is
   * not encrypted, once a session has checked that.
   *
   * @throws ReplicationError `REPLICATION_CLOSED` if replication ends first; the signal's reason on abort
   */
  syncKeys(options?: { signal?: AbortSignal }): Promise<void>
  /** Stops tailing, waits for the publishes in flight to settle, and resolves. Idempotent. */
  stop(): Promise<void>
}

const DEFAULTS = {
  maxInFlight: 512,
  publishTimeoutMs: 5000,
  retryMinMs: 100,
  retryMaxMs: 5000,
  keysPollMs: 500,
}

/** The numeric options, checked, with their defaults filled in. */
type Config = typeof DEFAULTS

/**
 * Replicates a WAL to a JetStream stream: publishes every record (the stored data bytes, undecoded,
 * with seq, type, time, key, headers, serializer and source id as message headers; message id
 * `<walId>:<seq>`) in seq order with up to `maxInFlight` publishes in flight. On start and after every
 * failure it resumes right after the last record the stream holds for `subject`, checking that record
 * (envelope and data bytes) against the WAL. A JetStream outage pauses it (the WAL is untouched) until
 * publishing succeeds again.
 *
 * @param options - see {@link ReplicateOptions}
 * @returns the running replicator
 * @throws ReplicationError `REPLICATION_INVALID_ARGUMENT` for a bad option
 * @example
 * ```ts
 * const replicator = replicateToJetStream({ wal, nc, stream: 'ORDERS', subject: 'waltz.orders' })
 * await replicator.waitFor(wal.lastSeq)
 * console.log(replicator.metrics().lag)
 * await replicator.stop()
 * ```
 */
export function replicateToJetStream<Rec extends RecordShape>(options: ReplicateOptions<Rec>): Replicator {
  return new ReplicatorImpl(options as unknown as ReplicateOptions)
}

/**
 * Runs sessions until stopped: each resumes after the stream's last record and publishes from there
 * through a {@link Publisher}; a failed session pauses, backs off and starts another.
 */
class ReplicatorImpl implements Replicator {
  readonly done: Promise<void>
  private readonly wal: WalReader<RecordShape>
  private readonly nc: NatsConnection
  private readonly stream: string
  private readonly subject: string
  private readonly config: Config
  private readonly logger: WalLogger
  private readonly source: SourceLog
  private readonly stopController = new AbortController()
  private readonly waiters = new SeqWaiters()
  /** `syncKeys` calls, by the request number each waits for. */
  private readonly keyWaiters = new SeqWaiters()
  private keysRequested = 0
  private keysDone = 0
  private keysPolling = false
  private keys: KeySync | undefined
  private readonly walId: string
  private readonly events: PublisherEvents = {
    acked: (duplicate) => this.count(duplicate),
    advanced: (seq) => this.advance(seq),
  }
  private js: JetStreamClient | undefined
  private jsm: JetStreamManager | undefined
  private publisher: Publisher | undefined
  private state: ReplicatorState = 'starting'
  private replicatedSeq = 0
  private maxLag = 0
  private published = 0
  private duplicates = 0
  private retries = 0
  private lastError: Error | undefined

  constructor(options: ReplicateOptions) {
    const { walId, config } = checkOptions(options)
    this.wal = options.wal
    this.nc = options.nc
    this.stream = options.stream
    this.subject = options.subject
    this.config = config
    this.logger = options.logger ?? silentLogger
    this.source = new SourceLog(options.wal, walId, config.publishTimeoutMs)
    this.walId = walId
    this.done = this.run().then(
      () => this.finish('stopped', undefined),
      (err: unknown) => {
        this.finish('failed', err)
        throw err
      },
    )
    this.done.catch(() => {}) // the caller may never look: no unhandled rejection
  }

  metrics(): ReplicationMetrics {
    const lastSeq = this.wal.lastSeq
    return {
      state: this.state,
      replicatedSeq: this.replicatedSeq,
      lastSeq,
      lag: Math.max(0, lastSeq - this.replicatedSeq),
      maxLag: this.maxLag,
      published: this.published,
      duplicates: this.duplicates,
      inFlight: this.publisher?.inFlight ?? 0,
      retries: this.retries,
      lastError: this.lastError,
      keyMessages: this.keys?.published ?? 0,
    }
  }

  syncKeys(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.state === 'stopped' || this.state === 'failed') return Promise.reject(this.endedError())
    const { signal } = options
    if (signal?.aborted) return Promise.reject(signal.reason)
    const request = ++this.keysRequested
    const waiting = this.keyWaiters.wait(request, signal)
    if (this.publisher !== undefined) void this.pollKeys(this.publisher)
    return waiting
  }

  waitFor(seq: number, options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.replicatedSeq >= seq) return Promise.resolve()
    if (this.state === 'stopped' || this.state === 'failed') return Promise.reject(this.endedError())
    const { signal } = options
    if (signal?.aborted) return Promise.reject(signal.reason)
    return this.waiters.wait(seq, signal)
  }

  async stop(): Promise<void> {
    this.stopController.abort()
    await this.done.catch(() => {})
  }

  private get stopping(): boolean {
    return this.stopController.signal.aborted
  }

  private endedError(): ReplicationError {
    return ReplicationError.CLOSED(`replication ${this.state} at seq ${this.replicatedSeq}`, {
      seq: this.replicatedSeq,
      cause: this.state === 'failed' ? this.lastError : undefined,
    })
  }

  private finish(state: ReplicatorState, err: unknown): void {
    this.state = state
    if (err !== undefined) {
      this.lastError = err instanceof Error ? err : new Error(String(err))
      this.logger.error('replication failed', { error: this.lastError })
    }
    this.waiters.rejectAll(() => this.endedError())
    this.keyWaiters.rejectAll(() => this.endedError())
  }

  /**
   * Publishes what changed in the source's key store (a shred, a rotation), or everything when
   * `syncKeys` asked; a failure fails the session (it resumes from the stream's state).
   */
  private async pollKeys(publisher: Publisher): Promise<void> {
    const keys = this.keys
    if (keys === undefined || this.keysPolling || publisher.failed || publisher.signal.aborted) return
    this.keysPolling = true
    try {
      const request = this.keysRequested
      if (request === this.keysDone && !(await keys.changed())) return
      await (await keys.sync(publisher)).stored
      this.keysSynced(request)
    } catch (err) {
      publisher.fail(err)
    } finally {
      this.keysPolling = false
    }
  }

  /** The stream holds the key store as it was when `syncKeys` request `request` was made. */
  private keysSynced(request: number): void {
    if (request <= this.keysDone) return
    this.keysDone = request
    this.keyWaiters.release(request)
  }

  private advance(seq: number): void {
    this.replicatedSeq = seq
    const lag = this.wal.lastSeq - seq
    if (lag > this.maxLag) this.maxLag = lag
    this.waiters.release(seq)
  }

  private count(duplicate: boolean): void {
    if (duplicate) this.duplicates++
    else this.published++
  }

  /** Sessions until stopped, the WAL closes, or a fatal error; transient failures back off and retry. */
  private async run(): Promise<void> {
    let failures = 0
    while (!this.stopping) {
      const before = this.replicatedSeq
      try {
        await this.session()
        return
      } catch (err) {
        if (this.stopping || isWalError(err, 'WAL_CLOSED')) return
        this.throwIfFatal(err)
        this.retries++
        failures = this.replicatedSeq > before ? 1 : failures + 1
        this.lastError = err instanceof Error ? err : new Error(String(err))
        if (this.state !== 'paused') {
          this.logger.warn('replication paused', { replicatedSeq: this.replicatedSeq, error: this.lastError })
        }
        this.state = 'paused'
        await sleep(
          backoff(failures, this.config.retryMinMs, this.config.retryMaxMs),
          this.stopController.signal,
        )
      }
    }
  }

  /**
   * Rethrows a session's error when retrying cannot cure it: the stream or the WAL is not what
   * replication needs, or the connection is closed for good.
   */
  private throwIfFatal(err: unknown): void {
    if (isWalError(err, 'WAL_TRUNCATED')) {
      throw ReplicationError.GAP('records were truncated before they were replicated', {
        seq: this.replicatedSeq + 1,
        cause: err,
      })
    }
    if (isReplicationError(err) || isWalError(err)) throw err
    if (this.nc.isClosed()) {
      throw ReplicationError.CLOSED('the NATS connection was closed', { cause: err })
    }
  }

  /**
   * One session: find the stream's last record, check it against the WAL, then publish from the next
   * seq until stopped or a publish fails. Resolves when the tail ends (stop, WAL closed).
   */
  private async session(): Promise<void> {
    if (this.nc.isClosed()) throw ReplicationError.CLOSED('the NATS connection is closed')
    this.jsm ??= await jetstreamManager(this.nc, { timeout: this.config.publishTimeoutMs })
    this.js ??= jetstream(this.nc, { timeout: this.config.publishTimeoutMs })
    this.keys ??= new KeySync(this.wal, {
      js: this.js,
      jsm: this.jsm,
      stream: this.stream,
      subjects: new KeySubjects(this.subject),
      walIdHeader: this.source.headerWalId,
      walId: this.walId,
      publishTimeoutMs: this.config.publishTimeoutMs,
      logger: this.logger,
    })
    const last = await lastOnSubject(this.jsm, this.stream, this.subject)
    const from = last === undefined ? this.wal.firstSeq : await this.checkResume(last)
    // Stopped while starting: the abort listener below would never fire.
    if (this.stopping) return
    this.advance(from - 1)
    const publisher = new Publisher(this.js, this.subject, this.source, this.events)
    // The stream's key store is the truth after a failure: read it, then publish what it lacks
    // (alone: no record is in flight yet).
    const keys = this.keys
    await keys.load()
    const request = this.keysRequested
    await (await keys.sync(publisher)).stored
    this.keysSynced(request)
    if (this.state !== 'replicating') {
      this.logger.info('replicating', { stream: this.stream, subject: this.subject, from })
      this.state = 'replicating'
    }
    this.publisher = publisher
    const stop = () => publisher.abort()
    this.stopController.signal.addEventListener('abort', stop, { once: true })
    const poll = setInterval(() => void this.pollKeys(publisher), this.config.keysPollMs)
    try {
      await this.publishFrom(from, last, publisher, keys)
    } finally {
      clearInterval(poll)
      this.stopController.signal.removeEventListener('abort', stop)
      await publisher.close()
    }
    publisher.throwIfFailed()
  }

  /** Feeds the WAL's records from `from` on to `publisher` until its signal aborts or a publish fails. */
  private async publishFrom(
    from: number,
    last: ReplicatedMessage | undefined,
    publisher: Publisher,
    keys: KeySync,
  ): Promise<void> {
    let first = true
    for await (const record of this.source.tail(from, publisher.signal)) {
      if (!keys.covers(record)) {
        // The record's key was made durable before the record was written: a sync that reads the
        // key store now finds it, and its message goes before the record.
        await keys.sync(publisher)
        if (!keys.covers(record)) {
          throw ReplicationError.GAP(
            `seq ${record.seq} is sealed with a key that the key store of ${this.wal.dir} does not hold`,
            { seq: record.seq },
          )
        }
      }
      if (first) {
        first = false
        await keys.exclusive(() => publisher.publishFirst(record, last?.streamSeq))
        continue
      }
      publisher.push(record)
      while (publisher.full(this.config.maxInFlight)) await publisher.settled()
      if (publisher.failed) break
    }
  }

  /**
   * Checks the stream's last record against the WAL and returns the seq to publish next.
   *
   * @throws ReplicationError `REPLICATION_DIVERGED`, `REPLICATION_GAP`
   */
  private async checkResume(last: ReplicatedMessage): Promise<number> {
    const wal = this.wal
    const diverged = (why: string) =>
      ReplicationError.DIVERGED(
        `stream ${this.stream} (${this.subject}) is not a copy of ${wal.dir}: ${why}`,
        { seq: last.seq, streamSeq: last.streamSeq },
      )
    if (last.serializer !== this.source.serializer) {
      throw diverged(`its records use serializer '${last.serializer}', the WAL '${this.source.serializer}'`)
    }
    if (last.seq > wal.lastSeq) {
      throw diverged(`it holds seq ${last.seq}, the WAL ends at ${wal.lastSeq} (a lost or replaced log?)`)
    }
    if (last.seq + 1 < wal.firstSeq) {
      throw ReplicationError.GAP(
        `the stream ends at seq ${last.seq} but the WAL starts at ${wal.firstSeq}: seqs ${last.seq + 1} to ${wal.firstSeq - 1} were truncated before they were replicated`,
        { seq: last.seq + 1 },
      )
    }
    if (last.seq >= wal.firstSeq && (await this.source.storesOther(last))) {
      throw diverged(`seq ${last.seq} is another record in the stream than in the WAL`)
    }
    await this.checkContiguous(last)
    return last.seq + 1
  }

  /**
   * Checks that the subject holds every seq from its first message to `last`, by count: resuming
   * after the last message trusts everything before it, so a hole (a message deleted by hand, or lost
   * by the server across a restart of the whole cluster) would otherwise never be filled, while the
   * replicator reported no lag.
   *
   * @throws ReplicationError `REPLICATION_GAP`
   */
  private async checkContiguous(last: ReplicatedMessage): Promise<void> {
    const jsm = this.jsm!
    // Count first: a message the stream's own limits remove in between then moves `first` on and
    // makes the expected count smaller, never a false gap.
    const count = await countOnSubject(jsm, this.stream, this.subject)
    const first = await nextOnSubject(jsm, this.stream, this.subject, 1)
    if (first === undefined || first.streamSeq > last.streamSeq) return
    const expected = last.seq - first.seq + 1
    if (count < expected) {
      throw ReplicationError.GAP(
        `stream ${this.stream} (${this.subject}) holds ${count} messages from seq ${first.seq} to ${last.seq}, not ${expected}: ` +
          `${expected - count} are missing, and replication cannot fill a hole before the last message (recreate the stream and replicate again)`,
        { seq: first.seq, streamSeq: first.streamSeq },
      )
    }
  }
}

/**
 * Checks the options that need no connection and fills in the defaults.
 *
 * @throws ReplicationError `REPLICATION_INVALID_ARGUMENT`
 */
function checkOptions(options: ReplicateOptions): { walId: string; config: Config } {
  if (options.wal === undefined || options.nc === undefined) {
    throw ReplicationError.INVALID_ARGUMENT('wal and nc are required')
  }
  if (typeof options.stream !== 'string' || options.stream === '') {
    throw ReplicationError.INVALID_ARGUMENT('stream must be a non-empty string')
  }
  checkSubject(options.subject)
  const walId = options.walId ?? options.subject
  if (!/^[\x21-\x7e]{1,200}$/.test(walId)) {
    throw ReplicationError.INVALID_ARGUMENT(
      `walId must be 1 to 200 printable ASCII characters without spaces, got '${walId}'`,
    )
  }
  const config = {
    maxInFlight: positiveInt('maxInFlight', options.maxInFlight ?? DEFAULTS.maxInFlight),
    publishTimeoutMs: positiveInt('publishTimeoutMs', options.publishTimeoutMs ?? DEFAULTS.publishTimeoutMs),
    retryMinMs: positiveInt('retryMinMs', options.retryMinMs ?? DEFAULTS.retryMinMs),
    retryMaxMs: positiveInt('retryMaxMs', options.retryMaxMs ?? DEFAULTS.retryMaxMs),
    keysPollMs: positiveInt('keysPollMs', options.keysPollMs ?? DEFAULTS.keysPollMs),
  }
  return { walId, config }
}

function positiveInt(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw ReplicationError.INVALID_ARGUMENT(`${name} must be a positive integer, got ${value}`)
  }
  return value
}
