// The engine on a real WAL and snapshot store in a temp dir: what it acknowledges is what recovery
// rebuilds, with any serializer, from a snapshot or from zero.
import { readdirSync } from 'node:fs'
import { Wal } from '@waltz/core'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { tempDir } from '../../../test-support/temp-dir.js'
import { applyEvent, emptyBook, hashBook } from '../src/book.js'
import { dataDirs, Engine, EngineStoppedError, type EngineWal, openEngine } from '../src/engine.js'
import type { Command, OrderEvent } from '../src/events.js'
import { OrderFlow } from '../src/flow.js'
import { runFlow, simulateFlow } from '../src/run.js'
import { type SerializerName, serializers } from '../src/serializers.js'
import { commands, FC } from './arbitraries.js'

async function replayFromZero(dir: string, serializer: SerializerName): Promise<string> {
  const wal = await Wal.openReader({ dir: dataDirs(dir).wal, serializer: serializers[serializer]() })
  const book = emptyBook()
  await wal.replayFrom(0, (record) => {
    applyEvent(book, record)
  })
  await wal.close()
  return hashBook(book)
}

describe('recovery through a real WAL and snapshots', () => {
  it('rebuilds the in-memory book exactly, from a snapshot + tail and from zero (fast-check)', async () => {
    await fc.assert(
      fc.asyncProperty(
        commands(300),
        fc.integer({ min: 3, max: 60 }),
        fc.constantFrom<SerializerName>('binary', 'proto'),
        async (cmds, snapshotEvery, serializer) => {
          const dir = tempDir()
          const opened = await openEngine({ dir, serializer, snapshotEvery })
          // All at once: the appends overlap and share fsyncs, as with concurrent clients.
          const acks = await Promise.all(cmds.map((c) => opened.engine.submit(c)))
          const seqs = acks.map((a) => a.seq)
          expect(seqs).toEqual([...seqs].sort((a, b) => a - b)) // WAL order = decision order
          const hash = hashBook(opened.engine.book)
          await opened.close()

          const reopened = await openEngine({ dir, serializer })
          expect(hashBook(reopened.engine.book)).toBe(hash)
          expect(reopened.recovered.seq).toBe(acks.at(-1)?.seq ?? 0)
          if (reopened.recovered.seq >= snapshotEvery)
            expect(reopened.recovered.snapshotSeq).toBeGreaterThan(0)
          await reopened.close()
          expect(await replayFromZero(dir, serializer)).toBe(hash)
        },
      ),
      { ...FC, numRuns: 12 },
    )
  })

  it('gives the same book with the binary and the proto serializer (switching is one line)', async () => {
    const hashes: string[] = []
    for (const serializer of ['binary', 'proto'] as const) {
      const dir = tempDir()
      const opened = await openEngine({ dir, serializer, snapshotEvery: 1_000 })
      await runFlow({ engine: opened.engine, flow: new OrderFlow({ seed: 7 }), total: 3_000, clients: 32 })
      hashes.push(hashBook(opened.engine.book))
      await opened.close()
      const reopened = await openEngine({ dir, serializer })
      expect(reopened.wal.recovery.lastSeq).toBeGreaterThan(3_000)
      expect(hashBook(reopened.engine.book)).toBe(hashes.at(-1))
      await reopened.close()
      // A log written with one serializer is refused by the other, never misread.
      const other = serializer === 'binary' ? 'proto' : 'binary'
      await expect(openEngine({ dir, serializer: other })).rejects.toMatchObject({
        code: 'WAL_SERIALIZER_MISMATCH',
      })
    }
    expect(hashes[0]).toBe(hashes[1])
    expect(hashes[0]).toBe(hashBook(simulateFlow(new OrderFlow({ seed: 7 }), 3_000)))
  })

  it('resumes a flow after a restart to the same book as an uninterrupted run', async () => {
    const dir = tempDir()
    const first = await openEngine({ dir, snapshotEvery: 500 })
    await runFlow({ engine: first.engine, flow: new OrderFlow({ seed: 3 }), total: 1_200, clients: 16 })
    await first.close()
    expect(readdirSync(dataDirs(dir).snapshots).length).toBeGreaterThan(0)
    const second = await openEngine({ dir, snapshotEvery: 500 })
    expect(second.engine.book.commands).toBe(1_200)
    const flow = new OrderFlow({ seed: 3 })
    flow.skip(second.engine.book.commands)
    await runFlow({ engine: second.engine, flow, total: 2_500, clients: 16 })
    const hash = hashBook(second.engine.book)
    await second.close()
    expect(hash).toBe(hashBook(simulateFlow(new OrderFlow({ seed: 3 }), 2_500)))
  })
})

describe('the engine and a failing WAL', () => {
  const limit: Command = { kind: 'limit', accountId: 'a', side: 1, price: 100, quantity: 5 }

  it('stops after a failed append: later commands are refused, none is decided', async () => {
    let lastSeq = 0
    const wal: EngineWal = {
      get lastSeq() {
        return lastSeq
      },
      appendBatch: (events) => {
        lastSeq += events.length
        return Promise.reject(new Error('WAL_IO: disk on fire'))
      },
    }
    const engine = new Engine(wal, emptyBook(), 0)
    await expect(engine.submit(limit)).rejects.toBeInstanceOf(EngineStoppedError)
    expect(engine.stopped).toBeInstanceOf(EngineStoppedError)
    const commandsBefore = engine.book.commands
    await expect(engine.submit(limit)).rejects.toBeInstanceOf(EngineStoppedError)
    expect(engine.book.commands).toBe(commandsBefore)
  })

  it('decides nothing further while a batch the WAL did not number at once is pending', async () => {
    let lastSeq = 0
    const appended: OrderEvent[][] = []
    const pending: {
      events: readonly OrderEvent[]
      resolve: (seq: number) => void
      reject: (e: Error) => void
    }[] = []
    const wal: EngineWal = {
      get lastSeq() {
        return lastSeq
      },
      appendBatch: (events) => new Promise((resolve, reject) => pending.push({ events, resolve, reject })), // not numbered yet
    }
    const engine = new Engine(wal, emptyBook(), 0)
    const first = engine.submit(limit)
    const second = engine.submit({ ...limit, side: 2 })
    expect(engine.book.commands).toBe(1) // the second waits undecided
    const p = pending.shift()!
    appended.push([...p.events])
    lastSeq += p.events.length
    p.resolve(lastSeq)
    await first
    await Promise.resolve()
    expect(engine.book.commands).toBe(2)
    const q = pending.shift()!
    q.reject(new Error('encode failed'))
    await expect(second).rejects.toBeInstanceOf(EngineStoppedError)
    await expect(engine.submit(limit)).rejects.toBeInstanceOf(EngineStoppedError)
  })
})
