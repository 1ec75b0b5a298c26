/**
 * The replica side: rebuilds a local WAL with the source's records from a stream, resuming an
 * existing replica, and optionally keeps following the stream.
 */
import { jetstreamManager } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/transport-node'
import { silentLogger, type WalLogger, type WalOptions } from '@waltz/core'
import { ReplicationError } from './errors.js'
import { RestoreSession } from './restore-session.js'
import { checkSubject, lastOnSubject, nextOnSubject } from './stream.js'

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
  /** Records per appended batch (`appendRaw`) at most. Default 1000. */
  batchSize?: number
  /**
   * Options of the replica WAL (`sync`, `segmentSize`, …); `dir`, `serializer`, `firstSeq` and
   * `encryption` are set here (the replica of an encrypted log is a sealed copy: the restoring process
   * needs no master key).
   */
  walOptions?: Omit<WalOptions, 'dir' | 'serializer' | 'firstSeq' | 'encryption'>
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
  /**
   * Whether the replica is of an encrypted log: its records are sealed, its key store (`keys.wzk`)
   * holds the stream's sealed keys; read it with `Wal.openReader({ dir, encryption: { keyring } })`.
   */
  encrypted: boolean
}

/**
 * Builds (or brings up to date) a local WAL holding the stream's records exactly as the source stores
 * them (seq, type, time, key, headers and data bytes): a read replica, or a recovery on a new machine.
 * A new replica starts at the stream's first record (`firstSeq`); an existing one resumes after its
 * last record, which must equal the stream's record of that seq. Every seq is checked: a gap is an
 * error, never skipped. The replica is stored under the source serializer's name, so applications
 * open it with their real serializer (with `Wal.openReader` while `follow` runs).
 *
 * @param options - see {@link RestoreOptions}
 * @returns the replica's range and the count restored
 * @throws ReplicationError `REPLICATION_GAP` (the stream lacks records the replica needs, or skips a
 *   seq), `REPLICATION_DIVERGED` (the replica is not a prefix of the stream), `REPLICATION_BAD_MESSAGE`,
 *   `REPLICATION_CLOSED` (the connection closed); `WalError` from the replica WAL
 * @example
 * ```ts
 * const { lastSeq } = await restoreFromJetStream({ nc, stream: 'ORDERS', subject: 'waltz.orders', dir: './replica' })
 * const replica = await Wal.openReader({ dir: './replica', serializer: mySerializer })
 * ```
 */
export async function restoreFromJetStream(options: RestoreOptions): Promise<RestoreResult> {
  checkSubject(options.subject)
  const { nc, stream, subject, signal } = options
  const follow = options.follow === true
  const batchSize = options.batchSize ?? 1000
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
    throw ReplicationError.INVALID_ARGUMENT(`batchSize must be a positive integer, got ${batchSize}`)
  }
  const nothing: RestoreResult = {
    firstSeq: 0,
    lastSeq: 0,
    restored: 0,
    serializer: undefined,
    encrypted: false,
  }
  if (signal?.aborted) return nothing
  const jsm = await jetstreamManager(nc)
  const last = await lastOnSubject(jsm, stream, subject)
  const first = last === undefined ? undefined : await nextOnSubject(jsm, stream, subject, 1)
  // Without records and without `follow` there is nothing to do: no replica is created.
  if ((first === undefined || last === undefined) && !follow) return nothing
  const logger = options.logger ?? silentLogger
  const session = new RestoreSession({ ...options, jsm, follow, batchSize, logger }, last)
  return session.run(first)
}
