/**
 * The publishing side of an encrypted log's key store: keeps the stream's key subjects (see
 * `key-messages.ts`) equal to the source's key store. A record's data key is published before the
 * record (chained right before it when a session's chain has begun, else alone and acknowledged
 * first), so a replica never receives a record whose key the stream does not hold; shreds and
 * master-key rotations are published when the source's store changes (polled), and once a tombstone
 * (a new header) is stored, the shredded key's message (the old header) is erased from the stream.
 */
import { createHash } from 'node:crypto'
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream'
import {
  encodeKeyStoreEntry,
  type KeyStoreEntry,
  type RawRecord,
  type RecordShape,
  type WalLogger,
  type WalReader,
} from '@waltz/core'
import { ReplicationError } from './errors.js'
import { eraseBefore, type KeySubjects, keyMessage, readStreamKeys } from './key-messages.js'
import type { ChainedMessage, Publisher } from './publisher.js'
import { subjectMatches } from './stream.js'
import { keyIdOf } from './util.js'

/** What one sync sent. (An object: a promise returned from an async function would be awaited.) */
export interface Sent {
  /** Settles once every message sent is stored (rejects when a publish failed). */
  readonly stored: Promise<void>
}

const NOTHING_SENT: Sent = { stored: Promise.resolve() }

/** What a {@link KeySync} publishes to and reads from. */
export interface KeySyncTarget {
  readonly js: JetStreamClient
  readonly jsm: JetStreamManager
  readonly stream: string
  readonly subjects: KeySubjects
  /** The source log's id, escaped for a header. */
  readonly walIdHeader: string
  /** Its plain form, in key message ids. */
  readonly walId: string
  readonly publishTimeoutMs: number
  readonly logger: WalLogger
}

/** Keeps one source's key store on the stream for the sessions of one replicator. */
export class KeySync {
  /** What the stream holds (or is being sent) per key id: the sealed key, or null for a tombstone. */
  private readonly onStream = new Map<string, Buffer | null>()
  /** The header's bytes on the stream. */
  private header: Buffer | undefined
  /** The source key store's version the stream was last brought up to. */
  private version: string | undefined
  /** Whether the ids the stream holds were checked against the source since {@link load}. */
  private checked = false
  private syncing: Promise<Sent> | undefined
  /** Serializes publishes outside the chain with the session's first record (see {@link exclusive}). */
  private turn: Promise<unknown> = Promise.resolve()
  /** Key messages stored. */
  published = 0

  constructor(
    private readonly wal: WalReader<RecordShape>,
    private readonly target: KeySyncTarget,
  ) {}

  /**
   * Reads what the stream holds (a session's start: the stream is the truth after a failure), and
   * erases what a session that stopped early left: a subject's messages before its latest (a data key
   * before its tombstone, an old header). Checks that a stream for an encrypted source captures the
   * key subjects and allows deletes.
   *
   * @throws ReplicationError `REPLICATION_INVALID_ARGUMENT` (a stream that cannot carry the keys),
   *   `REPLICATION_BAD_MESSAGE`; NATS errors
   */
  async load(): Promise<void> {
    const { js, jsm, stream, subjects, logger } = this.target
    this.onStream.clear()
    this.header = undefined
    this.version = undefined
    this.checked = false
    if ((await this.wal.keyStoreVersion()) !== undefined) {
      const { config } = await jsm.streams.info(stream)
      const captures = (config.subjects ?? []).some((p) => subjectMatches(p, subjects.kek))
      if (!captures || config.deny_delete === true) {
        throw ReplicationError.INVALID_ARGUMENT(
          `stream ${stream} cannot carry the keys of the encrypted log ${this.wal.dir}: it must capture ${subjects.all} and allow deletes (ensureStream makes it so)`,
        )
      }
    }
    const latest = new Map<string, number>()
    let stale = false
    for (const { entry, subject, streamSeq } of await readStreamKeys(js, jsm, stream, subjects, logger)) {
      this.noteSent(entry)
      stale ||= latest.has(subject)
      latest.set(subject, streamSeq)
    }
    if (!stale) return
    // Rare (a stop between a tombstone and its erasure): one pass over the subjects seen twice.
    const seen = new Map<string, number>()
    for (const { subject } of await readStreamKeys(js, jsm, stream, subjects, logger)) {
      seen.set(subject, (seen.get(subject) ?? 0) + 1)
      if (seen.get(subject) === 2) await eraseBefore(jsm, stream, subject, latest.get(subject)!)
    }
  }

  /** Whether the stream holds (or is being sent) the data key `record` is sealed with; an unsealed record needs none. */
  covers(record: RawRecord): boolean {
    if (record.encrypted !== true) return true
    const keyId = keyIdOf(record.data)
    return keyId !== undefined && this.onStream.has(keyId)
  }

  /** Whether the source's key store changed since the stream was last brought up to it. */
  async changed(): Promise<boolean> {
    return (await this.wal.keyStoreVersion()) !== this.version
  }

  /**
   * Runs `work` alone among the publishes outside the chain: a message published alone after the
   * session's first record would change the stream's last message id under the chain.
   */
  exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = this.turn.then(work, work)
    this.turn = run.catch(() => {})
    return run
  }

  /**
   * Brings the stream up to the source's key store as read now (a sync under way is waited for
   * first, so the store is read after this call). Messages join `publisher`'s chain when it has begun
   * (this resolves once they are queued), else they are published alone and acknowledged first.
   *
   * @returns what this sync sent: `stored` settles once every message of it is stored
   * @throws ReplicationError `REPLICATION_DIVERGED` (the stream holds another log's keys)
   */
  async sync(publisher: Publisher): Promise<Sent> {
    await this.syncing?.catch(() => {})
    this.syncing ??= this.run(publisher).finally(() => {
      this.syncing = undefined
    })
    return this.syncing
  }

  private async run(publisher: Publisher): Promise<Sent> {
    // Only what was added since, when the source can tell (a writer in this process): a log that
    // makes a key per stream makes them all the time.
    const store = await this.wal.keyStore(this.version)
    if (store === undefined) {
      if (this.header !== undefined) {
        throw this.diverged('the stream holds the keys of an encrypted log, the source is not encrypted')
      }
      return NOTHING_SENT
    }
    const missing = this.missing(store.entries)
    const sent = missing.length === 0 ? NOTHING_SENT : await this.publish(missing, publisher)
    this.version = store.version
    return sent
  }

  /**
   * The entries the stream lacks, the header first.
   *
   * @throws ReplicationError `REPLICATION_DIVERGED`
   */
  private missing(entries: readonly KeyStoreEntry[]): KeyStoreEntry[] {
    const out: KeyStoreEntry[] = []
    for (const e of entries) {
      if (e.kind === 'header') {
        if (!this.header?.equals(encodeKeyStoreEntry(e))) out.push(e)
        continue
      }
      const there = this.onStream.get(e.keyId)
      if (e.kind === 'shredded') {
        if (there !== null) out.push(e)
      } else if (there === undefined) {
        out.push(e)
      } else if (there === null) {
        throw this.diverged(`the stream says key '${e.keyId}' was shredded; the source holds it`)
      } else if (!there.equals(e.wrapped)) {
        throw this.diverged(`the stream holds another key for '${e.keyId}'`)
      }
    }
    if (!this.checked) {
      const ids = new Set(entries.flatMap((e) => (e.kind === 'header' ? [] : [e.keyId])))
      for (const keyId of this.onStream.keys()) {
        if (!ids.has(keyId)) throw this.diverged(`the stream holds a key '${keyId}' the source never had`)
      }
      this.checked = true
    }
    return out
  }

  /**
   * Sends `entries` (see {@link sync}). A tombstone or a header, once stored, has the earlier
   * messages of its subject erased; `stored` includes that.
   */
  private async publish(entries: readonly KeyStoreEntry[], publisher: Publisher): Promise<Sent> {
    const messages = entries.map((e) => this.message(e))
    const chain = (): Sent => {
      const stored = Promise.all(
        entries.map((e, i) =>
          new Promise<number>((resolve, reject) => {
            messages[i]!.settled = (err, seq) => (err === undefined ? resolve(seq!) : reject(err))
            publisher.pushMessage(messages[i]!)
          }).then((seq) => this.stored(e, seq)),
        ),
      ).then(() => {})
      stored.catch(() => {}) // the publisher reports the failure; this promise is for waiters
      for (const e of entries) this.noteSent(e)
      return { stored }
    }
    if (publisher.chained) return chain()
    return this.exclusive(async () => {
      if (publisher.chained) return chain()
      // Outside the chain: the header first (a replica reading the stream from its start meets it
      // before any key), then the keys together.
      const alone = async (i: number) =>
        this.stored(entries[i]!, (await publisher.publishAlone(messages[i]!)).seq)
      await alone(0)
      for (let i = 1; i < messages.length; i += 256) {
        await Promise.all(messages.slice(i, i + 256).map((_, j) => alone(i + j)))
      }
      for (const e of entries) this.noteSent(e)
      return NOTHING_SENT
    })
  }

  /** `entry`'s message is stored at `streamSeq`: a tombstone or a header has its subject's earlier messages erased. */
  private async stored(entry: KeyStoreEntry, streamSeq: number): Promise<void> {
    this.published++
    const { jsm, stream, subjects } = this.target
    if (subjects.replaces(entry)) await eraseBefore(jsm, stream, subjects.of(entry), streamSeq)
  }

  /** The message carrying `entry`, with an id of its content (a re-sent copy is dropped as a duplicate). */
  private message(entry: KeyStoreEntry): ChainedMessage {
    const { subjects, walIdHeader, walId, publishTimeoutMs } = this.target
    const m = keyMessage(entry, subjects, walIdHeader, publishTimeoutMs)
    const digest = createHash('sha256').update(m.subject).update(m.payload).digest('hex').slice(0, 32)
    return { ...m, options: { ...m.options, msgID: `${walId}:k:${digest}` }, seq: undefined }
  }

  /** Records that the stream holds `entry` (or is being sent it). */
  private noteSent(entry: KeyStoreEntry): void {
    if (entry.kind === 'header') this.header = Buffer.from(encodeKeyStoreEntry(entry))
    else if (entry.kind === 'shredded') this.onStream.set(entry.keyId, null)
    else if (this.onStream.get(entry.keyId) !== null)
      this.onStream.set(entry.keyId, Buffer.from(entry.wrapped))
  }

  private diverged(why: string): ReplicationError {
    return ReplicationError.DIVERGED(`stream ${this.target.stream} is not a copy of ${this.wal.dir}: ${why}`)
  }
}
