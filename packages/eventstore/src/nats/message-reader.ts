/**
 * Reading messages of the events stream through ordered consumers (ephemeral, in memory, one replica):
 * a range up to a known sequence, or everything from a sequence on, live.
 */
import type { JetStreamClient, JsMsg } from '@nats-io/jetstream'
import { unavailable } from './nats-errors.js'

/** Ordered consumers left behind by a crashed client vanish after this long without a pull, ms. */
const INACTIVE_MS = 30_000

/** What to read. */
export interface MessageRange {
  /** The subject filter (one subject, or `<prefix>.>`). */
  filter: string
  /** The first stream sequence. */
  from: number
  /** The last stream sequence wanted: it must be a message matching `filter` (the read ends there). */
  to: number
  /**
   * Fail with `EVENTSTORE_UNAVAILABLE` when no message arrives for this long, ms: the messages of a
   * range are stored already, so a silence means the server or the connection is gone.
   */
  idleMs: number
}

/**
 * The messages of `range`, in sequence order.
 *
 * @throws EventStoreError `EVENTSTORE_UNAVAILABLE`
 */
export async function* readMessages(
  js: JetStreamClient,
  stream: string,
  range: MessageRange,
  batch = 256,
): AsyncGenerator<JsMsg, void, undefined> {
  if (range.from > range.to) return
  yield* consumeFrom(
    js,
    stream,
    range.filter,
    range.from,
    undefined,
    batch,
    (m) => m.seq >= range.to || m.info.pending === 0,
    range.idleMs,
  )
}

/**
 * The messages matching `filter` from sequence `from` on, live: the iteration ends only when `signal`
 * aborts (without error).
 *
 * @throws EventStoreError `EVENTSTORE_UNAVAILABLE`
 */
export function tailMessages(
  js: JetStreamClient,
  stream: string,
  filter: string,
  from: number,
  signal: AbortSignal,
): AsyncGenerator<JsMsg, void, undefined> {
  return consumeFrom(js, stream, filter, from, signal, 256, () => false, undefined)
}

async function* consumeFrom(
  js: JetStreamClient,
  stream: string,
  filter: string,
  from: number,
  signal: AbortSignal | undefined,
  batch: number,
  last: (m: JsMsg) => boolean,
  idleMs: number | undefined,
): AsyncGenerator<JsMsg, void, undefined> {
  if (signal?.aborted) return
  let consumer: Awaited<ReturnType<JetStreamClient['consumers']['get']>>
  try {
    consumer = await js.consumers.get(stream, {
      filter_subjects: filter,
      opt_start_seq: Math.max(1, from),
      inactive_threshold: INACTIVE_MS,
    })
  } catch (err) {
    throw unavailable(`reading stream ${stream}`, err)
  }
  let messages: Awaited<ReturnType<typeof consumer.consume>> | undefined
  const stop = () => messages?.stop()
  signal?.addEventListener('abort', stop, { once: true })
  let idle: NodeJS.Timeout | undefined
  let silent = false
  const watch = () => {
    if (idleMs === undefined) return
    clearTimeout(idle)
    idle = setTimeout(() => {
      silent = true
      messages?.stop()
    }, idleMs)
  }
  try {
    watch()
    messages = await consumer.consume({ max_messages: batch, expires: 5000 })
    if (signal?.aborted) return
    for await (const m of messages) {
      watch()
      yield m
      if (last(m) || signal?.aborted) return
    }
    if (signal?.aborted) return
    throw new Error(silent ? `no message for ${idleMs} ms` : 'the ordered consumer ended')
  } catch (err) {
    if (signal?.aborted) return
    throw unavailable(`reading stream ${stream}`, err)
  } finally {
    clearTimeout(idle)
    signal?.removeEventListener('abort', stop)
    messages?.stop()
    consumer.delete().catch(() => {})
  }
}
