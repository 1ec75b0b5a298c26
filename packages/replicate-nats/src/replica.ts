/**
 * The replica WAL as a restore writes it. This is the only place the restoring side touches WAL
 * records, so a change in how records are appended verbatim changes this file alone.
 */
import { isWalError, type RawRecord, type RecordShape, Wal, type WalOptions } from '@waltz/core'
import { ReplicationError } from './errors.js'
import { replicaSerializer } from './serializer.js'
import { carriesRecord, type ReplicatedMessage } from './stream.js'

/** Options of the replica WAL that a restore passes through. */
type ReplicaWalOptions = Omit<WalOptions, 'dir' | 'serializer' | 'firstSeq'>

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
  return record
}

/**
 * An open replica: appends received messages in batches with `appendRaw`, each record as the source
 * stores it (seq, type, time, key, headers, data bytes), and counts what it appended.
 */
export class Replica {
  private batch: RawRecord[] = []
  private expected: number
  private appendedCount = 0

  private constructor(
    private readonly wal: Wal<RecordShape<string, Uint8Array>>,
    /** The source serializer's name, under which the replica is stored. */
    readonly serializer: string,
  ) {
    this.expected = wal.lastSeq + 1
  }

  /**
   * Opens (or creates) the replica in `dir`, stored under the source serializer's name.
   *
   * @param firstSeq - the seq of its first record, when it is created
   * @throws ReplicationError `REPLICATION_DIVERGED` when `dir` holds a log of another serializer;
   *   `WalError` as `Wal.open`
   */
  static async open(
    dir: string,
    serializer: string,
    firstSeq: number,
    walOptions: ReplicaWalOptions | undefined,
  ): Promise<Replica> {
    try {
      const wal = await Wal.open({ ...walOptions, dir, serializer: replicaSerializer(serializer), firstSeq })
      return new Replica(wal, serializer)
    } catch (err) {
      if (isWalError(err, 'WAL_SERIALIZER_MISMATCH')) {
        throw ReplicationError.DIVERGED(
          `${dir} holds a log of another serializer than the stream's '${serializer}'`,
          { cause: err },
        )
      }
      throw err
    }
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

  /** Records added and not appended yet. */
  get batched(): number {
    return this.batch.length
  }

  /** Records appended through this object. */
  get appended(): number {
    return this.appendedCount
  }

  /** Batches `message`'s record as seq {@link next}; the caller has checked that it carries that seq. */
  add(message: ReplicatedMessage): void {
    this.batch.push(storedRecord(message))
    this.expected++
  }

  /**
   * Appends the batched records as one atomic batch, under their own seqs.
   *
   * @returns the seq of the last record appended, or undefined when nothing was batched
   * @throws WalError as `Wal.appendRaw`
   */
  async flush(): Promise<number | undefined> {
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
