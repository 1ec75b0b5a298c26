/**
 * The source WAL's records as the replicator reads and publishes them. This is the only place the
 * publishing side touches WAL records, so a change in how records are read from the WAL changes this
 * file alone. Records are read as stored: nothing is decoded.
 */
import type { RawRecord, RecordShape, WalReader } from '@waltz/core'
import { ReplicationError } from './errors.js'
import type { ChainedMessage } from './publisher.js'
import { carriesRecord, escapeHeaderValue, type ReplicatedMessage, recordHeaders } from './stream.js'

/** One record of the source WAL as the replicator moves it: as stored, data undecoded (sealed in an encrypted log). */
export type SourceRecord = RawRecord

/** Reads a source WAL's stored records and turns each into the stream message that carries it. */
export class SourceLog {
  /** The source serializer's name. */
  readonly serializer: string
  /** The source log's id, escaped for a header. */
  readonly headerWalId: string
  private readonly headerSerializer: string

  /**
   * @param wal - the source log (a writer, or a reader following another process)
   * @param walId - the source log's id (already checked to be printable ASCII)
   * @param publishTimeoutMs - the acknowledgement timeout of every publish
   * @throws ReplicationError `REPLICATION_INVALID_ARGUMENT` when the log has no serializer name (an
   *   empty log opened by a reader without a serializer) or one that cannot be a header
   */
  constructor(
    private readonly wal: WalReader<RecordShape>,
    private readonly walId: string,
    private readonly publishTimeoutMs: number,
  ) {
    const name = wal.serializerName
    if (name === undefined) {
      throw ReplicationError.INVALID_ARGUMENT(
        `${wal.dir} holds no record and the reader has no serializer: open it with its serializer`,
      )
    }
    const serializer = escapeHeaderValue(name)
    if (serializer === undefined) {
      throw ReplicationError.INVALID_ARGUMENT('the serializer name is not valid Unicode')
    }
    this.serializer = name
    this.headerWalId = escapeHeaderValue(walId)!
    this.headerSerializer = serializer
  }

  /**
   * The stored records from `from` on, waiting for new ones until `signal` aborts.
   *
   * @throws WalError `WAL_TRUNCATED`, `WAL_CLOSED`, `WAL_CORRUPT` as `WalReader.tailRaw`
   */
  tail(from: number, signal: AbortSignal): AsyncIterable<SourceRecord> {
    return this.wal.tailRaw({ from, signal })
  }

  /**
   * Whether the WAL stores another record at `message.seq` than the one `message` carries (another
   * type, time, key, headers or data bytes). False when the WAL does not hold that seq.
   *
   * @throws WalError `WAL_TRUNCATED` (the record was removed meanwhile), `WAL_CORRUPT`
   */
  async storesOther(message: ReplicatedMessage): Promise<boolean> {
    for await (const record of this.wal.recordsRaw({ from: message.seq, to: message.seq })) {
      return !carriesRecord(message, record)
    }
    return false
  }

  /** The message id of record `seq`: `<walId>:<seq>`. JetStream drops a repeated id within its window. */
  messageId(seq: number): string {
    return `${this.walId}:${seq}`
  }

  /**
   * The stream message carrying `record` on `subject`: its stored data bytes verbatim (sealed in an
   * encrypted log), the envelope in headers. The caller adds `expect`.
   */
  message(subject: string, record: SourceRecord): ChainedMessage {
    return {
      subject,
      payload: record.data,
      options: {
        msgID: this.messageId(record.seq),
        headers: recordHeaders(record, this.headerWalId, this.headerSerializer),
        timeout: this.publishTimeoutMs,
      },
      seq: record.seq,
    }
  }
}
