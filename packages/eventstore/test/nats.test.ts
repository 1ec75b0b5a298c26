/**
 * The event store on NATS JetStream (`EventStore.connect`) against a real single nats-server: the
 * same semantics as the embedded store (expected revisions, reads, deletes, idempotent retries,
 * handleCommand, subscriptions, durable consumers), with the server enforcing concurrency.
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { jetstream, jetstreamManager, StorageType } from '@nats-io/jetstream'
import { headers } from '@nats-io/transport-node'
import { bytesSerializer, type RecordShape } from '@waltz/core'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { collect } from '../../../test-support/collect.js'
import { type NatsGroup, NO_NATS_SERVER, startServer } from '../../replicate-nats/test/nats.js'
import {
  EventStore,
  type EventStoreApi,
  handleCommand,
  isEventStoreError,
  type StoredEvent,
} from '../src/index.js'
import { decodeBody, encodeBody } from '../src/nats/message-format.js'
import { streamOfToken, streamToken } from '../src/nats/stream-subject.js'
import { events, json, type TestEvent } from './helpers.js'

test('stream names map to single subject tokens and back', () => {
  const names = ['cart-1', 'a.b', 'x y', '*', '>', 'a.*.>', 'é€😀', '~7E', 'under_score', 'tab\there', '%41']
  for (const name of names) {
    const token = streamToken(name)
    expect(token).toMatch(/^[A-Za-z0-9_~-]+$/)
    expect(streamOfToken(token)).toBe(name)
  }
  expect(streamToken('cart-1')).toBe('cart-1')
  expect(streamToken('a.b')).toBe('a~2Eb')
  expect(new Set(names.map(streamToken)).size).toBe(names.length)
  expect(() => streamToken('x'.repeat(700).replaceAll('x', '.'))).toThrow(/too long/)
})

test('a message body round-trips its events and refuses damaged bytes', () => {
  const body = [
    { type: 'opened', id: 'id-1', metadata: {}, data: new Uint8Array([1, 2, 3]) },
    { type: 'é', id: 'id-2', metadata: { by: 'ann', n: '' }, data: new Uint8Array(300).fill(7) },
  ]
  const bytes = encodeBody(body)
  expect(decodeBody(bytes, 2, 1)).toEqual(body)
  expect(() => decodeBody(bytes, 3, 1)).toThrow(/EVENTSTORE_CORRUPT/)
  expect(() => decodeBody(bytes.subarray(0, bytes.length - 1), 2, 1)).toThrow(/EVENTSTORE_CORRUPT/)
})

describe.skipIf(NO_NATS_SERVER)('EventStore.connect on a single nats-server', () => {
  let group: NatsGroup
  const stores: EventStoreApi<TestEvent>[] = []
  let streams = 0

  beforeAll(async () => {
    group = await startServer()
  }, 60_000)
  afterAll(async () => {
    await Promise.allSettled(stores.map((s) => s.close()))
  })

  /** A client of a fresh JetStream stream (or of `stream`). */
  async function connect(stream = `ES${++streams}`, options: { idempotencyWindow?: number } = {}) {
    const store = await EventStore.connect<TestEvent>({
      servers: group.urls,
      stream,
      serializer: json,
      ...options,
    })
    stores.push(store)
    return store
  }

  test('appends with every expectedRevision form, and reads back', async () => {
    const s = await connect()
    expect(await s.streamExists('cart-1')).toBe(false)
    const r1 = await s.appendToStream('cart-1', events(3), { expectedRevision: 'no_stream' })
    expect(r1).toMatchObject({ nextExpectedRevision: 3, created: true })
    expect(r1.position).toBeGreaterThan(0)
    const r2 = await s.appendToStream('cart-1', events(2, 'e', 3), { expectedRevision: 3 })
    expect(r2).toMatchObject({ nextExpectedRevision: 5, created: false })
    expect(r2.position).toBeGreaterThan(r1.position)
    expect(
      await s.appendToStream('cart-1', events(1, 'e', 5), { expectedRevision: 'stream_exists' }),
    ).toMatchObject({
      nextExpectedRevision: 6,
    })
    expect(await s.appendToStream('cart-1', events(1, 'e', 6))).toMatchObject({ nextExpectedRevision: 7 })
    expect(await s.streamExists('cart-1')).toBe(true)

    for (const [expected, actual] of [
      ['no_stream', 7],
      [3, 7],
      [8, 7],
    ] as const) {
      const err = await s.appendToStream('cart-1', events(1), { expectedRevision: expected }).catch((e) => e)
      expect(isEventStoreError(err, 'WRONG_EXPECTED_REVISION')).toBe(true)
      expect(err).toMatchObject({ stream: 'cart-1', expected, actual })
    }
    const none = await s
      .appendToStream('other', events(1), { expectedRevision: 'stream_exists' })
      .catch((e) => e)
    expect(none).toMatchObject({ code: 'WRONG_EXPECTED_REVISION', actual: 0 })
    expect(await s.streamExists('other')).toBe(false)

    const read = await collect(s.readStream('cart-1'))
    expect(read.map((e) => e.revision)).toEqual([1, 2, 3, 4, 5, 6, 7])
    expect(read.map((e) => (e.data as { i: number }).i)).toEqual([0, 1, 2, 3, 4, 5, 6])
    expect(read.slice(0, 3).every((e) => e.position === r1.position)).toBe(true)
    expect(read[0]).toMatchObject({ stream: 'cart-1', type: 'e', metadata: {} })
    expect(typeof read[0]!.id).toBe('string')
    expect(Math.abs(read[0]!.time - Date.now())).toBeLessThan(60_000)

    const revs = async (o: Parameters<typeof s.readStream>[1]) =>
      (await collect(s.readStream('cart-1', o))).map((e) => e.revision)
    expect(await revs({ from: 3, maxCount: 3 })).toEqual([3, 4, 5])
    expect(await revs({ direction: 'backwards' })).toEqual([7, 6, 5, 4, 3, 2, 1])
    expect(await revs({ direction: 'backwards', from: 4, maxCount: 2 })).toEqual([4, 3])
    expect(await revs({ from: 8 })).toEqual([])
    expect(await revs({ maxCount: 0 })).toEqual([])
    expect(await collect(s.readStream('never'))).toEqual([])
  })

  test('stream names with dots, wildcards, spaces and unicode are separate streams', async () => {
    const s = await connect()
    const names = ['a.b', 'a', 'a b', '*', '>', 'ünï.cödé 😀']
    for (const [i, name] of names.entries()) {
      await s.appendToStream(name, [{ type: 't', data: i, metadata: { who: name } }], {
        expectedRevision: 'no_stream',
      })
    }
    for (const [i, name] of names.entries()) {
      const read = await collect(s.readStream(name))
      expect(read).toHaveLength(1)
      expect(read[0]).toMatchObject({ stream: name, data: i, metadata: { who: name }, revision: 1 })
    }
    const all = await collect(s.readAll())
    expect(all.map((e) => e.stream)).toEqual(names)
  })

  test('readAll in position order, with filters, from, maxCount and backwards', async () => {
    const s = await connect()
    const a = await s.appendToStream('order-1', [
      { type: 'placed', data: 1 },
      { type: 'paid', data: 2 },
    ])
    const b = await s.appendToStream('cart-1', [{ type: 'opened', data: 3 }])
    await s.deleteStream('cart-1')
    const c = await s.appendToStream('order-2', [{ type: 'placed', data: 4 }])
    const all = await collect(s.readAll())
    expect(all.map((e) => [e.stream, e.type, e.position])).toEqual([
      ['order-1', 'placed', a.position],
      ['order-1', 'paid', a.position],
      ['cart-1', 'opened', b.position],
      ['order-2', 'placed', c.position],
    ])
    expect((await collect(s.readAll({ filter: { streamPrefix: 'order-' } }))).map((e) => e.data)).toEqual([
      1, 2, 4,
    ])
    expect((await collect(s.readAll({ filter: { types: ['placed'] } }))).map((e) => e.data)).toEqual([1, 4])
    expect((await collect(s.readAll({ from: b.position }))).map((e) => e.data)).toEqual([3, 4])
    expect((await collect(s.readAll({ maxCount: 3 }))).map((e) => e.data)).toEqual([1, 2, 3])
    expect((await collect(s.readAll({ direction: 'backwards' }))).map((e) => e.data)).toEqual([4, 3, 2, 1])
    expect(
      (await collect(s.readAll({ direction: 'backwards', from: b.position, maxCount: 2 }))).map(
        (e) => e.data,
      ),
    ).toEqual([3, 2])
    expect(s.position).toBeGreaterThanOrEqual(c.position)
  })

  test('soft delete hides events and revisions continue; tombstone refuses forever', async () => {
    const s = await connect()
    await s.appendToStream('s', events(2))
    const err = await s.deleteStream('s', { expectedRevision: 1 }).catch((e) => e)
    expect(err).toMatchObject({ code: 'WRONG_EXPECTED_REVISION', expected: 1, actual: 2 })
    const d = await s.deleteStream('s', { expectedRevision: 2 })
    expect(d.position).toBeGreaterThan(0)
    expect(await s.streamExists('s')).toBe(false)
    expect(await collect(s.readStream('s'))).toEqual([])
    expect((await s.aggregateStream('s', { initialState: () => 0, evolve: (n) => n + 1 })).exists).toBe(false)
    const r = await s.appendToStream('s', events(1, 'e', 9), { expectedRevision: 'no_stream' })
    expect(r).toMatchObject({ nextExpectedRevision: 3, created: true })
    expect((await collect(s.readStream('s'))).map((e) => [e.revision, e.data])).toEqual([[3, { i: 9 }]])

    await s.tombstoneStream('s', { expectedRevision: 3 })
    expect(await s.streamExists('s')).toBe(false)
    expect(await collect(s.readStream('s'))).toEqual([])
    for (const attempt of [
      () => s.appendToStream('s', events(1)),
      () => s.appendToStream('s', events(1), { expectedRevision: 'no_stream' }),
      () => s.deleteStream('s'),
      () => s.tombstoneStream('s'),
    ]) {
      expect(await attempt().catch((e) => e)).toMatchObject({ code: 'STREAM_TOMBSTONED', stream: 's' })
    }
    // Markers are not events: readAll skips them.
    expect((await collect(s.readAll())).map((e) => e.revision)).toEqual([1, 2, 3])
  })

  test('two clients appending with the same expected revision: exactly one wins, nothing else is written', async () => {
    const stream = `ES${++streams}`
    const a = await connect(stream)
    const b = await connect(stream)
    await a.appendToStream('acct', events(1), { expectedRevision: 'no_stream' })
    for (let round = 1; round <= 20; round++) {
      const results = await Promise.allSettled([
        a.appendToStream('acct', [{ type: 'a', data: round }], { expectedRevision: round }),
        b.appendToStream('acct', [{ type: 'b', data: round }], { expectedRevision: round }),
      ])
      const won = results.filter((r) => r.status === 'fulfilled')
      const lost = results.filter((r) => r.status === 'rejected')
      expect(won).toHaveLength(1)
      expect(lost).toHaveLength(1)
      expect((lost[0] as PromiseRejectedResult).reason).toMatchObject({
        code: 'WRONG_EXPECTED_REVISION',
        expected: round,
        actual: round + 1,
      })
    }
    const read = await collect(b.readStream('acct'))
    expect(read.map((e) => e.revision)).toEqual(Array.from({ length: 21 }, (_, i) => i + 1))
    expect(read.slice(1).map((e) => e.data)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1))
  })

  test("'any' appends from two clients all land, with gap-free revisions", async () => {
    const stream = `ES${++streams}`
    const a = await connect(stream)
    const b = await connect(stream)
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).appendToStream('hot', [{ type: 't', data: i }])),
    )
    expect(new Set(results.map((r) => r.nextExpectedRevision)).size).toBe(30)
    const read = await collect(a.readStream('hot'))
    expect(read.map((e) => e.revision)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1))
    expect(new Set(read.map((e) => e.data)).size).toBe(30)
  })

  test('a retried append with the same event ids returns the original result and writes nothing', async () => {
    const stream = `ES${++streams}`
    const a = await connect(stream)
    const batch = [
      { type: 'placed', data: 1, id: 'evt-1' },
      { type: 'paid', data: 2, id: 'evt-2' },
    ]
    const first = await a.appendToStream('order', batch, { expectedRevision: 'no_stream' })
    expect(first).toMatchObject({ nextExpectedRevision: 2, created: true })
    // The same call again, from another client (a reconnect): inside the duplicate window.
    const b = await connect(stream)
    expect(await b.appendToStream('order', batch, { expectedRevision: 'no_stream' })).toEqual(first)
    expect(await b.appendToStream('order', batch, { expectedRevision: 0 })).toEqual(first)
    expect(await b.appendToStream('order', batch)).toEqual(first)
    await a.appendToStream('order', events(1))
    // The embedded rule too: the ids right after the expected revision, after other appends.
    expect(await a.appendToStream('order', batch, { expectedRevision: 0 })).toEqual(first)
    expect((await collect(a.readStream('order'))).map((e) => e.id)).toEqual([
      'evt-1',
      'evt-2',
      expect.any(String),
    ])
    // Different ids at a stale revision conflict.
    const err = await a
      .appendToStream('order', [{ type: 'x', data: 0, id: 'evt-9' }], { expectedRevision: 0 })
      .catch((e) => e)
    expect(err).toMatchObject({ code: 'WRONG_EXPECTED_REVISION', actual: 3 })
  })

  test('an id retry outside the duplicate window is still recognised by the stored ids', async () => {
    const stream = `ES${++streams}`
    const store = await EventStore.connect<TestEvent>({
      servers: group.urls,
      stream,
      serializer: json,
      duplicateWindowMs: 100,
    })
    stores.push(store)
    const first = await store.appendToStream('o', [{ type: 't', data: 1, id: 'only' }])
    await new Promise((r) => setTimeout(r, 300))
    await store.appendToStream('o', events(2))
    expect(await store.appendToStream('o', [{ type: 't', data: 1, id: 'only' }])).toEqual(first)
    expect(
      await store.appendToStream('o', [{ type: 't', data: 1, id: 'only' }], { expectedRevision: 0 }),
    ).toEqual(first)
    expect((await collect(store.readStream('o'))).length).toBe(3)
  })

  test('a message stored after one its writer did not expect (a race a clustered 2.9 server lets through) does not count', async () => {
    const stream = `ES${++streams}`
    const s = await connect(stream)
    const first = await s.appendToStream('s', events(1))
    const second = await s.appendToStream('s', events(1, 'e', 1))
    // What the server stores when two publishes expecting `first` are in flight together: the loser
    // follows `second` but says it expected `first`.
    const nc = await group.connect()
    const h = headers()
    for (const [k, v] of Object.entries({
      'Waltz-Format': '1',
      'Waltz-Kind': 'events',
      'Waltz-Revision': '2',
      'Waltz-Deleted': '0',
      'Waltz-Count': '1',
      'Waltz-Time': String(Date.now()),
      'Waltz-Last': String(first.position),
    }))
      h.set(k, v)
    const body = encodeBody([{ type: 'lost', id: 'lost-1', metadata: {}, data: Buffer.from('"x"') }])
    // With the message id the store gives these events (a hash of the stream and the ids).
    const msgID = `wz1-${createHash('sha256')
      .update(JSON.stringify(['s', 'lost-1']))
      .digest('base64url')}`
    const lost = await jetstream(nc).publish(`waltz-es.${stream}.s`, body, { headers: h, msgID })
    await nc.close()
    expect(lost.seq).toBeGreaterThan(second.position)
    const read = async () => (await collect(s.readStream('s'))).map((e) => [e.revision, e.type])
    expect(await read()).toEqual([
      [1, 'e'],
      [2, 'e'],
    ])
    expect((await collect(s.readAll())).map((e) => e.type)).toEqual(['e', 'e'])
    expect(await s.appendToStream('s', [{ type: 'next', data: 3 }], { expectedRevision: 2 })).toMatchObject({
      nextExpectedRevision: 3,
    })
    expect(await read()).toEqual([
      [1, 'e'],
      [2, 'e'],
      [3, 'next'],
    ])
    expect((await collect(s.readAll({ from: lost.seq }))).map((e) => e.type)).toEqual(['next'])
    const seen: string[] = []
    const controller = new AbortController()
    for await (const e of s.subscribeToAll({ signal: controller.signal })) {
      seen.push(e.type)
      if (seen.length === 3) controller.abort()
    }
    expect(seen).toEqual(['e', 'e', 'next'])
    // Appending the lost events again: the server calls it a duplicate of the lost message, which
    // does not count, so the store appends them under the next message id.
    const again = await s.appendToStream('s', [{ type: 'lost', data: 'x', id: 'lost-1' }], {
      expectedRevision: 3,
    })
    expect(again).toMatchObject({ nextExpectedRevision: 4 })
    expect((await read()).at(-1)).toEqual([4, 'lost'])
  })

  /**
   * Publishes what a lost race leaves on `stream`'s subject of JetStream stream `js`: a message that
   * says it expected `last` (not the subject's last message), so it does not count.
   */
  async function publishLost(js: string, stream: string, last: number): Promise<number> {
    const nc = await group.connect()
    const h = headers()
    for (const [k, v] of Object.entries({
      'Waltz-Format': '1',
      'Waltz-Kind': 'events',
      'Waltz-Revision': '999',
      'Waltz-Deleted': '0',
      'Waltz-Count': '1',
      'Waltz-Time': String(Date.now()),
      'Waltz-Last': String(last),
    }))
      h.set(k, v)
    const body = encodeBody([{ type: 'lost', id: `lost-${last}`, metadata: {}, data: Buffer.from('"x"') }])
    const ack = await jetstream(nc).publish(`waltz-es.${js}.${stream}`, body, { headers: h })
    await nc.close()
    return ack.seq
  }

  test('the head a client remembers after its append never decides alone: another client moved the stream', async () => {
    const stream = `ES${++streams}`
    const a = await connect(stream)
    const b = await connect(stream)
    expect(await a.appendToStream('acct', events(1))).toMatchObject({ nextExpectedRevision: 1 })
    expect(await b.appendToStream('acct', events(1), { expectedRevision: 1 })).toMatchObject({
      nextExpectedRevision: 2,
    })
    // `a` remembers revision 1: expecting it fails with the stream's real revision, and expecting the
    // real one (learnt elsewhere) succeeds.
    await expect(a.appendToStream('acct', events(1), { expectedRevision: 1 })).rejects.toMatchObject({
      code: 'WRONG_EXPECTED_REVISION',
      actual: 2,
    })
    expect(await b.appendToStream('acct', events(1), { expectedRevision: 2 })).toMatchObject({
      nextExpectedRevision: 3,
    })
    expect(await a.appendToStream('acct', events(1), { expectedRevision: 3 })).toMatchObject({
      nextExpectedRevision: 4,
    })
    expect(await a.appendToStream('acct', events(1), { expectedRevision: 'stream_exists' })).toMatchObject({
      nextExpectedRevision: 5,
    })
    // After its own soft delete too: the next append continues the revisions.
    await b.deleteStream('acct', { expectedRevision: 5 })
    expect(await a.appendToStream('acct', events(1), { expectedRevision: 'no_stream' })).toMatchObject({
      nextExpectedRevision: 6,
      created: true,
    })
    expect(await b.appendToStream('acct', events(1), { expectedRevision: 6 })).toMatchObject({
      nextExpectedRevision: 7,
    })
    await a.tombstoneStream('acct')
    await expect(b.appendToStream('acct', events(1), { expectedRevision: 7 })).rejects.toMatchObject({
      code: 'STREAM_TOMBSTONED',
    })
    await expect(a.appendToStream('acct', events(1))).rejects.toMatchObject({ code: 'STREAM_TOMBSTONED' })
    // The same ids again (the server's duplicate window recognises them) on a stream tombstoned by
    // another client since: the tombstone decides, as for a client that remembers nothing.
    const once = [{ type: 'o', data: 1, id: 'once-1' }]
    expect(await a.appendToStream('ids', once, { expectedRevision: 'no_stream' })).toMatchObject({
      nextExpectedRevision: 1,
    })
    await b.tombstoneStream('ids')
    await expect(a.appendToStream('ids', once, { expectedRevision: 1 })).rejects.toMatchObject({
      code: 'STREAM_TOMBSTONED',
    })
  })

  test('reads of short and long streams, message by message and through a consumer, skip what does not count', async () => {
    const stream = `ES${++streams}`
    const s = await connect(stream)
    // 45 messages of one event, with a lost message after the 3rd, 10th and 40th.
    let last = 0
    for (let r = 1; r <= 45; r++) {
      last = (await s.appendToStream('long', [{ type: 'e', data: r }], { expectedRevision: r - 1 })).position
      if (r === 3 || r === 10 || r === 40) await publishLost(stream, 'long', last - 1)
    }
    const revisions = (events: StoredEvent<TestEvent>[]) => events.map((e) => [e.revision, e.data])
    const upTo = (n: number, from = 1) => Array.from({ length: n - from + 1 }, (_, i) => [from + i, from + i])
    // Fresh clients (nothing of the subject known): the first 11 (message by message, then a consumer
    // from the 13th message), the first 10 (11 messages, all by gets), the whole (a consumer).
    expect(revisions(await collect((await connect(stream)).readStream('long', { maxCount: 11 })))).toEqual(
      upTo(11),
    )
    expect(revisions(await collect((await connect(stream)).readStream('long', { maxCount: 10 })))).toEqual(
      upTo(10),
    )
    const r = await connect(stream)
    expect(revisions(await collect(r.readStream('long')))).toEqual(upTo(45))
    // Then from what the clients know (the writer: up to its append before the first lost message;
    // the reader: all of it), backwards and from the middle.
    for (const c of [s, r]) {
      expect(revisions(await collect(c.readStream('long')))).toEqual(upTo(45))
      expect(revisions(await collect(c.readStream('long', { from: 38, maxCount: 5 })))).toEqual(upTo(42, 38))
      expect(
        revisions(await collect(c.readStream('long', { direction: 'backwards', from: 12, maxCount: 4 }))),
      ).toEqual(upTo(12, 9).reverse())
      const folded = await c.aggregateStream('long', {
        initialState: () => 0,
        evolve: (n, e) => n + (e.data as number),
      })
      expect(folded).toEqual({ state: (45 * 46) / 2, revision: 45, exists: true })
    }
    // A short stream whose last message does not count.
    await s.appendToStream('short', events(2), { expectedRevision: 'no_stream' })
    const shortLast = (await s.appendToStream('short', events(1, 'e', 2))).position
    await publishLost(stream, 'short', shortLast - 1)
    expect((await collect(s.readStream('short'))).map((e) => e.revision)).toEqual([1, 2, 3])
    expect(await s.appendToStream('short', events(1), { expectedRevision: 3 })).toMatchObject({
      nextExpectedRevision: 4,
    })
  })

  test('what a client knows of a stream from its reads and appends stays right as other clients write', async () => {
    const stream = `ES${++streams}`
    const a = await connect(stream)
    const b = await connect(stream)
    const read = async (c: EventStoreApi<TestEvent>) =>
      (await collect(c.readStream('acct'))).map((e) => [e.revision, e.type, e.data])
    await a.appendToStream('acct', events(3, 'a'), { expectedRevision: 'no_stream' })
    expect(await read(a)).toEqual([
      [1, 'a', { i: 0 }],
      [2, 'a', { i: 1 }],
      [3, 'a', { i: 2 }],
    ])
    // `b` reads (learning the subject), then appends; `a` appends after it, then a lost message.
    expect(await read(b)).toEqual(await read(a))
    await b.appendToStream('acct', [{ type: 'b', data: { i: 3 } }], { expectedRevision: 3 })
    const mine = await a.appendToStream('acct', [{ type: 'a', data: { i: 4 } }], { expectedRevision: 4 })
    await publishLost(stream, 'acct', mine.position - 1)
    await b.deleteStream('acct', { expectedRevision: 5 })
    await b.appendToStream('acct', [{ type: 'b', data: { i: 6 } }], { expectedRevision: 5 })
    const expected = [[6, 'b', { i: 6 }]]
    expect(await read(a)).toEqual(expected)
    expect(await read(b)).toEqual(expected)
    expect(await read(await connect(stream))).toEqual(expected)
    expect(
      await a.appendToStream('acct', [{ type: 'a', data: { i: 7 } }], { expectedRevision: 6 }),
    ).toMatchObject({
      nextExpectedRevision: 7,
    })
    expect(await read(b)).toEqual([...expected, [7, 'a', { i: 7 }]])
    // The events' bytes a reader gets are its own: changing them changes no later read.
    const bytes = await EventStore.connect<RecordShape<string, Uint8Array>>({
      servers: group.urls,
      stream,
      subjectPrefix: `waltz-es.${stream}`,
      serializer: bytesSerializer(),
    })
    stores.push(bytes as unknown as EventStoreApi<TestEvent>)
    await bytes.appendToStream('raw', [{ type: 'r', data: new Uint8Array([1, 2, 3]) }])
    for (let i = 0; i < 2; i++) {
      const [e] = await collect(bytes.readStream('raw'))
      expect([...e!.data]).toEqual([1, 2, 3])
      e!.data.fill(9)
    }
  })

  test('a JetStream stream created without direct gets (an earlier version) is read from its leader', async () => {
    const stream = `ES${++streams}`
    const nc = await group.connect()
    const jsm = await jetstreamManager(nc)
    await jsm.streams.add({
      name: stream,
      subjects: [`waltz-es.${stream}.>`],
      storage: StorageType.File,
      num_replicas: 1,
    })
    await jsm.streams.add({
      name: `${stream}_CHECKPOINTS`,
      subjects: [`waltz-es.${stream}-checkpoints.>`],
      storage: StorageType.File,
      max_msgs_per_subject: 1,
    })
    const s = await connect(stream)
    for (let r = 1; r <= 40; r++) await s.appendToStream('old', [{ type: 'e', data: r }])
    await publishLost(stream, 'old', 1)
    expect((await collect(s.readStream('old'))).map((e) => e.data)).toEqual(
      Array.from({ length: 40 }, (_, i) => i + 1),
    )
    expect((await collect(s.readStream('old', { maxCount: 3 }))).map((e) => e.data)).toEqual([1, 2, 3])
    expect(await s.appendToStream('old', events(1), { expectedRevision: 40 })).toMatchObject({
      nextExpectedRevision: 41,
    })
    expect((await jsm.streams.info(stream)).config.allow_direct).toBe(false)
    await nc.close()
  })

  test('handleCommand decides on the stream and retries conflicts across clients', async () => {
    const stream = `ES${++streams}`
    const a = await connect(stream)
    const b = await connect(stream)
    const initialState = () => 0
    const evolve = (n: number, e: StoredEvent<TestEvent>) => n + (e.data as number)
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        handleCommand(i % 2 ? a : b, 'counter', (n) => [{ type: 'added', data: n + 1 }], {
          initialState,
          evolve,
          retries: 50,
        }),
      ),
    )
    expect(results.map((r) => r.nextExpectedRevision).sort((x, y) => x - y)).toEqual(
      Array.from({ length: 10 }, (_, i) => i + 1),
    )
    // Each command saw the state left by the one before it.
    const agg = await a.aggregateStream('counter', { initialState, evolve })
    expect(agg).toMatchObject({ revision: 10, exists: true })
    expect((await collect(a.readStream('counter'))).map((e) => e.data)).toEqual([
      1, 2, 4, 8, 16, 32, 64, 128, 256, 512,
    ])
  })

  test('subscribeToStream catches up, then yields new events live, from any client', async () => {
    const stream = `ES${++streams}`
    const a = await connect(stream)
    const b = await connect(stream)
    await a.appendToStream('s', events(2))
    await a.appendToStream('other', events(1))
    const controller = new AbortController()
    const seen: number[] = []
    const done = (async () => {
      for await (const e of b.subscribeToStream('s', { from: 2, signal: controller.signal })) {
        seen.push(e.revision)
        if (seen.length === 4) controller.abort()
      }
    })()
    await a.appendToStream('s', events(2, 'e', 2))
    await a.appendToStream('other', events(1))
    await a.appendToStream('s', events(1, 'e', 4))
    await done
    expect(seen).toEqual([2, 3, 4, 5])
  })

  test('subscribeToStream ends at a tombstone; subscribeToAll filters and follows live', async () => {
    const stream = `ES${++streams}`
    const a = await connect(stream)
    const b = await connect(stream)
    await a.appendToStream('t', events(1))
    const tombstoned = collect(b.subscribeToStream('t'))
    const controller = new AbortController()
    const all: [string, unknown][] = []
    const following = (async () => {
      for await (const e of b.subscribeToAll({
        filter: { streamPrefix: 'keep-' },
        signal: controller.signal,
      })) {
        all.push([e.stream, e.data])
        if (all.length === 3) controller.abort()
      }
    })()
    await a.appendToStream('keep-1', [{ type: 'x', data: 1 }])
    await a.appendToStream('drop-1', [{ type: 'x', data: 2 }])
    await a.tombstoneStream('t')
    await a.appendToStream('keep-2', [
      { type: 'x', data: 3 },
      { type: 'x', data: 4 },
    ])
    expect((await tombstoned).map((e) => e.revision)).toEqual([1])
    await following
    expect(all).toEqual([
      ['keep-1', 1],
      ['keep-2', 3],
      ['keep-2', 4],
    ])
  })

  test('a durable consumer keeps its checkpoint in the cluster and resumes on another client', async () => {
    const stream = `ES${++streams}`
    const a = await connect(stream)
    for (let i = 0; i < 5; i++) await a.appendToStream(`s-${i % 2}`, events(3, 'e', 3 * i))
    const handledA: number[] = []
    const consumerA = a.consumer({
      name: 'projector',
      batchSize: 4,
      handler: (batch) => {
        for (const e of batch) handledA.push((e.data as { i: number }).i)
      },
    })
    await consumerA.start()
    await expect.poll(() => handledA.length, { timeout: 10_000 }).toBe(15)
    expect(handledA).toEqual(Array.from({ length: 15 }, (_, i) => i))
    await consumerA.stop()
    expect(consumerA.position).toBe(a.position)
    await a.close()

    const b = await connect(stream)
    await b.appendToStream('s-9', events(2, 'e', 15))
    const handledB: number[] = []
    const positions: number[] = []
    const consumerB = b.consumer({
      name: 'projector',
      handler: (batch, context) => {
        for (const e of batch) handledB.push((e.data as { i: number }).i)
        positions.push(context.position)
      },
    })
    await consumerB.start()
    await expect.poll(() => handledB.length, { timeout: 10_000 }).toBe(2)
    // Live after the catch-up: an append by another client reaches it.
    const c = await connect(stream)
    await c.appendToStream('s-9', events(1, 'e', 17))
    await expect.poll(() => handledB.length, { timeout: 10_000 }).toBe(3)
    expect(handledB).toEqual([15, 16, 17])
    expect(b.metrics().consumers).toHaveProperty('projector')
    await consumerB.stop()
  })

  test('a consumer with its own checkpoint store, and one starting at the end', async () => {
    const s = await connect()
    await s.appendToStream('s', events(3))
    const saved = new Map<string, number>()
    const checkpoints = {
      read: (n: string) => saved.get(n),
      store: (n: string, p: number) => void saved.set(n, p),
    }
    const handled: number[] = []
    const own = s.consumer({
      name: 'own',
      checkpoints,
      handler: (b) => void handled.push(...b.map((e) => e.revision)),
    })
    await own.start()
    await expect.poll(() => handled.length, { timeout: 10_000 }).toBe(3)
    await own.stop()
    expect(saved.get('own')).toBe(s.position)

    const late: number[] = []
    const fromEnd = s.consumer({
      name: 'late',
      from: 'end',
      handler: (b) => void late.push(...b.map((e) => e.revision)),
    })
    await fromEnd.start()
    await s.appendToStream('s', events(1))
    await expect.poll(() => late, { timeout: 10_000 }).toEqual([4])
    await fromEnd.stop()
  })

  test('bad input and a closed store give coded errors', async () => {
    const s = await connect()
    await expect(s.appendToStream('', events(1))).rejects.toMatchObject({
      code: 'EVENTSTORE_INVALID_ARGUMENT',
    })
    await expect(s.appendToStream('s', [])).rejects.toMatchObject({ code: 'EVENTSTORE_INVALID_ARGUMENT' })
    await expect(s.appendToStream('s', events(1), { expectedRevision: -1 })).rejects.toMatchObject({
      code: 'EVENTSTORE_INVALID_ARGUMENT',
    })
    await expect(s.appendToStream('s', [{ type: '$x', data: 1 }])).rejects.toMatchObject({
      code: 'EVENTSTORE_INVALID_ARGUMENT',
    })
    await expect(
      s.appendToStream('s', [{ type: 'big', data: 'x'.repeat(2 * 1024 * 1024) }]),
    ).rejects.toMatchObject({ code: 'EVENTSTORE_INVALID_ARGUMENT' })
    await expect(collect(s.readStream('s', { direction: 'sideways' as 'forwards' }))).rejects.toMatchObject({
      code: 'EVENTSTORE_INVALID_ARGUMENT',
    })
    await expect(
      EventStore.connect({ servers: group.urls, stream: 'bad.name', serializer: json }),
    ).rejects.toMatchObject({ code: 'EVENTSTORE_INVALID_ARGUMENT' })
    await expect(
      EventStore.connect({ servers: group.urls, stream: 'X', subjectPrefix: 'a.*', serializer: json }),
    ).rejects.toMatchObject({ code: 'EVENTSTORE_INVALID_ARGUMENT' })
    await s.close()
    await expect(s.appendToStream('s', events(1))).rejects.toMatchObject({ code: 'EVENTSTORE_CLOSED' })
    await expect(s.streamExists('s')).rejects.toMatchObject({ code: 'EVENTSTORE_CLOSED' })
  })

  test('an unreachable server is EVENTSTORE_UNAVAILABLE, never a raw NATS error', async () => {
    const err = await EventStore.connect({
      servers: 'nats://127.0.0.1:1',
      stream: 'X',
      serializer: json,
      timeoutMs: 500,
    }).catch((e) => e)
    expect(isEventStoreError(err, 'EVENTSTORE_UNAVAILABLE')).toBe(true)
    expect(err.cause).toBeDefined()
  })
})

describe.skipIf(NO_NATS_SERVER)('EventStore.connect while its server dies and comes back', () => {
  test('calls fail with EVENTSTORE_UNAVAILABLE, and a retry with the same ids after the restart is idempotent', async () => {
    const group = await startServer()
    const store = await EventStore.connect<TestEvent>({
      servers: group.urls,
      stream: 'DOWN',
      serializer: json,
      timeoutMs: 500,
    })
    try {
      const batch = [{ type: 'placed', data: 1, id: 'order-7-placed' }]
      const first = await store.appendToStream('order-7', batch, { expectedRevision: 'no_stream' })
      await group.servers[0]!.stop('SIGKILL')
      const down = await store.appendToStream('order-7', events(1)).catch((e) => e)
      expect(isEventStoreError(down, 'EVENTSTORE_UNAVAILABLE')).toBe(true)
      expect(down.stream).toBe('order-7')
      expect(await collect(store.readStream('order-7')).catch((e) => e.code)).toBe('EVENTSTORE_UNAVAILABLE')
      expect(await store.streamExists('order-7').catch((e) => e.code)).toBe('EVENTSTORE_UNAVAILABLE')
      await group.servers[0]!.start()
      // The client reconnects by itself; the retry of the first append is recognised.
      await expect
        .poll(
          () =>
            store.appendToStream('order-7', batch, { expectedRevision: 'no_stream' }).catch((e) => e.code),
          {
            timeout: 15_000,
            interval: 200,
          },
        )
        .toEqual(first)
      expect((await collect(store.readStream('order-7'))).map((e) => e.id)).toEqual(['order-7-placed'])
    } finally {
      await store.close()
    }
  })
})

test('the embedded store never loads the NATS client: no static import reaches @nats-io', () => {
  const src = fileURLToPath(new URL('../src/', import.meta.url))
  const seen = new Set<string>()
  const visit = (file: string) => {
    if (seen.has(file)) return
    seen.add(file)
    const text = readFileSync(file, 'utf8')
    // Static imports and re-exports only (`import type` is erased); `import(...)` is dynamic.
    for (const [, kind, spec] of text.matchAll(/^(?:import|export)(\s+type)?[^'"]*?from\s+'([^']+)'/gm)) {
      if (kind !== undefined) continue
      expect(spec, `${file} imports ${spec}`).not.toMatch(/^@nats-io\//)
      if (spec!.startsWith('.')) visit(join(dirname(file), spec!.replace(/\.js$/, '.ts')))
    }
  }
  visit(join(src, 'index.ts'))
  visit(join(src, 'testing.ts'))
  expect(seen.size).toBeGreaterThan(10)
  expect([...seen].some((f) => f.includes('/nats/connect.ts'))).toBe(false)
})
