/**
 * The replica WAL as a restore writes it. This is the only place the restoring side touches WAL
 * records or the serializer, so a change in how records are appended verbatim changes this file alone.
 */
import { isWalError, Wal, type WalOptions } from '@waltz/core'
import { ReplicationError } from './errors.js'
import { replicaSerializer } from './serializer.js'
import type { ReplicatedMessage } from './stream.js'

/** A record as {@link replicaSerializer} stores it: only `data`, the source's bytes, is kept. */
interface ReplicaRecord {
  type: string
  time: number
  data: Uint8Array
}

/** Options of the replica WAL that a restore passes through. */
type ReplicaWalOptions = Omit<WalOptions, 'dir' | 'serializer' | 'firstSeq' | 'readOnly'>

/**
 * An open replica: appends received messages in batches, each record under the seq the stream gave it,
 * and counts what it appended.
 */
export class Replica {
  private batch: ReplicaRecord[] = []
  private expected: number
  private appendedCount = 0

  private constructor(
    private readonly wal: Wal<ReplicaRecord>,
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
        throw new ReplicationError(
          'REPLICATION_DIVERGED',
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
    this.batch.push({ type: '', time: 0, data: message.payload })
    this.expected++
  }

  /**
   * Appends the batched records as one batch.
   *
   * @returns the seq of the last record appended, or undefined when nothing was batched
   * @throws ReplicationError `REPLICATION_DIVERGED` when the replica gave them other seqs; `WalError`
   */
  async flush(): Promise<number | undefined> {
    if (this.batch.length === 0) return undefined
    const records = this.batch
    this.batch = []
    const appended = await this.wal.appendBatch(records)
    if (appended !== this.expected - 1) {
      throw new ReplicationError(
        'REPLICATION_DIVERGED',
        `the replica assigned seq ${appended} to the record of seq ${this.expected - 1}`,
        { seq: this.expected - 1 },
      )
    }
    this.appendedCount += records.length
    return appended
  }

  /** The stored bytes of the last record, to compare with the stream's record of that seq. */
  async lastPayload(): Promise<Uint8Array | undefined> {
    let payload: Uint8Array | undefined
    for await (const r of this.wal.records({ from: this.wal.lastSeq })) payload = r.data
    return payload
  }

  /** Closes the replica WAL. */
  close(): Promise<void> {
    return this.wal.close()
  }
}
