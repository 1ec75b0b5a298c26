/**
 * The event store with retention over an archive: old segments leave local disk once archived and
 * once neither the stream index nor a running consumer needs them locally; reads, aggregates, readAll,
 * consumers from the start, and an index rebuilt from nothing still see every event, read from the
 * archive. Without an archive, retention is refused.
 */
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { directoryArchive } from '@waltz/core'
import { afterEach, describe, expect, test } from 'vitest'
import { tempDir } from '../../../test-support/temp-dir.js'
import type { EventStore, StoredEvent } from '../src/index.js'
import { events, openStore, type TestEvent } from './helpers.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
async function until(done: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms
  while (!done() && Date.now() < end) await sleep(5)
}

const open: EventStore<TestEvent>[] = []
afterEach(async () => {
  for (const s of open.splice(0)) await s.close()
})

const STREAMS = 20
const ROUNDS = 60
const SEGMENT_SIZE = 8 * 1024

/** A store whose segments are archived and removed locally beyond two segments. */
async function archivedStore(dir = tempDir(), archiveDir = tempDir()) {
  const s = await openStore(dir, {
    segmentSize: SEGMENT_SIZE,
    archive: directoryArchive(archiveDir),
    retention: { maxBytes: 2 * SEGMENT_SIZE },
    archiveCache: { dir: tempDir() },
  })
  open.push(s)
  return { s, dir, archiveDir }
}

/** Appends {@link ROUNDS} events to each of {@link STREAMS} streams, interleaved. */
async function fill(s: EventStore<TestEvent>): Promise<void> {
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < STREAMS; k++) {
      await s.appendToStream(`cart-${k}`, events(1, 'added', round), { expectedRevision: round })
    }
  }
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}

function expectStream(read: StoredEvent<TestEvent>[], stream: string): void {
  expect(read.map((e) => e.revision)).toEqual(Array.from({ length: ROUNDS }, (_, i) => i + 1))
  expect(read.map((e) => (e.data as { i: number }).i)).toEqual(Array.from({ length: ROUNDS }, (_, i) => i))
  for (const e of read) expect(e.stream).toBe(stream)
}

describe('event store retention over an archive', () => {
  test('refuses retention without an archive', async () => {
    const err = await openStore(tempDir(), { retention: { maxBytes: 1024 } }).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'EVENTSTORE_INVALID_ARGUMENT' })
    expect((err as Error).message).toContain('archive')
  })

  test('old segments leave local disk; every stream, readAll and aggregates still see every event', async () => {
    const { s } = await archivedStore()
    await fill(s)
    const total = STREAMS * ROUNDS
    await until(() => s.metrics().wal.archive.pending === 0 && s.metrics().wal.segments <= 4)
    const wal = s.metrics().wal
    expect(wal.retention.segmentsRemoved).toBeGreaterThan(5)
    // The index flushed its tables past what retention removed: keepFrom moved on.
    expect(s.keepFrom()).toBeGreaterThan(total / 2)

    for (const k of [0, 7, STREAMS - 1]) expectStream(await collect(s.readStream(`cart-${k}`)), `cart-${k}`)
    const backwards = await collect(s.readStream('cart-3', { direction: 'backwards', maxCount: 5 }))
    expect(backwards.map((e) => e.revision)).toEqual([60, 59, 58, 57, 56])
    const all = await collect(s.readAll())
    expect(all.map((e) => e.position)).toEqual(Array.from({ length: total }, (_, i) => i + 1))
    const agg = await s.aggregateStream('cart-5', {
      initialState: () => 0,
      evolve: (n: number) => n + 1,
    })
    expect(agg).toMatchObject({ state: ROUNDS, revision: ROUNDS, exists: true })
    expect(s.metrics().wal.archive.fetched).toBeGreaterThan(0)
  })

  test('an index rebuilt from nothing after a restart numbers every stream from the archived start', async () => {
    const { s, dir, archiveDir } = await archivedStore()
    await fill(s)
    await until(() => s.metrics().wal.archive.pending === 0 && s.metrics().wal.segments <= 4)
    expect(s.metrics().wal.retention.segmentsRemoved).toBeGreaterThan(5)
    await s.close()
    open.pop()
    rmSync(join(dir, 'index'), { recursive: true, force: true })
    const { s: again } = await archivedStore(dir, archiveDir)
    for (const k of [0, 11]) expectStream(await collect(again.readStream(`cart-${k}`)), `cart-${k}`)
    const next = await again.appendToStream('cart-0', events(1, 'added', ROUNDS), {
      expectedRevision: ROUNDS,
    })
    expect(next.nextExpectedRevision).toBe(ROUNDS + 1)
  })

  test('a running consumer holds retention back until it has handled the events', async () => {
    const { s } = await archivedStore()
    let release!: () => void
    const gate = new Promise<void>((r) => {
      release = r
    })
    const handled: number[] = []
    const consumer = s.consumer({
      name: 'slow',
      handler: async (batch) => {
        await gate
        for (const e of batch) handled.push(e.position)
      },
    })
    await consumer.start()
    await fill(s)
    await sleep(200)
    // The consumer has handled nothing: retention keeps everything from position 1 locally.
    expect(s.keepFrom()).toBe(1)
    expect(s.metrics().wal.retention.segmentsRemoved).toBe(0)
    release()
    await until(() => handled.length === STREAMS * ROUNDS)
    expect(handled).toEqual(Array.from({ length: STREAMS * ROUNDS }, (_, i) => i + 1))
    await consumer.stop()
  })

  test('a consumer started from the start after retention reads the archived events', async () => {
    const { s } = await archivedStore()
    await fill(s)
    await until(() => s.metrics().wal.archive.pending === 0 && s.metrics().wal.segments <= 4)
    expect(s.metrics().wal.retention.segmentsRemoved).toBeGreaterThan(5)
    const handled: number[] = []
    const consumer = s.consumer({
      name: 'late',
      handler: (batch) => {
        for (const e of batch) handled.push(e.position)
      },
    })
    await consumer.start()
    await until(() => handled.length === STREAMS * ROUNDS)
    expect(handled).toEqual(Array.from({ length: STREAMS * ROUNDS }, (_, i) => i + 1))
    await consumer.stop()
  })

  test("an archive that lost the log's oldest segments is EVENTSTORE_CORRUPT at open, never a partial readAll", async () => {
    const { s, dir } = await archivedStore()
    await fill(s)
    await until(() => s.metrics().wal.archive.pending === 0 && s.metrics().wal.segments <= 4)
    expect(s.metrics().wal.retention.segmentsRemoved).toBeGreaterThan(5)
    await s.close()
    open.pop()
    const err = await archivedStore(dir, tempDir()).catch((e: unknown) => e) // an empty archive
    expect(err).toMatchObject({ code: 'EVENTSTORE_CORRUPT' })
    expect((err as Error).message).toContain('archive')
  })
})
