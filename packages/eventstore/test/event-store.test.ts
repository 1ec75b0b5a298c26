import { readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, describe, expect, test } from 'vitest'
import { collect } from '../../../test-support/collect.js'
import { rejection } from '../../../test-support/rejection.js'
import { tempDir } from '../../../test-support/temp-dir.js'
import { type EventStore, isEventStoreError } from '../src/index.js'
import { uuidv7 } from '../src/uuid.js'
import { events, openStore, type TestEvent } from './helpers.js'

const open: EventStore<TestEvent>[] = []
afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((s) => s.close()))
})

async function store(dir = tempDir(), options: Parameters<typeof openStore>[1] = {}) {
  const s = await openStore(dir, options)
  open.push(s)
  return s
}

describe('appendToStream', () => {
  test('revisions start at 1, positions are global seqs, created only for the first append', async () => {
    const s = await store()
    const a = await s.appendToStream('a', events(2))
    const b = await s.appendToStream('b', events(1))
    const a2 = await s.appendToStream('a', events(3))
    expect(a).toEqual({ nextExpectedRevision: 2, position: 2, created: true })
    expect(b).toEqual({ nextExpectedRevision: 1, position: 3, created: true })
    expect(a2).toEqual({ nextExpectedRevision: 5, position: 6, created: false })
    const read = await collect(s.readStream('a'))
    expect(read.map((e) => [e.revision, e.position, e.data])).toEqual([
      [1, 1, { i: 0 }],
      [2, 2, { i: 1 }],
      [3, 4, { i: 0 }],
      [4, 5, { i: 1 }],
      [5, 6, { i: 2 }],
    ])
    expect(read.every((e) => e.stream === 'a' && e.type === 'e')).toBe(true)
  })

  test.each([
    ['no_stream', 0, true],
    ['no_stream', 2, false],
    ['stream_exists', 0, false],
    ['stream_exists', 2, true],
    [2, 2, true],
    [1, 2, false],
    [0, 0, true],
    [3, 2, false],
    ['any', 0, true],
    ['any', 2, true],
  ] as const)('expectedRevision %s on a stream at revision %i: ok=%s', async (expected, at, ok) => {
    const s = await store()
    if (at > 0) await s.appendToStream('x', events(at))
    const p = s.appendToStream('x', events(1, 'f'), { expectedRevision: expected })
    if (ok) {
      expect((await p).nextExpectedRevision).toBe(at + 1)
    } else {
      const err = await rejection(p)
      expect(isEventStoreError(err, 'WRONG_EXPECTED_REVISION')).toBe(true)
      expect(err).toMatchObject({ stream: 'x', expected, actual: at })
      expect((await collect(s.readStream('x'))).length).toBe(at)
      expect(s.wal.lastSeq).toBe(at)
    }
  })

  test('a batch is one atomic WAL batch with consecutive positions', async () => {
    const s = await store()
    await s.appendToStream('other', events(1))
    const r = await s.appendToStream('x', events(4))
    const read = await collect(s.readStream('x'))
    expect(read.map((e) => e.position)).toEqual([2, 3, 4, 5])
    expect(r.position).toBe(5)
    expect(s.metrics().wal.batchesWritten).toBeGreaterThan(0)
  })

  test("two concurrent appends with the same expected revision in 'always' mode: exactly one wins", async () => {
    const s = await store(tempDir(), { sync: 'always' })
    await s.appendToStream('x', events(1))
    for (let round = 0; round < 20; round++) {
      const expected = round + 1
      const results = await Promise.allSettled([
        s.appendToStream('x', events(1, 'a'), { expectedRevision: expected }),
        s.appendToStream('x', events(1, 'b'), { expectedRevision: expected }),
        s.appendToStream('x', events(1, 'c'), { expectedRevision: expected }),
      ])
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
      for (const r of results) {
        if (r.status === 'rejected') expect(isEventStoreError(r.reason, 'WRONG_EXPECTED_REVISION')).toBe(true)
      }
    }
    const read = await collect(s.readStream('x'))
    expect(read.map((e) => e.revision)).toEqual(Array.from({ length: 21 }, (_, i) => i + 1))
  })

  test('concurrent appends with any on one stream get consecutive revisions', async () => {
    const s = await store(tempDir(), { sync: 'always' })
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => s.appendToStream('x', events(2, 'e', i))),
    )
    expect(results.map((r) => r.nextExpectedRevision).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 50 }, (_, i) => 2 * (i + 1)),
    )
    const read = await collect(s.readStream('x'))
    expect(read.map((e) => e.revision)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1))
  })

  test('after a conflict with an append in flight, aggregateStream folds that append', async () => {
    const s = await store(tempDir(), { sync: 'always' })
    const first = s.appendToStream('x', events(1), { expectedRevision: 0 })
    const conflict = await rejection(s.appendToStream('x', events(1), { expectedRevision: 0 }))
    expect(conflict).toMatchObject({ code: 'WRONG_EXPECTED_REVISION', actual: 1 })
    const folded = await s.aggregateStream('x', { initialState: () => 0, evolve: (n) => n + 1 })
    expect(folded).toMatchObject({ state: 1, revision: 1, exists: true })
    await first
  })

  test('revisions stay exact over more streams in flight than the in-flight map keeps idle', async () => {
    const s = await store(tempDir(), { sync: 'always' })
    const streams = Array.from({ length: 6000 }, (_, i) => `s-${i}`)
    // Rounds of 6,000 concurrent appends: the map sweeps idle entries while others are in flight.
    for (let round = 0; round < 3; round++) {
      const results = await Promise.all(
        streams.map((name, i) => s.appendToStream(name, events(1, 'e', i), { expectedRevision: round })),
      )
      expect(results.every((r) => r.nextExpectedRevision === round + 1)).toBe(true)
      expect(s.metrics().streamsInFlight).toBe(0)
    }
    // A stale expectation on a stream whose entry is idle (or swept) still conflicts.
    for (const name of ['s-0', 's-5999']) {
      const err = await rejection(s.appendToStream(name, events(1), { expectedRevision: 2 }))
      expect(err).toMatchObject({ code: 'WRONG_EXPECTED_REVISION', actual: 3 })
    }
    expect((await collect(s.readStream('s-4321'))).map((e) => e.revision)).toEqual([1, 2, 3])
  })

  test('ids default to UUIDv7; ids and metadata round-trip', async () => {
    const s = await store()
    await s.appendToStream('x', [
      { type: 'e', data: 1 },
      { type: 'e', data: 2, id: 'my-id', metadata: { correlation: 'c1', '': 'empty key' } },
    ])
    const [a, b] = await collect(s.readStream('x'))
    expect(a!.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(a!.metadata).toEqual({})
    expect(b!.id).toBe('my-id')
    expect(b!.metadata).toEqual({ correlation: 'c1', '': 'empty key' })
  })

  test('retrying an append with the same ids and expected revision returns the original result', async () => {
    const s = await store()
    const batch = [
      { type: 'e', data: 1, id: 'id-1' },
      { type: 'e', data: 2, id: 'id-2' },
    ]
    const first = await s.appendToStream('x', batch, { expectedRevision: 'no_stream' })
    await s.appendToStream('x', events(1))
    const retry = await s.appendToStream('x', batch, { expectedRevision: 0 })
    expect(retry).toEqual(first)
    const retryNoStream = await s.appendToStream('x', batch, { expectedRevision: 'no_stream' })
    expect(retryNoStream).toEqual(first)
    expect((await collect(s.readStream('x'))).length).toBe(3)
    // Different ids at that revision are a real conflict.
    const err = await rejection(
      s.appendToStream('x', [{ type: 'e', data: 1, id: 'id-9' }], { expectedRevision: 0 }),
    )
    expect(err).toMatchObject({ code: 'WRONG_EXPECTED_REVISION', actual: 3 })
    // Only a prefix of the stored ids is not the same append.
    const partial = await rejection(
      s.appendToStream('x', [batch[0]!, { type: 'e', data: 3, id: 'id-3' }], { expectedRevision: 0 }),
    )
    expect(partial).toMatchObject({ code: 'WRONG_EXPECTED_REVISION' })
  })

  test("with 'any', a retry within the idempotency window writes nothing; outside it, it appends", async () => {
    const s = await store(tempDir(), { idempotencyWindow: 4 })
    const batch = [{ type: 'e', data: 1, id: uuidv7() }]
    const first = await s.appendToStream('x', batch)
    await s.appendToStream('x', events(3))
    expect(await s.appendToStream('x', batch)).toEqual(first)
    expect(s.wal.lastSeq).toBe(4)
    await s.appendToStream('x', events(1))
    const late = await s.appendToStream('x', batch)
    expect(late.nextExpectedRevision).toBe(6)
  })

  test.each([
    ['any', 'always'],
    ['any', 'os-cache'],
    ['stream_exists', 'os-cache'],
    ['no_stream', 'os-cache'],
  ] as const)(
    "a retry racing its original (same ids, %s, sync '%s') is stored once",
    async (expectedRevision, sync) => {
      const s = await store(tempDir(), { sync })
      await s.appendToStream('x', events(1))
      // 'no_stream' passes for a deleted stream (its revisions go on).
      if (expectedRevision === 'no_stream') await s.deleteStream('x')
      const batch = [
        { type: 'e', data: 1, id: 'r-1' },
        { type: 'e', data: 2, id: 'r-2' },
      ]
      const results = await Promise.all([
        s.appendToStream('x', batch, { expectedRevision }),
        s.appendToStream('x', batch, { expectedRevision }),
      ])
      expect(results[1]).toEqual(results[0])
      const ids = (await collect(s.readAll())).map((e) => e.id)
      expect(ids.slice(1)).toEqual(['r-1', 'r-2'])
    },
  )

  test("a 'no_stream' retry whose original was deleted since is recognised, not written again", async () => {
    const s = await store()
    const batch = [{ type: 'e', data: 1, id: 'once' }]
    const original = await s.appendToStream('x', batch, { expectedRevision: 'no_stream' })
    await s.deleteStream('x')
    expect(await s.appendToStream('x', batch, { expectedRevision: 'no_stream' })).toEqual(original)
    expect(s.wal.lastSeq).toBe(2)
  })

  test('idempotencyWindow 0 turns the window look off for every expectation but a number', async () => {
    const s = await store(tempDir(), { idempotencyWindow: 0 })
    const batch = [{ type: 'e', data: 1, id: 'a' }]
    const first = await s.appendToStream('x', batch, { expectedRevision: 'no_stream' })
    expect(
      (await s.appendToStream('x', batch, { expectedRevision: 'stream_exists' })).nextExpectedRevision,
    ).toBe(2)
    expect((await s.appendToStream('x', batch)).nextExpectedRevision).toBe(3)
    await expect(s.appendToStream('x', batch, { expectedRevision: 'no_stream' })).rejects.toMatchObject({
      code: 'WRONG_EXPECTED_REVISION',
    })
    expect(await s.appendToStream('x', batch, { expectedRevision: 0 })).toEqual(first)
  })

  test('a retry after a restart is still recognised', async () => {
    const dir = tempDir()
    const s = await store(dir)
    const batch = [{ type: 'e', data: 1, id: 'once' }]
    const first = await s.appendToStream('x', batch, { expectedRevision: 'no_stream' })
    await s.close()
    const again = await store(dir)
    expect(await again.appendToStream('x', batch, { expectedRevision: 'no_stream' })).toEqual(first)
    expect(again.wal.lastSeq).toBe(1)
  })

  test('bad arguments are typed errors and write nothing', async () => {
    const s = await store()
    const cases: [string, unknown, unknown, unknown][] = [
      ['', events(1), {}, 'EVENTSTORE_INVALID_ARGUMENT'],
      ['x', [], {}, 'EVENTSTORE_INVALID_ARGUMENT'],
      ['x', [{ type: '$deleted', data: 1 }], {}, 'EVENTSTORE_INVALID_ARGUMENT'],
      ['x', [{ type: '', data: 1 }], {}, 'EVENTSTORE_INVALID_ARGUMENT'],
      ['x', [{ type: 'e', data: 1, metadata: { $id: 'x' } }], {}, 'EVENTSTORE_INVALID_ARGUMENT'],
      ['x', [{ type: 'e', data: 1, metadata: { a: 1 } }], {}, 'EVENTSTORE_INVALID_ARGUMENT'],
      ['x', [{ type: 'e', data: 1, id: '' }], {}, 'EVENTSTORE_INVALID_ARGUMENT'],
      ['x', events(1), { expectedRevision: -1 }, 'EVENTSTORE_INVALID_ARGUMENT'],
      ['x', events(1), { expectedRevision: 'latest' }, 'EVENTSTORE_INVALID_ARGUMENT'],
      ['\ud800', events(1), {}, 'EVENTSTORE_INVALID_ARGUMENT'],
      ['x'.repeat(70_000), events(1), {}, 'EVENTSTORE_INVALID_ARGUMENT'],
      ['x', [{ type: 'e', data: 1n }], {}, 'WAL_SERIALIZER_ERROR'],
    ]
    for (const [stream, evs, options, code] of cases) {
      // biome-ignore lint/suspicious/noExplicitAny: deliberately malformed input
      const err = await rejection(s.appendToStream(stream, evs as any, options as any))
      expect(err, `${JSON.stringify(stream).slice(0, 20)} ${JSON.stringify(options)}`).toMatchObject({ code })
    }
    expect(s.wal.lastSeq).toBe(0)
    expect(await s.appendToStream('x', events(1))).toMatchObject({ nextExpectedRevision: 1 })
  })

  test('an event larger than maxRecordSize is refused before anything is reserved', async () => {
    const s = await store(tempDir(), { maxRecordSize: 1024 })
    const err = await rejection(s.appendToStream('x', [{ type: 'e', data: 'y'.repeat(2000) }]))
    expect(err).toMatchObject({ code: 'EVENTSTORE_INVALID_ARGUMENT' })
    expect((await s.appendToStream('x', events(1))).nextExpectedRevision).toBe(1)
  })
})

describe('reads', () => {
  test('readStream: from, backwards, maxCount', async () => {
    const s = await store()
    for (let i = 0; i < 10; i++) {
      await s.appendToStream('x', events(1, 'e', i))
      await s.appendToStream('y', events(1, 'e', i))
    }
    const revs = async (o: Parameters<typeof s.readStream>[1]) =>
      (await collect(s.readStream('x', o))).map((e) => e.revision)
    expect(await revs({})).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    expect(await revs({ from: 8 })).toEqual([8, 9, 10])
    expect(await revs({ from: 3, maxCount: 2 })).toEqual([3, 4])
    expect(await revs({ direction: 'backwards' })).toEqual([10, 9, 8, 7, 6, 5, 4, 3, 2, 1])
    expect(await revs({ direction: 'backwards', from: 4 })).toEqual([4, 3, 2, 1])
    expect(await revs({ direction: 'backwards', maxCount: 3 })).toEqual([10, 9, 8])
    expect(await revs({ from: 11 })).toEqual([])
    expect(await revs({ maxCount: 0 })).toEqual([])
    expect(await collect(s.readStream('nope'))).toEqual([])
    await expect(collect(s.readStream('x', { from: -1 }))).rejects.toMatchObject({
      code: 'EVENTSTORE_INVALID_ARGUMENT',
    })
  })

  test('readAll: positions, filters, backwards, markers skipped', async () => {
    const s = await store()
    await s.appendToStream('cart-1', [{ type: 'opened', data: 1 }])
    await s.appendToStream('order-1', [{ type: 'placed', data: 2 }])
    await s.appendToStream('cart-2', [
      { type: 'opened', data: 3 },
      { type: 'added', data: 4 },
    ])
    await s.deleteStream('order-1')
    const all = await collect(s.readAll())
    expect(all.map((e) => [e.position, e.stream, e.type])).toEqual([
      [1, 'cart-1', 'opened'],
      [2, 'order-1', 'placed'],
      [3, 'cart-2', 'opened'],
      [4, 'cart-2', 'added'],
    ])
    expect((await collect(s.readAll({ filter: { streamPrefix: 'cart-' } }))).map((e) => e.position)).toEqual([
      1, 3, 4,
    ])
    expect((await collect(s.readAll({ filter: { types: ['opened'] } }))).map((e) => e.position)).toEqual([
      1, 3,
    ])
    expect((await collect(s.readAll({ from: 3 }))).map((e) => e.position)).toEqual([3, 4])
    expect(
      (await collect(s.readAll({ direction: 'backwards', maxCount: 2 }))).map((e) => e.position),
    ).toEqual([4, 3])
    expect((await collect(s.readAll({ direction: 'backwards', from: 2 }))).map((e) => e.position)).toEqual([
      2, 1,
    ])
  })

  test('a long stream spread over many index tables and segments reads whole, both ways', async () => {
    const s = await store(tempDir(), { indexFlushEvents: 16, segmentSize: 4096 })
    for (let i = 0; i < 300; i++) await s.appendToStream(`s-${i % 3}`, events(1, 'e', i))
    const read = await collect(s.readStream('s-1'))
    expect(read.map((e) => e.data)).toEqual(Array.from({ length: 100 }, (_, k) => ({ i: 3 * k + 1 })))
    const back = await collect(s.readStream('s-1', { direction: 'backwards', from: 50, maxCount: 20 }))
    expect(back.map((e) => e.revision)).toEqual(Array.from({ length: 20 }, (_, k) => 50 - k))
    expect(s.metrics().index.tables).toBeGreaterThan(0)
  })

  test('aggregateStream folds the visible events', async () => {
    const s = await store()
    await s.appendToStream('x', events(4))
    const agg = await s.aggregateStream('x', {
      initialState: () => 0,
      evolve: (sum, e) => sum + (e.data as { i: number }).i,
    })
    expect(agg).toEqual({ state: 6, revision: 4, exists: true })
    expect(await s.aggregateStream('none', { initialState: () => 0, evolve: (n) => n + 1 })).toEqual({
      state: 0,
      revision: 0,
      exists: false,
    })
  })
})

describe('deletes', () => {
  test('soft delete hides events; an append recreates the stream with revisions continuing', async () => {
    const s = await store()
    await s.appendToStream('x', events(3))
    const del = await s.deleteStream('x', { expectedRevision: 3 })
    expect(del.position).toBe(4)
    expect(await collect(s.readStream('x'))).toEqual([])
    expect(await s.streamExists('x')).toBe(false)
    expect((await s.aggregateStream('x', { initialState: () => 0, evolve: (n) => n + 1 })).exists).toBe(false)
    const again = await s.appendToStream('x', events(1, 'f'), { expectedRevision: 'no_stream' })
    expect(again).toEqual({ nextExpectedRevision: 4, position: 5, created: true })
    expect((await collect(s.readStream('x'))).map((e) => e.revision)).toEqual([4])
    expect(await s.streamExists('x')).toBe(true)
  })

  test('delete checks the expected revision', async () => {
    const s = await store()
    await s.appendToStream('x', events(2))
    await expect(s.deleteStream('x', { expectedRevision: 1 })).rejects.toMatchObject({
      code: 'WRONG_EXPECTED_REVISION',
      actual: 2,
    })
    expect(await s.streamExists('x')).toBe(true)
  })

  test('tombstone: appends and deletes fail forever, reads return nothing, also after reopen', async () => {
    const dir = tempDir()
    const s = await store(dir)
    await s.appendToStream('x', events(2))
    await s.tombstoneStream('x')
    for (const p of [
      s.appendToStream('x', events(1)),
      s.appendToStream('x', events(1), { expectedRevision: 'no_stream' }),
      s.deleteStream('x'),
      s.tombstoneStream('x'),
    ]) {
      expect(await rejection(p)).toMatchObject({ code: 'STREAM_TOMBSTONED', stream: 'x' })
    }
    expect(await collect(s.readStream('x'))).toEqual([])
    await s.close()
    const again = await store(dir)
    expect(await rejection(again.appendToStream('x', events(1)))).toMatchObject({ code: 'STREAM_TOMBSTONED' })
    expect(await again.streamExists('x')).toBe(false)
  })
})

describe('the stream index', () => {
  test('persists in table files and answers the same after reopen and after a rebuild', async () => {
    const dir = tempDir()
    const s = await store(dir, { indexFlushEvents: 10 })
    for (let i = 0; i < 200; i++) {
      await s.appendToStream(`s-${i % 13}`, events(1 + (i % 3), 'e', i))
      if (i % 50 === 49) await s.deleteStream(`s-${i % 13}`)
    }
    const snapshot = async (st: EventStore<TestEvent>) => {
      const out: Record<string, unknown> = {}
      for (let k = 0; k < 13; k++) {
        out[`s-${k}`] = {
          events: await collect(st.readStream(`s-${k}`)),
          exists: await st.streamExists(`s-${k}`),
          revision: (await st.aggregateStream(`s-${k}`, { initialState: () => 0, evolve: (n) => n }))
            .revision,
        }
      }
      return out
    }
    const live = await snapshot(s)
    await s.close()
    expect(readdirSync(join(dir, 'index')).filter((f) => f.endsWith('.wzi')).length).toBeGreaterThan(0)
    const reopened = await store(dir, { indexFlushEvents: 10 })
    expect(reopened.metrics().index.caughtUp).toBe(0)
    expect(await snapshot(reopened)).toEqual(live)
    await reopened.close()
    rmSync(join(dir, 'index'), { recursive: true })
    const rebuilt = await store(dir, { indexFlushEvents: 10 })
    expect(rebuilt.metrics().index.caughtUp).toBe(rebuilt.wal.lastSeq)
    expect(await snapshot(rebuilt)).toEqual(live)
  })

  test('a store that crashed without closing catches its index up from the WAL', async () => {
    const dir = tempDir()
    const s = await openStore(dir, { indexFlushEvents: 1000, sync: 'always' })
    await s.appendToStream('x', events(5))
    // Simulate the crash: release the lock and drop the process state without closing the index.
    await s.wal.close()
    const again = await store(dir)
    expect(again.metrics().index.caughtUp).toBe(5)
    expect((await collect(again.readStream('x'))).length).toBe(5)
  })
})

describe('subscriptions', () => {
  test('subscribeToStream catches up, then follows new events until aborted', async () => {
    const s = await store()
    await s.appendToStream('x', events(2))
    await s.appendToStream('y', events(1))
    const controller = new AbortController()
    const seen: number[] = []
    const done = (async () => {
      for await (const e of s.subscribeToStream('x', { signal: controller.signal })) {
        seen.push(e.revision)
        if (seen.length === 4) controller.abort()
      }
    })()
    await s.appendToStream('y', events(1))
    await s.appendToStream('x', events(2))
    await done
    expect(seen).toEqual([1, 2, 3, 4])
  })

  test('subscribeToAll with a filter yields matching events in position order, live', async () => {
    const s = await store()
    await s.appendToStream('cart-1', events(1))
    const controller = new AbortController()
    const seen: string[] = []
    const done = (async () => {
      for await (const e of s.subscribeToAll({
        filter: { streamPrefix: 'cart-' },
        signal: controller.signal,
      })) {
        seen.push(`${e.stream}@${e.position}`)
        if (seen.length === 3) controller.abort()
      }
    })()
    await s.appendToStream('order-1', events(1))
    await s.appendToStream('cart-2', events(2))
    await done
    expect(seen).toEqual(['cart-1@1', 'cart-2@3', 'cart-2@4'])
  })

  test('subscriptions end when the store closes', async () => {
    const s = await openStore(tempDir())
    const iter = collect(s.subscribeToAll())
    await s.appendToStream('x', events(1))
    await s.close()
    expect((await iter).length).toBeLessThanOrEqual(1)
  })
})
