/**
 * The key store of an encrypted log on the stream: one message per key store entry, in its sealed
 * form (core's `keys.wzk` entry bytes: a data key sealed by the KEK, the KEK wrapped by the master
 * key; never a plaintext key), each on a subject of its own under `<subject>.wzk.`:
 *
 * ```
 * <subject>.wzk.kek            the header: the KEK wrapped by the master key
 * <subject>.wzk.key.<sha256>   a data key, or once shredded the tombstone of its id (sha256: of the
 *                              key id's UTF-8, lowercase hex)
 * ```
 *
 * Once a tombstone or a new header is stored, the earlier messages of its subject are erased
 * (`STREAM.MSG.DELETE` with `no_erase: false`: overwritten, then removed): the shredded data key's
 * message, the KEK wrapped by the old master key. (Not `Nats-Rollup`: in nats-server 2.9 a rollup's
 * purge moves consumers that lag behind past messages they have not read yet.) The latest message of
 * each subject is the key store; a replicator that stopped between the two steps erases the rest at
 * its next start.
 */
import { createHash } from 'node:crypto'
import {
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  type JetStreamPublishOptions,
  type StoredMsg,
} from '@nats-io/jetstream'
import { headers, type MsgHdrs } from '@nats-io/transport-node'
import { decodeKeyStoreEntry, encodeKeyStoreEntry, type KeyStoreEntry, type WalLogger } from '@waltz/core'
import { ReplicationError } from './errors.js'
import type { MessageLike } from './stream.js'
import { ConsumerWatchdog, HEARTBEAT_MS } from './watchdog.js'

/** The version of the key message layout, in `Waltz-Keys`. */
export const KEY_MESSAGE_FORMAT = '1'

/** Header names of a key message (the body is the entry's bytes). */
export const KEY_HEADER = Object.freeze({
  /** The key message layout's version, {@link KEY_MESSAGE_FORMAT}. */
  format: 'Waltz-Keys',
  /** The id of the source log (escaped, as on record messages). */
  walId: 'Waltz-Wal-Id',
} as const)

/** The subjects of a log's key store, beside its records' `subject`. */
export class KeySubjects {
  /** Every key subject: `<subject>.wzk.>`. */
  readonly all: string
  /** The header's: `<subject>.wzk.kek`. */
  readonly kek: string
  private readonly keyPrefix: string

  /** @param subject - the records' subject */
  constructor(subject: string) {
    this.all = `${subject}.wzk.>`
    this.kek = `${subject}.wzk.kek`
    this.keyPrefix = `${subject}.wzk.key.`
  }

  /** The subject of key id `keyId`'s data key (and of its tombstone once shredded). */
  key(keyId: string): string {
    return this.keyPrefix + createHash('sha256').update(keyId, 'utf8').digest('hex')
  }

  /** The subject an entry travels on. */
  of(entry: KeyStoreEntry): string {
    return entry.kind === 'header' ? this.kek : this.key(entry.keyId)
  }

  /** Whether messages of `entry`'s kind replace their subject's earlier ones (a tombstone, a header). */
  replaces(entry: KeyStoreEntry): boolean {
    return entry.kind !== 'key'
  }

  /** Whether `subject` is one of these subjects (a key message of this log). */
  holds(subject: string): boolean {
    return subject === this.kek || subject.startsWith(this.keyPrefix)
  }
}

/** A key message ready for `js.publish`. */
export interface OutgoingKeyMessage {
  subject: string
  payload: Uint8Array
  options: Partial<JetStreamPublishOptions>
}

/**
 * The message carrying `entry`: its bytes, on its subject.
 *
 * @param walIdHeader - the source log's id, escaped
 */
export function keyMessage(
  entry: KeyStoreEntry,
  subjects: KeySubjects,
  walIdHeader: string,
  timeout: number,
): OutgoingKeyMessage {
  const h = headers()
  h.set(KEY_HEADER.format, KEY_MESSAGE_FORMAT)
  h.set(KEY_HEADER.walId, walIdHeader)
  return {
    subject: subjects.of(entry),
    payload: encodeKeyStoreEntry(entry),
    options: { headers: h, timeout },
  }
}

/** A key message read back. */
export interface ReceivedKeyEntry {
  /** The entry it carries. */
  entry: KeyStoreEntry
  /** Its subject. */
  subject: string
  /** Its stream sequence. */
  streamSeq: number
}

/**
 * Reads a key message: its entry, checked against the subject it came on (the header on the `kek`
 * subject, a key or tombstone on the subject of its own id).
 *
 * @throws ReplicationError `REPLICATION_BAD_MESSAGE`
 */
export function parseKeyMessage(
  msg: MessageLike & { subject: string },
  subjects: KeySubjects,
): ReceivedKeyEntry {
  const bad = (why: string, cause?: unknown) =>
    ReplicationError.BAD_MESSAGE(`stream message ${msg.seq} on ${msg.subject}: ${why}`, {
      streamSeq: msg.seq,
      cause,
    })
  const h: MsgHdrs | undefined = msg.headers ?? msg.header
  const format = h?.get(KEY_HEADER.format) ?? ''
  if (format !== KEY_MESSAGE_FORMAT) throw bad(`${KEY_HEADER.format} '${format}', not ${KEY_MESSAGE_FORMAT}`)
  let entry: KeyStoreEntry
  try {
    entry = decodeKeyStoreEntry(msg.data, `stream message ${msg.seq}`)
  } catch (err) {
    throw bad('its body is not one intact key store entry', err)
  }
  if (subjects.of(entry) !== msg.subject) throw bad(`a ${entry.kind} entry of another subject`)
  return { entry, subject: msg.subject, streamSeq: msg.seq }
}

/**
 * Every key message the stream holds (from stream sequence `from` on), in stream order: applied in
 * order, they give the key store (a subject's latest message wins; earlier ones are there only until
 * they are erased). Empty when the stream holds no key message.
 *
 * @throws ReplicationError `REPLICATION_BAD_MESSAGE`; an Error when the consumer ended or fell silent
 *   before the last key message; NATS errors as thrown by the client
 */
export async function readStreamKeys(
  js: JetStreamClient,
  jsm: JetStreamManager,
  stream: string,
  subjects: KeySubjects,
  logger: WalLogger,
  from = 1,
): Promise<ReceivedKeyEntry[]> {
  // The header goes first of all key messages: without it there is none.
  const kek: StoredMsg | null = await jsm.streams.getMessage(stream, { last_by_subj: subjects.kek })
  if (kek === null) return []
  const last: StoredMsg | null = await jsm.streams.getMessage(stream, { last_by_subj: subjects.all })
  if (last === null || last.seq < from) return []
  const out: ReceivedKeyEntry[] = []
  const consumer = await js.consumers.get(stream, { filter_subjects: subjects.all, opt_start_seq: from })
  const messages = await consumer.consume({ max_messages: 1000, expires: 5000, idle_heartbeat: HEARTBEAT_MS })
  const watchdog = new ConsumerWatchdog(messages, logger, () => messages.stop())
  let whole = false
  try {
    for await (const m of messages) {
      watchdog.stored()
      out.push(parseKeyMessage(m, subjects))
      if (m.info.pending === 0) {
        whole = true
        break
      }
    }
  } finally {
    watchdog.stop()
    await messages.close()
  }
  if (!whole) throw new Error(`reading the key subjects of stream ${stream} ended early`)
  return out
}

/**
 * The latest message of `keyId`'s subject: its data key, or its tombstone.
 *
 * @returns undefined when the stream holds none
 * @throws ReplicationError `REPLICATION_BAD_MESSAGE`; NATS errors
 */
export async function lookupKey(
  jsm: JetStreamManager,
  stream: string,
  subjects: KeySubjects,
  keyId: string,
): Promise<ReceivedKeyEntry | undefined> {
  const m = await jsm.streams.getMessage(stream, { last_by_subj: subjects.key(keyId) })
  return m === null ? undefined : parseKeyMessage(m, subjects)
}

/**
 * Erases the messages of `subject` before stream sequence `keep` (the subject's latest, which stays):
 * overwritten, then removed.
 *
 * @returns how many were erased
 * @throws NATS errors
 */
export async function eraseBefore(
  jsm: JetStreamManager,
  stream: string,
  subject: string,
  keep: number,
): Promise<number> {
  let erased = 0
  for (;;) {
    const m = await jsm.streams.getMessage(stream, { seq: 1, next_by_subj: subject } as never)
    if (m === null || m.seq >= keep) return erased
    try {
      await jsm.streams.deleteMessage(stream, m.seq, true)
    } catch (err) {
      // Erased meanwhile (another session): go on.
      if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.NoMessageFound)) throw err
    }
    erased++
  }
}
