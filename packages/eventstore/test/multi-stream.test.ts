import { afterEach, describe, expect, test } from 'vitest'
import { collect } from '../../../test-support/collect.js'
import { tempDir } from '../../../test-support/temp-dir.js'
import type { EventStore } from '../src/index.js'
import { events, openStore, type TestEvent } from './helpers.js'

const open: EventStore<TestEvent>[] = []
afterEach(async () => {
  for (const s of open.splice(0)) await s.close()
})

async function store(options: Parameters<typeof openStore>[1] = {}) {
  const s = await openStore(tempDir(), options)
  open.push(s)
  return s
}

const ids = (s: EventStore<TestEvent>, stream: string) =>
  collect(s.readStream(stream)).then((es) => es.map((e) => (e.data as { i: number }).i))

describe('appendToStreams', () => {
  test('appends to several streams as one batch, with one result per stream', async () => {
    const s = await store({ sync: 'always' })
    await s.appendToStream('b', events(2))
    const [a, b] = await s.appendToStreams([
      { stream: 'a', events: events(3, 'e', 10), expectedRevision: 'no_stream' },
      { stream: 'b', events: events(1, 'e', 20), expectedRevision: 2 },
    ])
    expect(a).toMatchObject({ nextExpectedRevision: 3, created: true })
    expect(b).toMatchObject({ nextExpectedRevision: 3, created: false })
    // One batch: the parts are adjacent, in the order given.
    expect(b!.position).toBe(a!.position + 1)
    expect(await ids(s, 'a')).toEqual([10, 11, 12])
    expect(await ids(s, 'b')).toEqual([0, 1, 20])
    expect((await collect(s.readStream('a'))).map((e) => e.revision)).toEqual([1, 2, 3])
  })

  test('one failing check writes nothing to any stream', async () => {
    const s = await store()
    await s.appendToStream('b', events(2))
    await s.tombstoneStream('t')
    const before = s.wal.lastSeq
    const conflict = await s
      .appendToStreams([
        { stream: 'a', events: events(1), expectedRevision: 'no_stream' },
        { stream: 'b', events: events(1), expectedRevision: 1 },
      ])
      .catch((e: unknown) => e)
    expect(conflict).toMatchObject({ code: 'WRONG_EXPECTED_REVISION', stream: 'b', expected: 1, actual: 2 })
    const tombstoned = await s
      .appendToStreams([
        { stream: 'a', events: events(1) },
        { stream: 't', events: events(1) },
      ])
      .catch((e: unknown) => e)
    expect(tombstoned).toMatchObject({ code: 'STREAM_TOMBSTONED' })
    expect(s.wal.lastSeq).toBe(before)
    expect(await s.streamExists('a')).toBe(false)
  })

  test('bad calls are typed errors', async () => {
    const s = await store()
    const bad: unknown[] = [
      [],
      'a',
      [null],
      [{ stream: '', events: events(1) }],
      [{ stream: 'a', events: [] }],
      [{ stream: 'a', events: events(1), expectedRevision: -1 }],
      [
        { stream: 'a', events: events(1) },
        { stream: 'a', events: events(1) },
      ],
      [{ stream: 'a', events: [{ type: '$x', data: { i: 1 } }] }],
    ]
    for (const b of bad) {
      await expect(s.appendToStreams(b as never)).rejects.toMatchObject({
        code: 'EVENTSTORE_INVALID_ARGUMENT',
      })
    }
    expect(s.wal.lastSeq).toBe(0)
  })

  test('concurrent calls expecting the same revision of a shared stream: exactly one wins', async () => {
    const s = await store({ sync: 'always' })
    for (let round = 0; round < 20; round++) {
      const results = await Promise.allSettled(
        ['x', 'y'].map((other) =>
          s.appendToStreams([
            { stream: 'shared', events: events(1, 'e', round), expectedRevision: round },
            { stream: `${other}-${round}`, events: events(1), expectedRevision: 'no_stream' },
          ]),
        ),
      )
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
      const loser = results.find((r) => r.status === 'rejected') as PromiseRejectedResult
      expect(loser.reason).toMatchObject({ code: 'WRONG_EXPECTED_REVISION', stream: 'shared' })
      // The loser's other stream was not written.
      const written = await Promise.all(['x', 'y'].map((o) => s.streamExists(`${o}-${round}`)))
      expect(written.filter(Boolean)).toHaveLength(1)
    }
    expect(await ids(s, 'shared')).toEqual(Array.from({ length: 20 }, (_, i) => i))
  })

  test('a retry with the same ids returns the original results; a partial match is a conflict', async () => {
    const s = await store()
    const call = [
      { stream: 'a', events: [{ type: 'e', data: { i: 1 }, id: 'a-1' }], expectedRevision: 0 },
      { stream: 'b', events: [{ type: 'e', data: { i: 2 }, id: 'b-1' }], expectedRevision: 'any' as const },
    ]
    const first = await s.appendToStreams(call)
    expect(await s.appendToStreams(call)).toEqual(first)
    expect(await ids(s, 'a')).toEqual([1])
    expect(await ids(s, 'b')).toEqual([2])
    // Same ids on 'a', new ones on 'b': not the same call, and 'a' has moved on.
    const partial = await s
      .appendToStreams([call[0]!, { stream: 'b', events: [{ type: 'e', data: { i: 3 }, id: 'b-2' }] }])
      .catch((e: unknown) => e)
    expect(partial).toMatchObject({ code: 'WRONG_EXPECTED_REVISION', stream: 'a', actual: 1 })
    expect(await ids(s, 'b')).toEqual([2])
  })

  test('two identical calls in flight together are stored once (the second is a retry)', async () => {
    const s = await store({ sync: 'always' })
    await s.appendToStream('a', events(1))
    await s.appendToStream('b', events(1))
    const call = [
      { stream: 'a', events: [{ type: 'e', id: 'a-1', data: { i: 1 } }] },
      { stream: 'b', events: [{ type: 'e', id: 'b-1', data: { i: 2 } }] },
    ]
    for (let round = 0; round < 5; round++) {
      const results = await Promise.all([
        s.appendToStreams(call),
        s.appendToStreams(call),
        s.appendToStreams(call),
      ])
      expect(results[1]).toEqual(results[0])
      expect(results[2]).toEqual(results[0])
    }
    expect(await ids(s, 'a')).toEqual([0, 1])
    expect(await ids(s, 'b')).toEqual([0, 2])
  })

  test('an event at the size limit is refused alone; the store goes on', async () => {
    const s = await store({ maxRecordSize: 1024 })
    // Data that fits with the envelope alone, not with the headers the store adds.
    const big = { type: 'e', data: { i: 0, pad: 'x'.repeat(1024 - 66 - 16) } }
    for (const call of [
      () => s.appendToStream('s', [big]),
      () => s.appendToStreams([{ stream: 's', events: [big] }]),
    ]) {
      await expect(call()).rejects.toMatchObject({ code: 'EVENTSTORE_INVALID_ARGUMENT' })
    }
    await s.appendToStreams([{ stream: 't', events: events(1) }])
    expect(await ids(s, 't')).toEqual([0])
  })

  test('the index after a reopen holds every stream of a group', async () => {
    const dir = tempDir()
    const s = await openStore(dir, { indexFlushEvents: 4 })
    for (let i = 0; i < 10; i++) {
      await s.appendToStreams([
        { stream: `p-${i % 3}`, events: events(2, 'e', i * 2) },
        { stream: `q-${i % 4}`, events: events(1, 'e', i) },
      ])
    }
    await s.close()
    const again = await openStore(dir)
    open.push(again)
    expect(await ids(again, 'p-0')).toEqual([0, 1, 6, 7, 12, 13, 18, 19])
    expect(await ids(again, 'q-1')).toEqual([1, 5, 9])
  })
})
