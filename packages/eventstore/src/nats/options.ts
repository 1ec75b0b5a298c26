/**
 * Options of {@link EventStore.connect}. This module imports nothing from NATS, so the embedded store
 * (and its declarations) never need the optional `@nats-io/*` peer dependencies.
 */
import type { RecordShape, Serializer, WalLogger } from '@waltz/core'

/** Options of {@link EventStore.connect}: where the JetStream stream is, and the store's own. */
export interface NatsEventStoreOptions<Rec extends RecordShape = RecordShape> {
  /** NATS server URLs (`nats://host:4222`); the client reconnects among them. */
  servers: string | readonly string[]
  /** The JetStream stream holding the events (A-Z a-z 0-9 _ -): created if missing, else bound. */
  stream: string
  /**
   * The subject prefix: stream `s` is the subject `<subjectPrefix>.<token of s>`, and the JetStream
   * stream captures `<subjectPrefix>.>`. Dot-separated tokens of A-Z a-z 0-9 _ -. Default
   * `waltz-es.<stream>`.
   */
  subjectPrefix?: string
  /** Encodes event data (e.g. `jsonSerializer`): the same serializer on every client. */
  serializer: Serializer<string, unknown, Rec>
  /** Replicas of the JetStream streams when they are created (1, 3 or 5). Default 1. */
  replicas?: number
  /**
   * The JetStream stream's message-id de-duplication window when it is created, ms: a retried append
   * with the same event ids inside it is answered by the server with the original message. Default
   * 120,000 (2 minutes).
   */
  duplicateWindowMs?: number
  /**
   * As the embedded store's: with `'any'`, `'no_stream'` or `'stream_exists'`, an append whose events
   * all carry ids equal to consecutive events among the stream's last `idempotencyWindow` is a retry
   * (its original result is returned, nothing is written). Default 32; 0 turns the look off.
   */
  idempotencyWindow?: number
  /** Timeout of each request to the server (publish acknowledgement, stream queries), ms. Default 5000. */
  timeoutMs?: number
  /** The connection's name, shown by the server's monitoring. */
  name?: string
  /** User name, with `pass`. */
  user?: string
  /** Password, with `user`. */
  pass?: string
  /** An authentication token. */
  token?: string
  /** Where to report consumer failures. Default: silent. */
  logger?: WalLogger
}
