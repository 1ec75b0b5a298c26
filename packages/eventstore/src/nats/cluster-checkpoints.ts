/**
 * The default checkpoint store of a connected store's consumers: in the cluster, so a consumer
 * resumes on any client. Each consumer's checkpoint is the last message of the subject
 * `<subjectPrefix>-checkpoints.<name>` of a stream that keeps one message per subject; its body is the
 * position in decimal. Reads go to the stream leader, so a checkpoint stored and acknowledged is the
 * one read next, from any client.
 */
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream'
import { type CheckpointStore, checkConsumerName } from '../checkpoint-file.js'
import { EventStoreError } from '../errors.js'
import { unavailable } from './nats-errors.js'
import type { StreamBinding } from './stream-setup.js'

/**
 * The {@link CheckpointStore} of a connected store.
 *
 * @param js - the JetStream client
 * @param jsm - the JetStream manager
 * @param binding - the streams
 * @param timeoutMs - publish timeout
 */
export function clusterCheckpoints(
  js: JetStreamClient,
  jsm: JetStreamManager,
  binding: StreamBinding,
  timeoutMs: number,
): CheckpointStore {
  const subject = (name: string) => `${binding.checkpointPrefix}.${checkConsumerName(name)}`
  return {
    async read(name) {
      const s = subject(name)
      let m: Awaited<ReturnType<JetStreamManager['streams']['getMessage']>>
      try {
        m = await jsm.streams.getMessage(binding.checkpointStream, { last_by_subj: s })
      } catch (err) {
        throw unavailable(`reading the checkpoint of consumer ${name}`, err)
      }
      if (m === null) return undefined
      const text = new TextDecoder().decode(m.data)
      const position = Number(text)
      if (!/^\d{1,16}$/.test(text) || !Number.isSafeInteger(position)) {
        throw EventStoreError.CHECKPOINT_CORRUPT(
          `the checkpoint of consumer ${name} is ${JSON.stringify(text)}`,
        )
      }
      return position
    },
    async store(name, position) {
      try {
        await js.publish(subject(name), String(position), { timeout: timeoutMs })
      } catch (err) {
        throw unavailable(`storing the checkpoint of consumer ${name}`, err)
      }
    },
  }
}
