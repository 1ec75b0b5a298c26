/**
 * The replica side: rebuilds a local WAL with the source's seqs and bytes from a stream, resuming an
 * existing replica, and optionally keeps following the stream.
 */
import { type ConsumerMessages, type JsMsg, jetstream, jetstreamManager } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/transport-node'
import { isWalError, silentLogger, Wal, type WalLogger, type WalOptions } from '@waltz/core'
import { isReplicationError, ReplicationError } from './errors.js'
import { replicaSerializer } from './serializer.js'
import {
  checkSubject,
  lastOnSubject,
  nextOnSubject,
  parseReplicatedMessage,
  type ReplicatedMessage,
  streamSeqFor,
} from './stream.js'
import { backoff, sleep } from './util.js'

/** Idle heartbeat interval asked of the stream consumer while following. */
const HEARTBEAT_MS = 1000
/** A consumer silent this long (no message, no heartbeat) is replaced by a new one. */
const STALL_MS = 4 * HEARTBEAT_MS

/** Options of {@link restoreFromJetStream}. */
export interface RestoreOptions {
  /** The NATS connection (unlimited reconnects recommended for `follow`). */
  nc: NatsConnection
  /** The stream a replicator publishes to. */
  stream: string
  /** The subject of the source WAL's records. */
  subject: string
  /** The replica's directory: new (or empty), or holding a replica restored earlier (it is resumed). */
  dir: string
  /**
   * Keep following the stream after catching up, until `signal` aborts. Default false: stop at the
   * stream's last record as of the call.
   */
  follow?: boolean
  /** Stops restoring (the records received so far are kept); required to end `follow`. */
  signal?: AbortSignal
  /** Called after each appended batch with the replica's last seq. */
  onProgress?: (lastSeq: number) => void
  /** Records per `appendBatch` at most. Default 1000. */
  batchSize?: number
  /** Options of the replica WAL (`sync`, `segmentSize`, …); `dir`, `serializer` and `firstSeq` are set here. */
  walOptions?: Omit<WalOptions, 'dir' | 'serializer' | 'firstSeq' | 'readOnly'>
  /** Where to report progress. Default: silent. */
  logger?: WalLogger
}

/** What {@link restoreFromJetStream} did. */
export interface RestoreResult {
  /** The replica's first stored seq (0 when there is no replica: the stream held nothing). */
  firstSeq: number
  /** The replica's last seq (0 when there is no replica). */
  lastSeq: number
  /** Records appended by this call. */
  restored: number
  /** The source serializer's name, under which the replica is stored (undefined with no replica). */
  serializer: string | undefined
}

/**
 * Builds (or brings up to date) a local WAL holding the stream's records with identical seqs and
 * bytes: a read replica, or a recovery on a new machine. A new replica starts at the stream's first
 * record (`firstSeq`); an existing one resumes after its last record, which must equal the stream's
 * record of that seq. Every seq is checked: a gap is an error, never skipped. The replica is stored
 * under the source serializer's name, so applications open it with their real serializer (read-only
 * while `follow` runs).
 *
 * @param options - see {@link RestoreOptions}
 * @returns the replica's range and the count restored
 * @throws ReplicationError `REPLICATION_GAP` (the stream lacks records the replica needs, or skips a
 *   seq), `REPLICATION_DIVERGED` (the replica is not a prefix of the stream), `REPLICATION_BAD_MESSAGE`,
 *   `REPLICATION_CLOSED` (the connection closed); `WalError` from the replica WAL
 * @example
 * ```ts
 * const { lastSeq } = await restoreFromJetStream({ nc, stream: 'ORDERS', subject: 'waltz.orders', dir: './replica' })
 * const replica = await Wal.open({ dir: './replica', serializer: mySerializer, readOnly: true })
 * ```
 */
export async function restoreFromJetStream(options: RestoreOptions): Promise<RestoreResult> {
  checkSubject(options.subject)
  const { nc, stream, subject, signal } = options
  const follow = options.follow === true
  const batchSize = options.batchSize ?? 1000
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
    throw new ReplicationError(
      'REPLICATION_INVALID_ARGUMENT',
      `batchSize must be a positive integer, got ${batchSize}`,
    )
  }
  const logger = options.logger ?? silentLogger
  const result: RestoreResult = { firstSeq: 0, lastSeq: 0, restored: 0, serializer: undefined }
  if (signal?.aborted) return result
  const jsm = await jetstreamManager(nc)
  const last = await lastOnSubject(jsm, stream, subject)
  const first = last === undefined ? undefined : await nextOnSubject(jsm, stream, subject, 1)
  if (first === undefined || last === undefined) {
    if (!follow) return result
  }

  let wal: Wal<{ type: string; time: number; data: Uint8Array }> | undefined
  let next = 0
  let startStreamSeq = 1
  const open = async (name: string, firstSeq: number): Promise<void> => {
    try {
      wal = await Wal.open({
        ...options.walOptions,
        dir: options.dir,
        serializer: replicaSerializer(name),
        firstSeq,
      })
    } catch (err) {
      if (isWalError(err, 'WAL_SERIALIZER_MISMATCH')) {
        throw new ReplicationError(
          'REPLICATION_DIVERGED',
          `${options.dir} holds a log of another serializer than the stream's '${name}'`,
          { cause: err },
        )
      }
      throw err
    }
    result.serializer = name
    next = wal.lastSeq + 1
  }

  let messages: ConsumerMessages | undefined
  let batch: { type: string; time: number; data: Uint8Array }[] = []
  /** Appends the records received so far (also before an error: the replica stays a valid prefix). */
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return
    const records = batch
    batch = []
    const appended = await wal!.appendBatch(records)
    if (appended !== next - 1) {
      throw new ReplicationError(
        'REPLICATION_DIVERGED',
        `the replica assigned seq ${appended} to the record of seq ${next - 1}`,
        { seq: next - 1 },
      )
    }
    result.restored += records.length
    options.onProgress?.(appended)
  }
  const done = () => signal?.aborted === true || (!follow && last !== undefined && next > last.seq)

  /** Reads the stream from `startStreamSeq` until `done()` or the consumer ends. */
  const consume = async (): Promise<void> => {
    const consumer = await jetstream(nc).consumers.get(stream, {
      filter_subjects: subject,
      opt_start_seq: startStreamSeq,
    })
    // Short pulls and heartbeats: a consumer lost in a cluster restart is noticed and recreated in
    // seconds (the client's defaults, 30 s pulls with 15 s heartbeats, take half a minute).
    const current = await consumer.consume({
      max_messages: Math.max(100, batchSize),
      expires: 5000,
      idle_heartbeat: HEARTBEAT_MS,
    })
    messages = current
    if (signal?.aborted) await current.close()
    // The client re-creates an ordered consumer on most faults, but after every server of a cluster
    // restarted it was seen to wait forever: no message, no heartbeat. Silence for a few heartbeat
    // intervals (not counting time spent storing what arrived) ends this read; the loop below then
    // starts a fresh consumer at `startStreamSeq`.
    let heardAt = performance.now()
    let busy = false
    void (async () => {
      for await (const status of current.status()) {
        if (status.type === 'heartbeat') heardAt = performance.now()
        else logger.debug('stream consumer status', { status })
      }
    })().catch(() => {})
    const watchdog = setInterval(() => {
      if (busy || performance.now() - heardAt < STALL_MS) return
      clearInterval(watchdog)
      logger.warn('the stream consumer fell silent; starting a new one', { next })
      current.stop()
    }, HEARTBEAT_MS)
    try {
      for await (const m of current) {
        busy = true
        try {
          if (await receive(m)) break
        } finally {
          busy = false
          heardAt = performance.now()
        }
      }
    } finally {
      clearInterval(watchdog)
    }
    await flush()
  }

  /** Stores one stream message in the replica (batched); returns whether restoring is done. */
  const receive = async (m: JsMsg): Promise<boolean> => {
    const r = parseReplicatedMessage(m)
    startStreamSeq = r.streamSeq + 1
    if (wal === undefined) await open(r.serializer, r.seq)
    if (r.seq < next) return false // at or before the replica's end: already stored
    if (r.seq > next) {
      throw new ReplicationError(
        'REPLICATION_GAP',
        `the stream skips from seq ${next - 1} to ${r.seq} (stream sequence ${r.streamSeq})`,
        { seq: next, streamSeq: r.streamSeq },
      )
    }
    if (r.serializer !== result.serializer) {
      throw new ReplicationError(
        'REPLICATION_DIVERGED',
        `seq ${r.seq} uses serializer '${r.serializer}', the replica '${result.serializer}'`,
        { seq: r.seq, streamSeq: r.streamSeq },
      )
    }
    batch.push({ type: '', time: 0, data: r.payload })
    next++
    if (done()) return true
    if (batch.length >= batchSize || m.info.pending === 0) await flush()
    return false
  }

  const onAbort = () => {
    void messages?.close()
  }
  signal?.addEventListener('abort', onAbort, { once: true })
  try {
    if (first !== undefined && last !== undefined) {
      await open(last.serializer, first.seq)
      startStreamSeq = await resumePoint(wal!, first, last)
    }
    // The client's ordered consumer rides out most faults itself; when it gives up (every server
    // restarted, the consumer lost), read on from the next stream sequence after a pause.
    let failures = 0
    while (!done()) {
      const before = next
      try {
        await consume()
      } catch (err) {
        if (isReplicationError(err) || isWalError(err)) throw err
        logger.warn('reading the stream failed; retrying', { next, error: err })
      } finally {
        await messages?.close()
        messages = undefined
      }
      if (done()) break
      if (nc.isClosed()) {
        throw new ReplicationError('REPLICATION_CLOSED', `the NATS connection closed at seq ${next - 1}`, {
          seq: next - 1,
        })
      }
      failures = next > before ? 1 : failures + 1
      await sleep(backoff(failures, 100, 2000), signal)
    }
    await flush()
    logger.info('restored', { dir: options.dir, restored: result.restored, lastSeq: next - 1 })
    return summary(wal, result)
  } catch (err) {
    await flush().catch(() => {})
    throw err
  } finally {
    signal?.removeEventListener('abort', onAbort)
    await wal?.close()
  }

  /**
   * Checks an existing replica against the stream and returns the stream sequence to read from.
   * The replica must end within the stream, on a record with the stream's bytes.
   */
  async function resumePoint(
    replica: NonNullable<typeof wal>,
    first: ReplicatedMessage,
    last: ReplicatedMessage,
  ): Promise<number> {
    if (replica.lastSeq > last.seq) {
      throw new ReplicationError(
        'REPLICATION_DIVERGED',
        `the replica in ${options.dir} ends at seq ${replica.lastSeq}, after the stream's last (${last.seq})`,
        { seq: replica.lastSeq },
      )
    }
    if (next < first.seq) {
      throw new ReplicationError(
        'REPLICATION_GAP',
        `the replica needs seq ${next} but the stream starts at ${first.seq} (removed by its retention?)`,
        { seq: next, streamSeq: first.streamSeq },
      )
    }
    if (replica.lastSeq >= first.seq && replica.lastSeq >= replica.firstSeq) {
      // The replica's last record must be the stream's record of that seq.
      const at =
        replica.lastSeq === last.seq
          ? last.streamSeq
          : await streamSeqFor(jsm, stream, subject, replica.lastSeq, first, last)
      const theirs = replica.lastSeq === last.seq ? last : await nextOnSubject(jsm, stream, subject, at)
      let ours: Uint8Array | undefined
      for await (const r of replica.records({ from: replica.lastSeq })) ours = r.data
      if (
        theirs === undefined ||
        theirs.seq !== replica.lastSeq ||
        ours === undefined ||
        !Buffer.from(ours).equals(theirs.payload)
      ) {
        throw new ReplicationError(
          'REPLICATION_DIVERGED',
          `seq ${replica.lastSeq} of the replica in ${options.dir} differs from the stream's`,
          { seq: replica.lastSeq, streamSeq: at },
        )
      }
      return at + 1
    }
    if (next > last.seq) return last.streamSeq + 1
    return streamSeqFor(jsm, stream, subject, next, first, last)
  }
}

function summary(
  wal: Wal<{ type: string; time: number; data: Uint8Array }> | undefined,
  result: RestoreResult,
): RestoreResult {
  if (wal !== undefined && wal.lastSeq >= wal.firstSeq) {
    result.firstSeq = wal.firstSeq
    result.lastSeq = wal.lastSeq
  }
  return result
}
