/**
 * The event store on a NATS JetStream stream (what {@link EventStore.connect} returns). Every
 * `appendToStream` call is one message on its stream's subject (see `message-format.ts`); the
 * server's expected-last-subject-sequence check is the optimistic concurrency: a client reads the
 * subject's last message (from the stream leader; or remembers it, having written it), checks the
 * expected revision against it, and publishes expecting that message to still be the subject's last.
 * Of two writers that read the same message, the server accepts one.
 */
import { createHash } from 'node:crypto'
import type { JetStreamClient, JetStreamManager, PubAck } from '@nats-io/jetstream'
import { type NatsConnection, headers as natsHeaders } from '@nats-io/transport-node'
import { type RecordShape, type Serializer, WalError, type WalLogger } from '@waltz/core'
import type { CheckpointStore } from '../checkpoint-file.js'
import { Consumer, type ConsumerOptions } from '../consumer.js'
import { EventStoreError } from '../errors.js'
import {
  type AggregateOptions,
  type AggregateResult,
  type AppendOptions,
  type AppendResult,
  checkDirection,
  type DeleteResult,
  exists,
  filterOf,
  matches,
  optionalInt,
  type ReadAllOptions,
  type ReadStreamOptions,
  type SubscribeToAllOptions,
  type SubscribeToStreamOptions,
} from '../event-store.js'
import {
  checkEvent,
  checkExpected,
  checkStream,
  type EventInput,
  type ExpectedRevision,
  type StoredEvent,
} from '../events.js'
import type { EventStoreApi, EventStoreApiMetrics } from '../store-api.js'
import { uuidv7 } from '../uuid.js'
import { clusterCheckpoints } from './cluster-checkpoints.js'
import { CountedLog, type RawEvent, type WholeRead } from './counted-log.js'
import {
  type BodyEvent,
  encodeBody,
  headOf,
  isCountedAfter,
  type MessageKind,
  type MessageMeaning,
  messageHeaders,
  NO_STREAM,
  readMeaning,
  type StreamHead,
} from './message-format.js'
import { isWrongLastSequence, unavailable } from './nats-errors.js'
import type { StreamBinding } from './stream-setup.js'

/** What a {@link NatsEventStore} is built from (see `connect.ts`). @internal */
export interface NatsStoreParts<Rec extends RecordShape> {
  nc: NatsConnection
  js: JetStreamClient
  jsm: JetStreamManager
  binding: StreamBinding
  /** Whether the events' stream answers direct gets (see `CountedLog.nextOf`). */
  direct: boolean
  serializer: Serializer<string, unknown, Rec>
  idempotencyWindow: number
  timeoutMs: number
  logger: WalLogger
}

/** Conflicts (another writer appended first) after which an append gives up. */
const MAX_CONFLICTS = 1000

/** Streams whose head after this client's last append a store remembers (the least recently used go). */
const MAX_KNOWN_HEADS = 10_000

/**
 * The event store on a JetStream stream. Create it with {@link EventStore.connect}.
 *
 * @typeParam Rec - the event union
 * @internal
 */
export class NatsEventStore<Rec extends RecordShape = RecordShape> implements EventStoreApi<Rec> {
  private readonly nc: NatsConnection
  private readonly js: JetStreamClient
  private readonly serializer: Serializer<string, unknown, Rec>
  private readonly window: number
  private readonly timeoutMs: number
  private readonly logger: WalLogger
  private readonly checkpoints: CheckpointStore
  private readonly consumers = new Map<string, Consumer<Rec>>()
  /** Appends in flight per stream. */
  private readonly inFlight = new Map<string, number>()
  private readonly appends = new Set<Promise<unknown>>()
  private readonly closeController = new AbortController()
  private lastPosition = 0
  /**
   * Per stream, its head after this client's last counted append or delete, if nothing newer is
   * known: the next append tries it instead of reading the head from the leader (see `append`).
   */
  private readonly knownHeads = new Map<string, StreamHead>()
  /** The events' stream, its counted messages. */
  private readonly log: CountedLog
  private closing: Promise<void> | undefined

  constructor(parts: NatsStoreParts<Rec>) {
    this.nc = parts.nc
    this.js = parts.js
    this.serializer = parts.serializer
    this.window = parts.idempotencyWindow
    this.timeoutMs = parts.timeoutMs
    this.log = new CountedLog(
      parts.js,
      parts.jsm,
      parts.binding,
      2 * parts.timeoutMs,
      (seq) => this.seen(seq),
      parts.direct,
    )
    this.logger = parts.logger
    this.checkpoints = clusterCheckpoints(parts.js, parts.jsm, parts.binding, parts.timeoutMs)
  }

  /** The highest stream sequence this client has seen acknowledged or read. */
  get position(): number {
    return this.lastPosition
  }

  /**
   * Appends events to a stream as one JetStream message, if the stream is in the expected state. The
   * server refuses the message when another one reached the subject since the check; the store then
   * checks again (`'any'` always succeeds that way, a number fails with `WRONG_EXPECTED_REVISION`
   * once the stream moved past it). Every event of the call gets the message's stream sequence as
   * its `position`. The message id is derived from the stream and the event ids: a retry inside the
   * stream's duplicate window, or one whose events sit right after the expected revision (or among
   * the last `idempotencyWindow` events), returns the original result and writes nothing.
   *
   * @throws EventStoreError `WRONG_EXPECTED_REVISION`, `STREAM_TOMBSTONED`,
   *   `EVENTSTORE_INVALID_ARGUMENT`, `EVENTSTORE_CLOSED`, `EVENTSTORE_UNAVAILABLE` (the outcome is
   *   unknown: retry with the same event ids); WalError `WAL_SERIALIZER_ERROR`
   */
  appendToStream(
    stream: string,
    events: readonly EventInput<Rec>[],
    options: AppendOptions = {},
  ): Promise<AppendResult> {
    let work: Promise<AppendResult>
    try {
      this.requireOpen()
      checkStream(stream)
      const expected = checkExpected(options.expectedRevision ?? 'any', stream)
      if (!Array.isArray(events) || events.length === 0) {
        throw EventStoreError.INVALID_ARGUMENT('appendToStream needs an array of at least one event', {
          stream,
        })
      }
      const subject = this.log.subjectOf(stream)
      let allIds = true
      const body: BodyEvent[] = events.map((e) => {
        const p = this.prepare(stream, e)
        allIds &&= e.id !== undefined
        return p
      })
      work = this.append(stream, subject, expected, body, allIds)
    } catch (err) {
      return Promise.reject(err)
    }
    return this.track(stream, work)
  }

  private async append(
    stream: string,
    subject: string,
    expected: ExpectedRevision,
    events: readonly BodyEvent[],
    allIds: boolean,
  ): Promise<AppendResult> {
    const payload = encodeBody(events)
    this.checkPayload(stream, payload)
    const idsHash = createHash('sha256')
      .update(JSON.stringify([stream, ...events.map((e) => e.id)]))
      .digest('base64url')
    const n = events.length
    // A message that lost a race (stored, but not counted) keeps its message id in the server's
    // duplicate window: the next try of the same events takes the next id.
    let attempt = 0
    // The head this client left the stream at, if it still meets the expectation: a first try
    // publishes expecting it without asking the leader. Were it stale (another client appended
    // since), the message is refused or stored after one it did not expect, so it does not count;
    // either way the next try reads the head from the leader. It is taken, not shared: an append
    // in flight on the same stream reads the leader's.
    let known = this.takeKnownHead(stream)
    if (known !== undefined && (!matches(known, expected) || (allIds && this.mayHoldRetry(known, expected))))
      known = undefined
    // `'no_stream'` expects the subject to have no message at all, most often: were there one, the
    // server refuses the publish and the next try reads the head (a soft-deleted stream matches).
    // A retry of stored events cannot hide behind that guess: they would be on the subject.
    if (known === undefined && expected === 'no_stream') known = NO_STREAM
    for (let conflicts = 0; ; conflicts++) {
      const head = known ?? (await this.log.head(subject, stream))
      const remembered = known !== undefined
      known = undefined
      if (head.tombstoned) throw EventStoreError.STREAM_TOMBSTONED(stream)
      if (allIds && this.mayHoldRetry(head, expected)) {
        const original = await this.findRetry(stream, subject, expected, events, head)
        if (original) return original
      }
      if (!matches(head, expected))
        throw EventStoreError.WRONG_EXPECTED_REVISION(stream, expected, head.revision)
      const meaning: MessageMeaning = {
        kind: 'events',
        revision: head.revision + n,
        deletedRevision: head.deletedRevision,
        count: n,
        created: !exists(head),
        time: Date.now(),
        last: head.lastSeq,
      }
      const msgID = `wz1-${idsHash}${attempt === 0 ? '' : `-${attempt}`}`
      const ack = await this.publish(stream, subject, payload, meaning, msgID)
      if (ack !== undefined) {
        if (ack.duplicate) {
          // The server recognised the message id before checking the expectation. Whether the
          // original is the answer is for the rules above to say first (a tombstone, a retry that
          // does not meet the expectation), on the leader's head: try again with it.
          if (remembered) continue
          const original = await this.originalOf(stream, subject, ack.seq)
          if (original !== undefined) return original
        } else if (await this.log.isCounted(subject, meaning.last, ack.seq)) {
          this.rememberHead(stream, headOf(meaning, ack.seq))
          this.log.written(subject, ack.seq, meaning, payload)
          return { nextExpectedRevision: meaning.revision, position: ack.seq, created: meaning.created }
        }
        // Stored, but after a message it did not expect: it does not count (a lost race).
        attempt++
      }
      if (conflicts >= MAX_CONFLICTS) {
        throw EventStoreError.UNAVAILABLE(
          `appending to ${JSON.stringify(stream)} conflicted ${conflicts} times`,
          {
            stream,
          },
        )
      }
    }
  }

  /**
   * Publishes one message expecting `meaning.last` as its subject's last. Returns undefined when the
   * server refused it for that reason (another writer came first).
   */
  private async publish(
    stream: string,
    subject: string,
    payload: Uint8Array,
    meaning: MessageMeaning,
    msgID: string,
  ): Promise<PubAck | undefined> {
    const h = natsHeaders()
    for (const [k, v] of messageHeaders(meaning)) h.set(k, v)
    try {
      const ack = await this.js.publish(subject, payload, {
        msgID,
        expect: { lastSubjectSequence: meaning.last },
        headers: h,
        timeout: this.timeoutMs,
      })
      this.seen(ack.seq)
      return ack
    } catch (err) {
      if (isWrongLastSequence(err)) return undefined
      throw unavailable(`appending to ${JSON.stringify(stream)}`, err, stream)
    }
  }

  /**
   * The result of the append whose message is at `seq` (a duplicate the server recognised), or
   * undefined when that message does not count (it lost a race).
   */
  private async originalOf(stream: string, subject: string, seq: number): Promise<AppendResult | undefined> {
    const m = await this.log.getMessage({ seq }, stream)
    if (m === null)
      throw EventStoreError.CORRUPT(`the server acknowledged message ${seq} as a duplicate, but it is gone`)
    const meaning = readMeaning(m.header, seq)
    if (!(await this.log.isCounted(subject, meaning.last, seq))) return undefined
    return { nextExpectedRevision: meaning.revision, position: seq, created: meaning.created }
  }

  /** The head remembered for `stream`, forgotten (undefined: none). */
  private takeKnownHead(stream: string): StreamHead | undefined {
    const head = this.knownHeads.get(stream)
    this.knownHeads.delete(stream)
    return head
  }

  /**
   * Remembers `head`, the stream's after a counted message of this client, unless a later one is
   * known (appends to one stream may finish out of order).
   */
  private rememberHead(stream: string, head: StreamHead): void {
    const known = this.knownHeads.get(stream)
    if (known !== undefined && known.lastSeq >= head.lastSeq) return
    this.knownHeads.delete(stream)
    this.knownHeads.set(stream, head)
    if (this.knownHeads.size > MAX_KNOWN_HEADS)
      this.knownHeads.delete(this.knownHeads.keys().next().value as string)
  }

  private mayHoldRetry(head: StreamHead, expected: ExpectedRevision): boolean {
    return head.revision > 0 && (typeof expected === 'number' ? !matches(head, expected) : this.window > 0)
  }

  /** Whether the events are stored already, right after `expected` or among the last `window` (the embedded rule). */
  private async findRetry(
    stream: string,
    subject: string,
    expected: ExpectedRevision,
    events: readonly BodyEvent[],
    head: StreamHead,
  ): Promise<AppendResult | undefined> {
    const n = events.length
    let lo: number
    let hi: number
    if (typeof expected === 'number') {
      lo = expected + 1
      hi = expected + n
    } else {
      lo = Math.max(1, head.revision - Math.max(this.window, n) + 1)
      hi = head.revision
    }
    if (hi > head.revision || hi - lo + 1 < n) return undefined
    const stored: RawEvent[] = []
    for await (const e of this.log.subjectEvents(stream, subject, head.lastSeq, lo, hi)) stored.push(e)
    for (let i = 0; i + n <= stored.length; i++) {
      let same = true
      for (let j = 0; j < n && same; j++) same = stored[i + j]!.id === events[j]!.id
      if (!same) continue
      const created = stored[i]!.created
      if (expected === 'no_stream' && !created) continue
      return {
        nextExpectedRevision: stored[i]!.revision + n - 1,
        position: stored[i + n - 1]!.position,
        created,
      }
    }
    return undefined
  }

  /**
   * Soft-deletes a stream: a marker message; reads return nothing, a later append continues the
   * revisions.
   *
   * @throws EventStoreError `WRONG_EXPECTED_REVISION`, `STREAM_TOMBSTONED`, and as {@link appendToStream}
   */
  deleteStream(stream: string, options: AppendOptions = {}): Promise<DeleteResult> {
    return this.markTracked(stream, options, 'deleted')
  }

  /**
   * Tombstones a stream: a marker message; every later append or delete fails with `STREAM_TOMBSTONED`.
   *
   * @throws EventStoreError `WRONG_EXPECTED_REVISION`, `STREAM_TOMBSTONED`, and as {@link appendToStream}
   */
  tombstoneStream(stream: string, options: AppendOptions = {}): Promise<DeleteResult> {
    return this.markTracked(stream, options, 'tombstoned')
  }

  private markTracked(stream: string, options: AppendOptions, kind: MessageKind): Promise<DeleteResult> {
    let work: Promise<DeleteResult>
    try {
      this.requireOpen()
      checkStream(stream)
      const expected = checkExpected(options.expectedRevision ?? 'any', stream)
      work = this.mark(stream, this.log.subjectOf(stream), expected, kind)
    } catch (err) {
      return Promise.reject(err)
    }
    return this.track(stream, work)
  }

  private async mark(
    stream: string,
    subject: string,
    expected: ExpectedRevision,
    kind: MessageKind,
  ): Promise<DeleteResult> {
    this.takeKnownHead(stream)
    for (let conflicts = 0; ; conflicts++) {
      const head = await this.log.head(subject, stream)
      if (head.tombstoned) throw EventStoreError.STREAM_TOMBSTONED(stream)
      if (!matches(head, expected))
        throw EventStoreError.WRONG_EXPECTED_REVISION(stream, expected, head.revision)
      const meaning: MessageMeaning = {
        kind,
        revision: head.revision,
        deletedRevision: head.revision,
        count: 0,
        created: false,
        time: Date.now(),
        last: head.lastSeq,
      }
      const ack = await this.publish(stream, subject, new Uint8Array(0), meaning, `wz1-${uuidv7()}`)
      if (ack !== undefined && (await this.log.isCounted(subject, meaning.last, ack.seq))) {
        if (kind === 'deleted') this.rememberHead(stream, headOf(meaning, ack.seq))
        this.log.written(subject, ack.seq, meaning, new Uint8Array(0))
        return { position: ack.seq }
      }
      if (conflicts >= MAX_CONFLICTS) {
        throw EventStoreError.UNAVAILABLE(
          `deleting ${JSON.stringify(stream)} conflicted ${conflicts} times`,
          { stream },
        )
      }
    }
  }

  /**
   * Whether the stream has visible events.
   *
   * @throws EventStoreError `EVENTSTORE_INVALID_ARGUMENT`, `EVENTSTORE_CLOSED`, `EVENTSTORE_UNAVAILABLE`
   */
  async streamExists(stream: string): Promise<boolean> {
    this.requireOpen()
    checkStream(stream)
    return exists(await this.log.head(this.log.subjectOf(stream), stream))
  }

  /**
   * Reads a stream's events. The subject's messages are read from its first one (JetStream keeps no
   * index by revision); backwards reads collect the range first.
   *
   * @throws EventStoreError `EVENTSTORE_INVALID_ARGUMENT`, `EVENTSTORE_CLOSED`, `EVENTSTORE_UNAVAILABLE`,
   *   `EVENTSTORE_CORRUPT`; WalError `WAL_SERIALIZER_ERROR`
   */
  async *readStream(
    stream: string,
    options: ReadStreamOptions = {},
  ): AsyncGenerator<StoredEvent<Rec>, void, undefined> {
    this.requireOpen()
    checkStream(stream)
    const backwards = checkDirection(options.direction) === 'backwards'
    const from = optionalInt('from', options.from, 0)
    const maxCount = optionalInt('maxCount', options.maxCount, 0) ?? Number.POSITIVE_INFINITY
    const subject = this.log.subjectOf(stream)
    const head = await this.log.head(subject, stream)
    if (head.tombstoned || maxCount === 0) return
    const first = head.deletedRevision + 1
    let lo: number
    let hi: number
    if (backwards) {
      hi = Math.min(from ?? head.revision, head.revision)
      lo = Math.max(first, hi - maxCount + 1)
    } else {
      lo = Math.max(from ?? first, first)
      hi = Math.min(head.revision, lo + maxCount - 1)
    }
    if (lo > hi) return
    const events = this.log.subjectEvents(stream, subject, head.lastSeq, lo, hi)
    if (!backwards) {
      for await (const e of events) yield this.decode(e)
      return
    }
    const all: RawEvent[] = []
    for await (const e of events) all.push(e)
    for (let i = all.length - 1; i >= 0; i--) yield this.decode(all[i]!)
  }

  /**
   * Reads the events of every stream in position order. A position is a message: `from` starts at a
   * message, and all events of one append share its position.
   *
   * @throws as {@link readStream}
   */
  async *readAll(options: ReadAllOptions = {}): AsyncGenerator<StoredEvent<Rec>, void, undefined> {
    this.requireOpen()
    const backwards = checkDirection(options.direction) === 'backwards'
    const from = optionalInt('from', options.from, 0)
    let left = optionalInt('maxCount', options.maxCount, 0) ?? Number.POSITIVE_INFINITY
    const accept = filterOf(options.filter)
    if (left === 0) return
    const end = await this.log.lastSeq()
    if (!backwards) {
      const read: WholeRead = { from: Math.max(1, from ?? 1), previous: new Map() }
      for await (const m of this.log.readAll(read.from, end)) {
        for (const e of await this.log.messageEvents(m, read)) {
          if (!accept(e.type, e.stream)) continue
          yield this.decode(e)
          if (--left === 0) return
        }
      }
      return
    }
    let pos = Math.min(from ?? end, end)
    while (pos >= 1) {
      const lo = Math.max(1, pos - 1023)
      const chunk: RawEvent[] = []
      // `to` must be a message: the chunk's last one may have been removed by the stream's limits.
      const last = await this.log.lastSeqUpTo(pos)
      if (last < lo) break
      const read: WholeRead = { from: lo, previous: new Map() }
      for await (const m of this.log.readAll(lo, last)) {
        for (const e of await this.log.messageEvents(m, read)) chunk.push(e)
      }
      for (let i = chunk.length - 1; i >= 0; i--) {
        const e = chunk[i]!
        if (!accept(e.type, e.stream)) continue
        yield this.decode(e)
        if (--left === 0) return
      }
      pos = lo - 1
    }
  }

  /**
   * Folds a stream's events into a state, with the revision of the stream's last message.
   *
   * @throws as {@link readStream}
   */
  async aggregateStream<State>(
    stream: string,
    options: AggregateOptions<State, Rec>,
  ): Promise<AggregateResult<State>> {
    this.requireOpen()
    checkStream(stream)
    const subject = this.log.subjectOf(stream)
    const head = await this.log.head(subject, stream)
    let state = options.initialState()
    const { evolve } = options
    if (exists(head)) {
      for await (const e of this.log.subjectEvents(
        stream,
        subject,
        head.lastSeq,
        head.deletedRevision + 1,
        head.revision,
      )) {
        state = evolve(state, this.decode(e))
      }
    }
    return { state, revision: head.revision, exists: exists(head) }
  }

  /**
   * A stream's events from `from` (a revision, default 1), then each new one, until `signal` aborts,
   * the stream is tombstoned or the store closes.
   *
   * @throws EventStoreError `EVENTSTORE_UNAVAILABLE`, `EVENTSTORE_CORRUPT`
   */
  async *subscribeToStream(
    stream: string,
    options: SubscribeToStreamOptions = {},
  ): AsyncGenerator<StoredEvent<Rec>, void, undefined> {
    this.requireOpen()
    checkStream(stream)
    const subject = this.log.subjectOf(stream)
    const head = await this.log.head(subject, stream)
    if (head.tombstoned) return
    let next = Math.max(optionalInt('from', options.from, 1) ?? 1, head.deletedRevision + 1)
    const signal = this.until(options.signal)
    let previous = 0
    for await (const m of this.log.tail(1, signal, subject)) {
      this.seen(m.seq)
      const meaning = readMeaning(m.headers, m.seq)
      const counted = isCountedAfter(meaning, previous)
      previous = m.seq
      if (!counted) continue
      if (meaning.kind === 'tombstoned') return
      if (meaning.kind === 'deleted') {
        next = Math.max(next, meaning.deletedRevision + 1)
        continue
      }
      if (meaning.revision < next) continue
      for (const e of this.log.eventsOf(stream, m, meaning)) {
        if (e.revision < next) continue
        yield this.decode(e)
        next = e.revision + 1
        if (signal.aborted) return
      }
    }
  }

  /**
   * The events of every stream from `from` (a position, default the first), then each new one, until
   * `signal` aborts or the store closes.
   *
   * @throws EventStoreError `EVENTSTORE_UNAVAILABLE`, `EVENTSTORE_CORRUPT`
   */
  async *subscribeToAll(
    options: SubscribeToAllOptions = {},
  ): AsyncGenerator<StoredEvent<Rec>, void, undefined> {
    this.requireOpen()
    const from = optionalInt('from', options.from, 0) ?? 1
    const accept = filterOf(options.filter)
    const signal = this.until(options.signal)
    const read: WholeRead = { from: Math.max(1, from), previous: new Map() }
    for await (const m of this.log.tail(read.from, signal)) {
      for (const e of await this.log.messageEvents(m, read)) {
        if (!accept(e.type, e.stream)) continue
        yield this.decode(e)
        if (signal.aborted) return
      }
    }
  }

  /**
   * A durable consumer; its checkpoint is kept in the cluster by default, so it resumes on any client.
   *
   * @throws EventStoreError `EVENTSTORE_INVALID_ARGUMENT`, `EVENTSTORE_CLOSED`
   */
  consumer(options: ConsumerOptions<Rec>): Consumer<Rec> {
    this.requireOpen()
    return new Consumer(this, options, {
      dir: '',
      logger: this.logger,
      checkpoints: this.checkpoints,
      syncPosition: async () => {
        await this.refreshPosition()
      },
      register: (c) => {
        if (this.consumers.has(c.name))
          throw EventStoreError.CONSUMER_RUNNING(`consumer ${c.name} is already running`)
        this.consumers.set(c.name, c as unknown as Consumer<Rec>)
      },
      unregister: (c) => {
        if (this.consumers.get(c.name) === (c as unknown as Consumer<Rec>)) this.consumers.delete(c.name)
      },
    })
  }

  /**
   * Resolves once a message above `after` is stored: true, or false when `signal` aborted or the
   * store closed first.
   */
  async waitForPosition(after: number, signal?: AbortSignal): Promise<boolean> {
    if (this.lastPosition > after) return true
    const until = this.until(signal)
    if (until.aborted) return false
    for await (const m of this.log.tail(after + 1, until)) {
      this.seen(m.seq)
      return true
    }
    return false
  }

  /** Appends in flight and the consumers' lag (against the position this client knows). */
  metrics(): EventStoreApiMetrics {
    const consumers: Record<string, number> = {}
    for (const [name, c] of this.consumers) consumers[name] = c.lag
    return { streamsInFlight: this.inFlight.size, consumers }
  }

  /** Stops consumers and subscriptions, waits for appends in flight, and closes the connection. */
  close(): Promise<void> {
    this.closing ??= this.shutdown()
    return this.closing
  }

  private async shutdown(): Promise<void> {
    this.closeController.abort()
    await Promise.allSettled([...this.consumers.values()].map((c) => c.stop()))
    await Promise.allSettled([...this.appends])
    await this.nc.close().catch(() => {})
  }

  private requireOpen(): void {
    if (this.closeController.signal.aborted) throw EventStoreError.CLOSED()
  }

  /** A signal aborted by `signal` or by the store's close. */
  private until(signal: AbortSignal | undefined): AbortSignal {
    const closed = this.closeController.signal
    return signal === undefined ? closed : AbortSignal.any([signal, closed])
  }

  private track<T>(stream: string, work: Promise<T>): Promise<T> {
    this.inFlight.set(stream, (this.inFlight.get(stream) ?? 0) + 1)
    this.appends.add(work)
    const done = () => {
      this.appends.delete(work)
      const n = this.inFlight.get(stream)! - 1
      if (n === 0) this.inFlight.delete(stream)
      else this.inFlight.set(stream, n)
    }
    work.then(done, done)
    return work
  }

  private seen(seq: number): void {
    if (seq > this.lastPosition) this.lastPosition = seq
  }

  /** The stream's last sequence, from the server; `position` catches up with it. @internal */
  refreshPosition(): Promise<number> {
    return this.log.lastSeq()
  }

  private decode(e: RawEvent): StoredEvent<Rec> {
    let data: unknown
    try {
      data = this.serializer.decode(e.data, e.type)
    } catch (err) {
      throw WalError.SERIALIZER_ERROR(`decoding the event at position ${e.position} failed`, { cause: err })
    }
    return {
      stream: e.stream,
      revision: e.revision,
      position: e.position,
      id: e.id,
      type: e.type,
      time: e.time,
      data,
      metadata: e.metadata,
    } as StoredEvent<Rec>
  }

  /** Checks and encodes one event. */
  private prepare(stream: string, event: EventInput<Rec>): BodyEvent {
    const { type, id } = checkEvent(event, stream)
    let data: Uint8Array
    try {
      data = this.serializer.encode(event.data, type)
    } catch (err) {
      throw WalError.SERIALIZER_ERROR(`encoding a ${type} event of ${JSON.stringify(stream)} failed`, {
        cause: err,
      })
    }
    if (!(data instanceof Uint8Array))
      throw WalError.SERIALIZER_ERROR(`the serializer returned no bytes for a ${type} event`)
    return { type, id: id ?? uuidv7(), metadata: event.metadata ?? {}, data }
  }

  /** Refuses a body the server would refuse (its `max_payload`, less room for the headers). */
  private checkPayload(stream: string, payload: Uint8Array): void {
    const max = (this.nc.info?.max_payload ?? 1024 * 1024) - 1024
    if (payload.byteLength > max) {
      throw EventStoreError.INVALID_ARGUMENT(
        `the events of one append take ${payload.byteLength} bytes; the server takes messages of at most ${max}`,
        { stream },
      )
    }
  }
}
