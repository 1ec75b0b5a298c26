/**
 * {@link EventStore.connect}'s work, in a module of its own: `EventStore.connect` imports it
 * dynamically, so the embedded store never loads the optional `@nats-io/*` peer dependencies.
 */
import { jetstream } from '@nats-io/jetstream'
import { type RecordShape, silentLogger } from '@waltz/core'
import { EventStoreError } from '../errors.js'
import { EVENTSTORE_DEFAULTS } from '../event-store.js'
import type { EventStoreApi } from '../store-api.js'
import { NatsEventStore } from './nats-event-store.js'
import type { NatsEventStoreOptions } from './options.js'
import {
  bindStreams,
  checkStreamName,
  openConnection,
  reachJetStream,
  type StreamBinding,
  setupDeadline,
} from './stream-setup.js'
import { checkSubjectPrefix } from './stream-subject.js'

function int(name: string, value: unknown, min: number, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw EventStoreError.INVALID_ARGUMENT(`${name} must be an integer >= ${min}, got ${String(value)}`)
  }
  return value
}

/**
 * Connects to the servers, creates or binds the JetStream streams, and returns the store.
 *
 * @param options - see {@link NatsEventStoreOptions}
 * @returns the connected store
 * @throws EventStoreError `EVENTSTORE_INVALID_ARGUMENT`, `EVENTSTORE_UNAVAILABLE`
 */
export async function connectEventStore<Rec extends RecordShape>(
  options: NatsEventStoreOptions<Rec>,
): Promise<EventStoreApi<Rec>> {
  if (typeof options !== 'object' || options === null) {
    throw EventStoreError.INVALID_ARGUMENT('EventStore.connect needs { servers, stream, serializer }')
  }
  const { servers, serializer } = options
  if (
    (typeof servers !== 'string' && !Array.isArray(servers)) ||
    servers.length === 0 ||
    (Array.isArray(servers) && servers.some((s) => typeof s !== 'string'))
  ) {
    throw EventStoreError.INVALID_ARGUMENT('EventStore.connect needs servers: a URL or a list of URLs')
  }
  if (typeof serializer?.encode !== 'function' || typeof serializer.decode !== 'function') {
    throw EventStoreError.INVALID_ARGUMENT('EventStore.connect needs a serializer')
  }
  const stream = checkStreamName(options.stream)
  const prefix = checkSubjectPrefix(options.subjectPrefix ?? `waltz-es.${stream}`)
  const replicas = int('replicas', options.replicas, 1, 1)
  const duplicateWindowMs = int('duplicateWindowMs', options.duplicateWindowMs, 1, 120_000)
  const idempotencyWindow = int(
    'idempotencyWindow',
    options.idempotencyWindow,
    0,
    EVENTSTORE_DEFAULTS.idempotencyWindow,
  )
  const timeoutMs = int('timeoutMs', options.timeoutMs, 1, 5000)
  const binding: StreamBinding = {
    stream,
    prefix,
    checkpointStream: `${stream}_CHECKPOINTS`,
    checkpointPrefix: `${prefix}-checkpoints`,
  }
  const nc = await openConnection(options, timeoutMs)
  try {
    const deadline = setupDeadline(timeoutMs)
    const jsm = await reachJetStream(nc, timeoutMs, deadline)
    const direct = await bindStreams(jsm, binding, replicas, duplicateWindowMs, deadline)
    const js = jetstream(nc, { timeout: timeoutMs })
    const store = new NatsEventStore<Rec>({
      nc,
      js,
      jsm,
      binding,
      direct,
      serializer,
      idempotencyWindow,
      timeoutMs,
      logger: options.logger ?? silentLogger,
    })
    await store.refreshPosition()
    return store
  } catch (err) {
    await nc.close().catch(() => {})
    throw err
  }
}
