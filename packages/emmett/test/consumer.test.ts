import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  type Checkpointer,
  EmmettError,
  getCheckpoint,
  MessageProcessor,
  projection,
  projector,
  reactor,
} from '@event-driven-io/emmett'
import { isEventStoreError } from '@waltz/eventstore'
import { describe, expect, test } from 'vitest'
import { tempDir } from '../../../test-support/temp-dir.js'
import { type WaltzEventStoreConsumer, type WaltzReadEvent, waltzEventStoreConsumer } from '../src/index.js'
import { added, discounted, openStores } from './helpers.js'

type N = { type: 'n'; data: { n: number } }
const n = (value: number): N => ({ type: 'n', data: { n: value } })

/** Waits until `done()` holds (fails after 5 s). */
async function until(done: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000
  while (!done()) {
    if (Date.now() > deadline) throw new Error('timed out')
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
}

const caughtUp = (consumer: WaltzEventStoreConsumer) => until(() => consumer.lag === 0)

/**
 * emmett checkpoints in a JSON file, as a projection's database would keep them: they outlive the
 * process. `failAt` makes storing the checkpoint of that position throw once (a crash after the
 * handler's effect, before its checkpoint).
 */
function fileCheckpoints(path: string, failAt?: bigint): Checkpointer {
  const load = (): Record<string, string> => (existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : {})
  let failed = false
  return {
    read: async ({ processorId }) => {
      const stored = load()[processorId]
      return { lastCheckpoint: stored === undefined ? null : BigInt(stored) }
    },
    store: async ({ processorId, message }) => {
      const newCheckpoint = getCheckpoint(message) as bigint
      if (newCheckpoint === failAt && !failed) {
        failed = true
        throw new Error(`crash before checkpoint ${newCheckpoint}`)
      }
      writeFileSync(path, JSON.stringify({ ...load(), [processorId]: String(newCheckpoint) }))
      return { success: true, newCheckpoint }
    },
  }
}

describe('waltzEventStoreConsumer', () => {
  test('processors see every event in global order, with emmett metadata, then new ones as they come', async () => {
    const { waltz, eventStore } = await openStores(tempDir())
    await eventStore.appendToStream('cart-1', [added()])
    await eventStore.appendToStream('cart-2', [added(), discounted()])
    await waltz.appendToStream('audit', [{ type: 'Audited', data: {} }]) // written by waltz directly
    await eventStore.appendToStream('cart-1', [{ ...discounted(), metadata: { messageId: 'm-1' } }])
    const seen: WaltzReadEvent[] = []
    const all = reactor<WaltzReadEvent>({
      processorId: 'all',
      eachMessage: (message) => void seen.push(message as WaltzReadEvent),
    })
    const totals = new Map<string, number>()
    const carts = projector({
      projection: projection<WaltzReadEvent>({
        name: 'items',
        canHandle: ['ProductItemAdded'],
        handle: async (events) => {
          for (const e of events) {
            const stream = e.metadata.streamName
            totals.set(stream, (totals.get(stream) ?? 0) + 1)
          }
        },
      }),
    })
    const consumer = eventStore.consumer({ processors: [all, carts] })
    await consumer.start()
    expect(consumer.isRunning).toBe(true)
    await caughtUp(consumer)
    await eventStore.appendToStream('cart-2', [added()])
    await until(() => seen.length === 6)
    await caughtUp(consumer)
    expect(
      seen.map((e) => [e.metadata.streamName, e.metadata.streamPosition, e.metadata.globalPosition]),
    ).toEqual([
      ['cart-1', 1n, 1n],
      ['cart-2', 1n, 2n],
      ['cart-2', 2n, 3n],
      ['audit', 1n, 4n],
      ['cart-1', 2n, 5n],
      ['cart-2', 3n, 6n],
    ])
    // Exactly what a stream read returns, for the processor as for readStream.
    expect(seen.filter((e) => e.metadata.streamName === 'cart-1')).toEqual(
      (await eventStore.readStream('cart-1')).events,
    )
    expect(seen[4]!.metadata.messageId).toBe('m-1')
    expect(Object.fromEntries(totals)).toEqual({ 'cart-1': 1, 'cart-2': 2 })
    await consumer.close()
    expect(consumer.isRunning).toBe(false)
    expect(all.isActive).toBe(false)
  })

  test('after a restart a processor resumes after its checkpoint; a crash before a checkpoint hands the event over again (at-least-once)', async () => {
    const dir = tempDir()
    const checkpoints = join(dir, 'checkpoints.json')
    const handled: number[][] = [[], []]
    const errors: unknown[] = []
    const run = async (round: 0 | 1, append: number[], failAt?: bigint) => {
      const { waltz, eventStore } = await openStores(join(dir, 'store'))
      for (const value of append) await eventStore.appendToStream('s', [n(value)])
      const processor = reactor<N>({
        processorId: 'numbers',
        checkpoints: fileCheckpoints(checkpoints, failAt),
        eachMessage: (message) => void handled[round]!.push(message.data.n),
      })
      const consumer = waltzEventStoreConsumer({
        eventStore: waltz,
        processors: [processor],
        batchSize: 2,
        onError: (error, processorId) => errors.push([processorId, (error as Error).message]),
      })
      await consumer.start()
      return { waltz, consumer }
    }
    // First process: the checkpoint of event 4 is never stored (as if the process died there).
    const first = await run(0, [1, 2, 3, 4, 5], 4n)
    await until(() => errors.length === 1)
    expect(errors).toEqual([['numbers', 'crash before checkpoint 4']])
    expect(first.consumer.isRunning).toBe(false)
    expect(handled[0]).toEqual([1, 2, 3, 4])
    expect(JSON.parse(readFileSync(checkpoints, 'utf8'))).toEqual({ numbers: '3' })
    await first.consumer.close()
    await first.waltz.close()
    // Second process, same store and checkpoints, two more events.
    const second = await run(1, [6, 7])
    await caughtUp(second.consumer)
    expect(handled[1]).toEqual([4, 5, 6, 7])
    expect(JSON.parse(readFileSync(checkpoints, 'utf8'))).toEqual({ numbers: '7' })
    // Stopped and started again without closing: the processor continues where it was.
    await second.consumer.stop()
    await second.waltz.appendToStream('s', [n(8)])
    await second.consumer.start()
    await caughtUp(second.consumer)
    expect(handled[1]).toEqual([4, 5, 6, 7, 8])
    await second.consumer.close()
  })

  test("startFrom 'END' sees new events only; a processor returning STOP stops its feed", async () => {
    const { waltz, eventStore } = await openStores(tempDir())
    await eventStore.appendToStream('s', [n(1), n(2)])
    const latest: number[] = []
    const stopping: number[] = []
    const consumer = eventStore.consumer({
      processors: [
        reactor<N>({
          processorId: 'latest',
          startFrom: 'END',
          eachMessage: (message) => void latest.push(message.data.n),
        }),
        reactor<N>({
          processorId: 'stopping',
          eachMessage: (message) => {
            stopping.push(message.data.n)
            return message.data.n === 2 ? MessageProcessor.result.stop({ reason: 'enough' }) : undefined
          },
        }),
      ],
    })
    await consumer.start()
    await eventStore.appendToStream('s', [n(3)])
    await until(() => latest.length === 1)
    await caughtUp(consumer)
    expect(latest).toEqual([3])
    expect(stopping).toEqual([1, 2])
    expect(consumer.processors[1]!.isActive).toBe(false)
    // The stopped feed leaves the store's consumers (it unregisters once its batch is done).
    await until(() => Object.keys(waltz.metrics().consumers).length === 1)
    expect(waltz.metrics().consumers).toEqual({ latest: 0 })
    await consumer.close()
  })

  test('refusals: no processors, a checkpoint that is not a position (no feed left running), the same processor twice', async () => {
    const { waltz, eventStore } = await openStores(tempDir())
    await expect(eventStore.consumer().start()).rejects.toBeInstanceOf(EmmettError)
    const odd = eventStore.consumer({
      processors: [
        reactor({ processorId: 'fine', eachMessage: () => {} }),
        reactor({ processorId: 'odd', startFrom: { lastCheckpoint: 'x' }, eachMessage: () => {} }),
      ],
    })
    const err = await odd.start().catch((e: unknown) => e)
    expect(isEventStoreError(err, 'EVENTSTORE_INVALID_ARGUMENT'), String(err)).toBe(true)
    expect(odd.isRunning).toBe(false) // the feed of 'fine' was stopped again
    expect(waltz.metrics().consumers).toEqual({})
    const one = eventStore.consumer({ processors: [reactor({ processorId: 'p', eachMessage: () => {} })] })
    const two = eventStore.consumer({ processors: [reactor({ processorId: 'p', eachMessage: () => {} })] })
    await one.start()
    const twice = await two.start().catch((e: unknown) => e)
    expect(isEventStoreError(twice, 'CONSUMER_RUNNING'), String(twice)).toBe(true)
    await one.close()
    expect(() => waltzEventStoreConsumer({} as never)).toThrow(/EVENTSTORE_INVALID_ARGUMENT/)
    await waltz.close()
  })
})
