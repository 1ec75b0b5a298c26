/**
 * Connecting to the servers and creating (or binding) the two JetStream streams of a connected store:
 * the events (`<subjectPrefix>.>`) and the consumers' checkpoints (`<subjectPrefix>-checkpoints.>`,
 * one message kept per subject).
 */
import {
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from '@nats-io/jetstream'
import { connect, type NatsConnection, nanos } from '@nats-io/transport-node'
import { EventStoreError } from '../errors.js'
import { unavailable } from './nats-errors.js'
import type { NatsEventStoreOptions } from './options.js'

const STREAM_NAME = /^[A-Za-z0-9_-]{1,200}$/

/** What a connected store is bound to. */
export interface StreamBinding {
  /** The events' JetStream stream. */
  stream: string
  /** Its subject prefix. */
  prefix: string
  /** The checkpoints' JetStream stream. */
  checkpointStream: string
  /** The checkpoints' subject prefix. */
  checkpointPrefix: string
}

/**
 * Opens the connection.
 *
 * @throws EventStoreError `EVENTSTORE_UNAVAILABLE`
 */
export async function openConnection(
  options: NatsEventStoreOptions,
  timeoutMs: number,
): Promise<NatsConnection> {
  const servers = typeof options.servers === 'string' ? [options.servers] : [...options.servers]
  try {
    return await connect({
      servers,
      timeout: timeoutMs,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      ...(options.name !== undefined && { name: options.name }),
      ...(options.user !== undefined && { user: options.user }),
      ...(options.pass !== undefined && { pass: options.pass }),
      ...(options.token !== undefined && { token: options.token }),
    })
  } catch (err) {
    throw unavailable(`connecting to ${servers.join(', ')}`, err)
  }
}

/** How long connecting waits for JetStream (a cluster electing its meta leader answers nothing meanwhile), ms. */
export function setupDeadline(timeoutMs: number): number {
  return Date.now() + Math.max(3 * timeoutMs, 15_000)
}

/**
 * The JetStream manager of `nc`, once JetStream answers (retried until `deadline`).
 *
 * @throws EventStoreError `EVENTSTORE_UNAVAILABLE`
 */
export async function reachJetStream(
  nc: NatsConnection,
  timeoutMs: number,
  deadline: number,
): Promise<JetStreamManager> {
  for (;;) {
    try {
      return await jetstreamManager(nc, { timeout: timeoutMs })
    } catch (err) {
      if (Date.now() > deadline) throw unavailable('reaching JetStream', err)
      await new Promise((r) => setTimeout(r, 250))
    }
  }
}

/**
 * Checks a JetStream stream name.
 *
 * @throws EventStoreError `EVENTSTORE_INVALID_ARGUMENT`
 */
export function checkStreamName(name: unknown): string {
  if (typeof name !== 'string' || !STREAM_NAME.test(name)) {
    throw EventStoreError.INVALID_ARGUMENT(
      `stream must be a JetStream stream name of A-Z a-z 0-9 _ - (up to 200), got ${String(name)}`,
    )
  }
  return name
}

/**
 * Creates the stream `config.name` if it is missing; when it exists, checks it captures the subjects.
 * While a cluster elects its JetStream leader, requests fail for a moment: they are retried until
 * `deadline`.
 *
 * @returns whether the stream (created now or before) answers direct gets (`allow_direct`)
 *
 * @throws EventStoreError `EVENTSTORE_INVALID_ARGUMENT` (an existing stream captures other subjects),
 *   `EVENTSTORE_UNAVAILABLE`
 */
async function ensureStream(
  jsm: JetStreamManager,
  config: Partial<StreamConfig> & { name: string; subjects: string[] },
  deadline: number,
): Promise<boolean> {
  for (;;) {
    try {
      const info = await jsm.streams.info(config.name).catch((err: unknown) => {
        if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound)
          return undefined
        throw err
      })
      if (info === undefined) return (await jsm.streams.add(config)).config.allow_direct === true
      const subjects = info.config.subjects ?? []
      if (subjects.length !== 1 || subjects[0] !== config.subjects[0]) {
        throw EventStoreError.INVALID_ARGUMENT(
          `JetStream stream ${config.name} captures ${JSON.stringify(subjects)}, not just ${config.subjects[0]}`,
        )
      }
      return info.config.allow_direct === true
    } catch (err) {
      if (err instanceof EventStoreError || Date.now() > deadline)
        throw unavailable(`creating stream ${config.name}`, err)
      await new Promise((r) => setTimeout(r, 250))
    }
  }
}

/**
 * Creates or binds the events' and the checkpoints' streams. A new events stream answers direct gets
 * (`allow_direct`: every replica answers `$JS.API.DIRECT.GET`, outside the JetStream API queue); one
 * created by an earlier version without it is bound as it is, and read from its leader only.
 *
 * @returns whether the events' stream answers direct gets
 * @throws EventStoreError `EVENTSTORE_INVALID_ARGUMENT`, `EVENTSTORE_UNAVAILABLE`
 */
export async function bindStreams(
  jsm: JetStreamManager,
  binding: StreamBinding,
  replicas: number,
  duplicateWindowMs: number,
  deadline: number,
): Promise<boolean> {
  const direct = await ensureStream(
    jsm,
    {
      name: binding.stream,
      subjects: [`${binding.prefix}.>`],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      num_replicas: replicas,
      duplicate_window: nanos(duplicateWindowMs),
      allow_direct: true,
    },
    deadline,
  )
  await ensureStream(
    jsm,
    {
      name: binding.checkpointStream,
      subjects: [`${binding.checkpointPrefix}.>`],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      discard: DiscardPolicy.Old,
      num_replicas: replicas,
      max_msgs_per_subject: 1,
    },
    deadline,
  )
  return direct
}
