/**
 * The source WAL's records as the replicator reads and publishes them. This is the only place the
 * publishing side touches WAL records or the serializer, so a change in how records are read from the
 * WAL changes this file alone.
 */
import type { JetStreamPublishOptions } from '@nats-io/jetstream'
import type { EncodableRecord, StoredFrame, Wal, WalLogger } from '@waltz/core'
import { ReplicationError } from './errors.js'
import { escapeHeaderValue, recordHeaders } from './stream.js'

/** One record of the source WAL as the replicator moves it: its seq and its stored bytes. */
export type SourceRecord = StoredFrame

/** A record ready for `js.publish`: the body and the publish options (message id, headers, timeout). */
interface OutgoingMessage {
  /** The body: the record's stored bytes. */
  payload: Uint8Array
  /** Message id, `Waltz-*` headers and the acknowledgement timeout; the caller adds `expect`. */
  options: Partial<JetStreamPublishOptions>
}

/** Reads a source WAL's stored records and turns each into the stream message that carries it. */
export class SourceLog {
  private readonly headerWalId: string
  private readonly headerSerializer: string

  /**
   * @param wal - the source log
   * @param walId - the source log's id (already checked to be printable ASCII)
   * @param publishTimeoutMs - the acknowledgement timeout of every publish
   * @param logger - where to warn about records whose type and time cannot be decoded
   * @throws ReplicationError `REPLICATION_INVALID_ARGUMENT` when the serializer name cannot be a header
   */
  constructor(
    private readonly wal: Wal<EncodableRecord>,
    private readonly walId: string,
    private readonly publishTimeoutMs: number,
    private readonly logger: WalLogger,
  ) {
    const serializer = escapeHeaderValue(wal.serializerName)
    if (serializer === undefined) {
      throw new ReplicationError('REPLICATION_INVALID_ARGUMENT', 'the serializer name is not valid Unicode')
    }
    this.headerWalId = escapeHeaderValue(walId)!
    this.headerSerializer = serializer
  }

  /**
   * The stored records from `from` on, waiting for new ones until `signal` aborts.
   *
   * @throws WalError `WAL_TRUNCATED`, `WAL_CLOSED`, `WAL_CORRUPT` as `Wal.tailFrames`
   */
  tail(from: number, signal: AbortSignal): AsyncIterable<SourceRecord> {
    return this.wal.tailFrames({ from, signal })
  }

  /** The stored bytes of record `seq` (undefined when `signal` aborts before it is read). */
  async payloadAt(seq: number, signal: AbortSignal): Promise<Uint8Array | undefined> {
    for await (const frame of this.wal.tailFrames({ from: seq, signal })) return frame.payload
    return undefined
  }

  /** The message id of record `seq`: `<walId>:<seq>`. JetStream drops a repeated id within its window. */
  messageId(seq: number): string {
    return `${this.walId}:${seq}`
  }

  /** The stream message carrying `record`: its stored bytes verbatim, with the `Waltz-*` headers. */
  message(record: SourceRecord): OutgoingMessage {
    return {
      payload: record.payload,
      options: {
        msgID: this.messageId(record.seq),
        headers: this.headersFor(record),
        timeout: this.publishTimeoutMs,
      },
    }
  }

  // Type and time are only a convenience for readers of the stream: a record the serializer cannot
  // decode is still replicated, without them, rather than stopping replication.
  private headersFor(record: SourceRecord) {
    let type: string | undefined
    let time: number | undefined
    try {
      const decoded = this.wal.serializer.decode(record.payload)
      type = decoded.type
      time = decoded.time
    } catch (err) {
      this.logger.warn('cannot decode the record for its type and time headers', {
        seq: record.seq,
        error: err,
      })
    }
    return recordHeaders(record.seq, this.headerWalId, this.headerSerializer, type, time)
  }
}
