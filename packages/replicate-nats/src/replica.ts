/**
 * The replica WAL as a restore writes it. This is the only place the restoring side touches WAL
 * records, so a change in how records are appended verbatim changes this file alone. The replica of
 * an encrypted log is a sealed copy (core's `encryption: 'sealed'`): its records are stored sealed,
 * and the key store entries received are imported before the records that follow them.
 */
import {
  isWalError,
  type KeyStoreEntry,
  type RawRecord,
  type RecordShape,
  Wal,
  type WalOptions,
} from '@waltz/core'
import { ReplicationError } from './errors.js'
import { replicaSerializer } from './serializer.js'
import { carriesRecord, type ReplicatedMessage } from './stream.js'
import { keyIdOf } from './util.js'

/** Options of the replica WAL that a restore passes through. */
type ReplicaWalOptions = Omit<WalOptions, 'dir' | 'serializer' | 'firstSeq' | 'encryption'>

/** The record a message carries, as the source WAL stores it. */
function storedRecord(message: ReplicatedMessage): RawRecord {
  const record: RawRecord = {
    seq: message.seq,
    time: message.time,
    type: message.type,
    data: message.payload,
  }
  if (message.key !== undefined) record.key = message.key
  if (message.headers !== undefined) record.headers = message.headers
  if (message.sealed === true) record.encrypted = true
  return record
}

/**
 * An open replica: appends received messages in batches with `appendRaw`, each record as the source
 * stores it (seq, type, time, key, headers, data bytes), and counts what it appended.
 */
export class Replica {
  private batch: RawRecord[] = []
  private keys: KeyStoreEntry[] = []
  /** The key ids the replica holds a key or a tombstone for, or is about to import (a sealed copy). */
  private readonly keyIds = new Set<string>()
  private expected: number
  private appendedCount = 0

  private constructor(
    private readonly wal: Wal<RecordShape<string, Uint8Array>>,
    /** The source serializer's name, under which the replica is stored. */
    readonly serializer: string,
    /** Whether it is a sealed copy of an encrypted log. */
    readonly sealed: boolean,
  ) {
    this.expected = wal.lastSeq + 1
  }

  /**
   * Opens (or creates) the replica in `dir`, stored under the source serializer's name.
   *
   * @param firstSeq - the seq of its first record, when it is created
   * @param sealed - the stream's log is encrypted: the replica is a sealed copy
   * @throws ReplicationError `REPLICATION_DIVERGED` when `dir` holds a log of another serializer, or
   *   an encrypted log for a stream of a plain one (or the other way round); `WalError` as `Wal.open`
   */
  static async open(
    dir: string,
    serializer: string,
    firstSeq: number,
    walOptions: ReplicaWalOptions | undefined,
    sealed: boolean,
  ): Promise<Replica> {
    let wal: Wal<RecordShape<string, Uint8Array>>
    try {
      wal = await Wal.open({
        ...walOptions,
        dir,
        serializer: replicaSerializer(serializer),
        firstSeq,
        ...(sealed ? { encryption: 'sealed' as const } : {}),
      })
    } catch (err) {
      if (isWalError(err, 'WAL_SERIALIZER_MISMATCH')) {
        throw ReplicationError.DIVERGED(
          `${dir} holds a log of another serializer than the stream's '${serializer}'`,
          { cause: err },
        )
      }
      if (isWalError(err, 'WAL_KEYRING')) {
        const what = sealed ? 'a log that is not encrypted' : 'an encrypted log'
        throw ReplicationError.DIVERGED(`${dir} holds ${what}, unlike the stream's`, { cause: err })
      }
      throw err
    }
    const replica = new Replica(wal, serializer, sealed)
    try {
      for (const e of (await wal.keyStore())?.entries ?? [])
        if (e.kind !== 'header') replica.keyIds.add(e.keyId)
    } catch (err) {
      await wal.close()
      throw err
    }
    return replica
  }

  /** The seq the next added message must carry: one after the last stored or batched record. */
  get next(): number {
    return this.expected
  }

  /** The seq of the first stored record. */
  get firstSeq(): number {
    return this.wal.firstSeq
  }

  /** The seq of the last stored record (batched ones not included). */
  get lastSeq(): number {
    return this.wal.lastSeq
  }

  /** Records and key store entries added and not stored yet. */
  get batched(): number {
    return this.batch.length + this.keys.length
  }

  /** Records appended through this object. */
  get appended(): number {
    return this.appendedCount
  }

  /**
   * Batches `message`'s record as seq {@link next}; the caller has checked that it carries that seq.
   *
   * @throws ReplicationError `REPLICATION_DIVERGED` (a sealed record for a plain replica, or the other
   *   way round), `REPLICATION_GAP` (a sealed record whose key the stream did not deliver before it)
   */
  add(message: ReplicatedMessage): void {
    const sealed = message.sealed === true
    if (sealed !== this.sealed) {
      throw ReplicationError.DIVERGED(
        `seq ${message.seq} is ${sealed ? 'sealed (an encrypted log)' : 'not sealed'}, unlike the replica's records`,
        { seq: message.seq, streamSeq: message.streamSeq },
      )
    }
    if (sealed) {
      const keyId = keyIdOf(message.payload)
      if (keyId === undefined || !this.keyIds.has(keyId)) {
        throw ReplicationError.GAP(
          `seq ${message.seq} is sealed with ${keyId === undefined ? 'a malformed field' : `key '${keyId}'`}, whose key the stream did not carry before it`,
          { seq: message.seq, streamSeq: message.streamSeq },
        )
      }
    }
    this.batch.push(storedRecord(message))
    this.expected++
  }

  /** Whether the replica holds (or has batched) a key or a tombstone for `keyId`. */
  holdsKey(keyId: string): boolean {
    return this.keyIds.has(keyId)
  }

  /** Batches a key store entry: imported before the records batched with it are appended. */
  addKey(entry: KeyStoreEntry): void {
    if (entry.kind !== 'header') this.keyIds.add(entry.keyId)
    this.keys.push(entry)
  }

  /**
   * Imports the batched key store entries, then appends the batched records as one atomic batch,
   * under their own seqs: a record's key is durable before the record.
   *
   * @returns the seq of the last record appended, or undefined when no record was batched
   * @throws WalError as `Wal.importKeys` and `Wal.appendRaw`
   */
  async flush(): Promise<number | undefined> {
    if (this.keys.length > 0) {
      const keys = this.keys
      this.keys = []
      await this.wal.importKeys(keys)
    }
    if (this.batch.length === 0) return undefined
    const records = this.batch
    this.batch = []
    const appended = await this.wal.appendRaw(records)
    this.appendedCount += records.length
    return appended
  }

  /** Whether the replica's last record is the one `message` carries (same seq, envelope and data bytes). */
  async endsWith(message: ReplicatedMessage): Promise<boolean> {
    const last = this.wal.lastSeq
    for await (const record of this.wal.recordsRaw({ from: last, to: last })) {
      return carriesRecord(message, record)
    }
    return false
  }

  /** Closes the replica WAL. */
  close(): Promise<void> {
    return this.wal.close()
  }
}
