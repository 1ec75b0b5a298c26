/**
 * An encrypted event store: every read path (streams, the whole log, aggregates, commands,
 * subscriptions, consumers, retries, the index after a restart and a rebuild, `EventStoreReader`)
 * opens sealed data; no plaintext of event data is anywhere in the directory; `shredStream` and
 * `shred` erase data durably while revisions, positions and envelopes stay; appends the WAL would
 * refuse are refused before any revision is reserved (`STREAM_SHREDDED`), so the store stays healthy;
 * a wrong or missing master key is `WAL_KEYRING` at open. SIGKILLs: `encryption-crash.test.ts`.
 */
import { randomBytes } from 'node:crypto'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { type KeyedRecord, localKeyring, type MasterKey } from '@waltz/core'
import { afterEach, describe, expect, it } from 'vitest'
import { collect } from '../../../test-support/collect.js'
import { tempDir } from '../../../test-support/temp-dir.js'
import {
  type EventStore,
  EventStoreReader,
  handleCommand,
  type StoredEvent,
  type StoreRecord,
} from '../src/index.js'
import { allFiles, openStore, type TestEvent } from './helpers.js'

const master: MasterKey = { id: 'm1', key: randomBytes(32) }
const keyring = localKeyring([master])

const open: { close(): Promise<void> }[] = []
afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((s) => s.close()))
})

type KeyFor = (record: KeyedRecord) => string

async function encryptedStore(dir: string, keyFor?: KeyFor): Promise<EventStore<TestEvent>> {
  const store = await openStore(dir, {
    encryption: keyFor ? { keyring, keyFor } : { keyring },
    segmentSize: 4096,
    sync: 'always',
  })
  open.push(store)
  return store
}

async function view(dir: string, withKeyring = true): Promise<EventStoreReader> {
  const r = await EventStoreReader.open(withKeyring ? { dir, encryption: { keyring } } : { dir })
  open.push(r)
  return r
}

/** A distinctive secret per event: found in no file of the store. */
const secret = (stream: string, i: number) => `SSN-${stream}-${i}-078-05-1120`
const event = (stream: string, i: number, metadata?: Record<string, string>): TestEvent & object => ({
  type: 'Registered',
  data: { secret: secret(stream, i), i },
  ...(metadata && { metadata }),
})

function expectNoPlaintext(dir: string, texts: readonly string[]): void {
  const files = allFiles(dir)
  const names = files.map((f) => f.name)
  // The scan covers every kind of file the store writes.
  for (const kind of [/\.wal$/, /\.wzi$/, /\.ckpt$/, /keys\.wzk$/]) {
    expect(
      names.some((n) => kind.test(n)),
      String(kind),
    ).toBe(true)
  }
  for (const t of texts) {
    const needle = Buffer.from(t)
    for (const f of files) expect(f.bytes.includes(needle), `${t} in ${f.name}`).toBe(false)
  }
}

const dataOf = (e: StoredEvent<TestEvent>) => e.data as { secret: string; i: number }
const bytesText = (r: StoreRecord) => Buffer.from(r.data).toString()

async function until(check: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}

describe('an encrypted event store', () => {
  it('opens sealed data on every read path, and no plaintext is anywhere in the directory', async () => {
    const dir = tempDir()
    let store = await encryptedStore(dir)
    const texts: string[] = []
    const streams = ['alice', 'bob', 'carol']
    for (let i = 0; i < 60; i++) {
      const stream = streams[i % 3]!
      texts.push(secret(stream, i))
      await store.appendToStream(stream, [event(stream, i, i % 4 === 0 ? { tenant: 't1' } : undefined)])
    }
    await store.appendToStreams([
      { stream: 'alice', events: [event('alice', 60)] },
      { stream: 'dave', events: [event('dave', 61)] },
    ])
    texts.push(secret('alice', 60), secret('dave', 61))
    // A retry with the same ids is recognised from the (readable) headers.
    const retried = [{ ...event('erin', 62), id: 'fixed-id' }]
    texts.push(secret('erin', 62))
    const first = await store.appendToStream('erin', retried, { expectedRevision: 'no_stream' })
    expect(await store.appendToStream('erin', retried, { expectedRevision: 'no_stream' })).toEqual(first)
    await store.deleteStream('dave')

    const consumed: StoredEvent<TestEvent>[] = []
    const consumer = store.consumer({ name: 'all', handler: (events) => void consumed.push(...events) })
    await consumer.start()
    const subscription = store.subscribeToStream('bob', { signal: AbortSignal.timeout(5000) })

    const check = async (s: EventStore<TestEvent>, total: number) => {
      const alice = await collect(s.readStream('alice'))
      expect(alice.map((e) => e.revision)).toEqual(alice.map((_, i) => i + 1))
      expect(alice.map((e) => dataOf(e).secret)).toEqual([
        ...Array.from({ length: 20 }, (_, k) => secret('alice', k * 3)),
        secret('alice', 60),
      ])
      expect(alice[0]!.metadata).toEqual({ tenant: 't1' })
      const backwards = await collect(s.readStream('bob', { direction: 'backwards', maxCount: 2 }))
      expect(backwards.map((e) => dataOf(e).i)).toEqual([58, 55])
      const all = await collect(s.readAll())
      expect(all).toHaveLength(total)
      expect(all.every((e) => e.shredded === undefined && dataOf(e).secret.startsWith('SSN-'))).toBe(true)
      const filtered = await collect(s.readAll({ filter: { streamPrefix: 'car' }, direction: 'backwards' }))
      expect(filtered.map((e) => dataOf(e).i)).toEqual(Array.from({ length: 20 }, (_, k) => 59 - k * 3))
      const { state, revision } = await s.aggregateStream('carol', {
        initialState: () => [] as number[],
        evolve: (seen, e) => [...seen, dataOf(e).i],
      })
      expect(revision).toBe(20)
      expect(state).toHaveLength(20)
      expect(await collect(s.readStream('dave'))).toEqual([]) // deleted
    }
    await check(store, 63)
    const sub: StoredEvent<TestEvent>[] = []
    for await (const e of subscription) {
      sub.push(e)
      if (sub.length === 20) break
    }
    expect(sub.map((e) => dataOf(e).secret)).toEqual(
      Array.from({ length: 20 }, (_, k) => secret('bob', k * 3 + 1)),
    )
    const live = collect(store.subscribeToAll({ from: 1, signal: AbortSignal.timeout(300) }))
    expect((await live).length).toBe(63)
    await until(() => consumed.length === 63, 'the consumer')
    expect(consumed.map((e) => dataOf(e).secret)).toEqual(
      (await collect(store.readAll())).map((e) => dataOf(e).secret),
    )
    const decided = await handleCommand(
      store,
      'frank',
      (seen: number) => [{ type: 'Counted', data: { secret: 'SSN-counted-078-05-1120', i: seen } }],
      { initialState: () => 0, evolve: (n) => n + 1 },
    )
    texts.push('SSN-counted-078-05-1120')
    expect(decided.state).toBe(0)

    // Readers in another process's place: with the keyring, data is opened; without it, sealed.
    const reader = await view(dir)
    const page = await reader.readStream('alice', { limit: 3 })
    expect(page.events.map(bytesText)).toEqual(
      [0, 3, 6].map((i) => JSON.stringify({ secret: secret('alice', i), i })),
    )
    const { records } = await reader.readAll({ limit: 100 })
    expect(records.filter((r) => r.kind === 'event').every((r) => bytesText(r).includes('SSN-'))).toBe(true)
    const blind = await view(dir, false)
    const sealed = await blind.readStream('alice', { limit: 3 })
    expect(sealed.events.map((r) => [r.encrypted, r.revision, r.id.length > 0])).toEqual([
      [true, 1, true],
      [true, 2, true],
      [true, 3, true],
    ])
    expect(sealed.events.some((r) => bytesText(r).includes('SSN-'))).toBe(false)

    await consumer.stop()
    await store.close()
    // The index caught up from its tables after a restart, then rebuilt from the log alone.
    store = await encryptedStore(dir)
    await check(store, 64)
    await store.close()
    rmSync(join(dir, 'index'), { recursive: true })
    store = await encryptedStore(dir)
    await check(store, 64)
    await store.close()
    expectNoPlaintext(dir, texts)
  })

  it('shredStream: events stay in order with their envelopes, without data, on every path and after a restart', async () => {
    const dir = tempDir()
    const store = await encryptedStore(dir)
    for (let i = 0; i < 30; i++) {
      const stream = i % 2 === 0 ? 'customer-7' : 'customer-8'
      await store.appendToStream(stream, [event(stream, i, { source: `web-${i}` })])
    }
    const before = await collect(store.readStream('customer-7'))
    const consumed: StoredEvent<TestEvent>[] = []
    // A consumer that reads after the shred sees the shredded events too.
    const consumer = store.consumer({ name: 'late', handler: (events) => void consumed.push(...events) })
    const reader = await view(dir)
    const seen: StoreRecord[] = []
    reader.subscribe((r) => seen.push(r))

    expect(await store.shredStream('customer-7')).toEqual({ keyIds: ['customer-7'] })

    const expectShredded = (events: readonly StoredEvent<TestEvent>[]) => {
      expect(events.map(({ data, shredded, ...rest }) => ({ ...rest, data, shredded }))).toEqual(
        before.map((e) => ({ ...e, data: undefined, shredded: true })),
      )
    }
    expectShredded(await collect(store.readStream('customer-7')))
    const other = await collect(store.readStream('customer-8'))
    expect(other.map((e) => [e.shredded, dataOf(e).secret])).toEqual(
      Array.from({ length: 15 }, (_, k) => [undefined, secret('customer-8', 2 * k + 1)]),
    )
    const all = await collect(store.readAll())
    expect(all.map((e) => e.position)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1))
    expectShredded(all.filter((e) => e.stream === 'customer-7'))
    expectShredded(
      await collect(store.readAll({ filter: { streamPrefix: 'customer-7' }, direction: 'backwards' })).then(
        (e) => e.reverse(),
      ),
    )
    const subscribed = await collect(
      store.subscribeToStream('customer-7', { signal: AbortSignal.timeout(200) }),
    )
    expectShredded(subscribed)
    await consumer.start()
    await until(() => consumed.length === 30, 'the consumer')
    expectShredded(consumed.filter((e) => e.stream === 'customer-7'))

    // Aggregates: evolve never sees an event without data; the revision counts the shredded ones.
    const evolved: number[] = []
    const folded = await store.aggregateStream('customer-7', {
      initialState: () => 0,
      evolve: (n, e) => {
        evolved.push(e.revision)
        return n + 1
      },
    })
    expect(folded).toEqual({ state: 0, revision: 15, exists: true })
    expect(evolved).toEqual([])
    const erased = await store.aggregateStream('customer-7', {
      initialState: () => 0,
      evolve: (n) => n + 1,
      onShredded: (n, e) => (e.shredded && e.data === undefined ? n + 100 : n),
    })
    expect(erased.state).toBe(1500)

    // Appends to it are refused before anything is reserved: the store stays healthy.
    await expect(store.appendToStream('customer-7', [event('customer-7', 99)])).rejects.toMatchObject({
      code: 'STREAM_SHREDDED',
      stream: 'customer-7',
    })
    await expect(
      store.appendToStreams([
        { stream: 'customer-8', events: [event('customer-8', 100)] },
        { stream: 'customer-7', events: [event('customer-7', 100)] },
      ]),
    ).rejects.toMatchObject({ code: 'STREAM_SHREDDED' })
    let decidedOn: [number, number] | undefined
    await expect(
      handleCommand(
        store,
        'customer-7',
        (n: number, { revision }) => {
          decidedOn = [n, revision]
          return [event('customer-7', 101)]
        },
        { initialState: () => 0, evolve: (n) => n + 1, onShredded: (n) => n + 10 },
      ),
    ).rejects.toMatchObject({ code: 'STREAM_SHREDDED' })
    expect(decidedOn).toEqual([150, 15])
    expect((await store.appendToStream('customer-8', [event('customer-8', 102)])).nextExpectedRevision).toBe(
      16,
    )
    // The stream can still be deleted and tombstoned: markers are sealed under the store's own key.
    await store.deleteStream('customer-7')
    await store.tombstoneStream('customer-7')
    await expect(store.appendToStream('customer-7', [event('customer-7', 103)])).rejects.toMatchObject({
      code: 'STREAM_TOMBSTONED',
    })

    // A reader that was open sees the shred from its next read.
    const page = await reader.readAll({ limit: 100 })
    const readerEvents = page.records.filter((r) => r.kind === 'event')
    expect(
      readerEvents.filter((r) => r.stream === 'customer-7').every((r) => r.shredded && r.data.length === 0),
    ).toBe(true)
    expect(
      readerEvents.filter((r) => r.stream === 'customer-8').every((r) => bytesText(r).includes('SSN-')),
    ).toBe(true)
    await until(() => seen.length >= 3, 'the reader to follow')

    await consumer.stop()
    await store.close()
    const again = await encryptedStore(dir)
    const reopened = await collect(again.readAll())
    expect(
      reopened.filter((e) => e.stream === 'customer-7').every((e) => e.shredded && e.data === undefined),
    ).toBe(true)
    expect(reopened.filter((e) => e.stream === 'customer-8')).toHaveLength(16)
    await expect(again.appendToStream('customer-7', [event('customer-7', 104)])).rejects.toMatchObject({
      code: 'STREAM_TOMBSTONED',
    })
  })

  it('with a custom keyFor, shredStream erases the subject: every stream sealed under its key ids', async () => {
    const dir = tempDir()
    const byCustomer: KeyFor = (r) => r.headers?.customer ?? 'anonymous'
    const store = await encryptedStore(dir, byCustomer)
    const order = (stream: string, i: number, customer: string) => event(stream, i, { customer })
    await store.appendToStream('order-1', [order('order-1', 0, 'c-7'), order('order-1', 1, 'c-7')])
    await store.appendToStream('order-2', [order('order-2', 2, 'c-7')])
    await store.appendToStream('order-3', [order('order-3', 3, 'c-8')])
    await store.appendToStream('order-1', [order('order-1', 4, 'c-9')]) // another subject in the same stream
    await store.appendToStream('audit', [event('audit', 5)]) // no customer: 'anonymous'
    await store.deleteStream('order-1') // events hidden by a delete are erased too

    expect((await store.shredStream('order-1')).keyIds.sort()).toEqual(['c-7', 'c-9'])
    const all = await collect(store.readAll())
    expect(all.map((e) => [e.stream, e.shredded === true])).toEqual([
      ['order-1', true],
      ['order-1', true],
      ['order-2', true],
      ['order-3', false],
      ['order-1', true],
      ['audit', false],
    ])
    // The subjects' appends are refused wherever they go; the stream takes other subjects' events.
    await expect(store.appendToStream('order-4', [order('order-4', 6, 'c-7')])).rejects.toMatchObject({
      code: 'STREAM_SHREDDED',
      stream: 'order-4',
    })
    await store.appendToStream('order-1', [order('order-1', 7, 'c-10')])
    expect((await collect(store.readStream('order-1'))).map((e) => [e.revision, e.shredded])).toEqual([
      [4, undefined],
    ])
    // Subject-level erasure without a stream: shred one key id.
    await store.shred('c-8')
    expect((await collect(store.readStream('order-3')))[0]!.shredded).toBe(true)
    // keyFor may not return the store's own key id; the append is refused, nothing is written.
    const head = store.position
    await expect(store.appendToStream('order-5', [order('order-5', 8, '')])).rejects.toMatchObject({
      code: 'WAL_INVALID_ARGUMENT',
    })
    expect(store.position).toBe(head)
    await store.appendToStream('order-5', [order('order-5', 9, 'c-11')])
  })

  it('an append racing a shred of its stream is refused or erased with it; the store stays healthy', async () => {
    const store = await encryptedStore(tempDir())
    await store.appendToStream('s', [event('s', 0)])
    const before = [store.appendToStream('s', [event('s', 1)]), store.appendToStream('s', [event('s', 2)])]
    const shred = store.shredStream('s')
    const during = store.appendToStream('s', [event('s', 3)]).catch((e: unknown) => e)
    const other = store.appendToStream('t', [event('t', 4)])
    await shred
    expect(await Promise.all(before)).toMatchObject([
      { nextExpectedRevision: 2 },
      { nextExpectedRevision: 3 },
    ])
    expect(await during).toMatchObject({ code: 'STREAM_SHREDDED' })
    expect((await other).nextExpectedRevision).toBe(1)
    expect((await collect(store.readStream('s'))).map((e) => [e.revision, e.shredded])).toEqual([
      [1, true],
      [2, true],
      [3, true],
    ])
    expect(dataOf((await collect(store.readStream('t')))[0]!).i).toBe(4)
  })

  it('refuses what it cannot do: a wrong or missing master key, shredding a plain store, the markers key', async () => {
    const dir = tempDir()
    const store = await encryptedStore(dir)
    await store.appendToStream('a', [event('a', 0)])
    await expect(store.shred('')).rejects.toMatchObject({ code: 'EVENTSTORE_INVALID_ARGUMENT' })
    await store.close()
    const wrong = localKeyring([{ id: 'm1', key: randomBytes(32) }])
    await expect(openStore(dir, { encryption: { keyring: wrong } })).rejects.toMatchObject({
      code: 'WAL_KEYRING',
    })
    await expect(openStore(dir)).rejects.toMatchObject({ code: 'WAL_KEYRING' })
    await expect(EventStoreReader.open({ dir, encryption: { keyring: wrong } })).rejects.toMatchObject({
      code: 'WAL_KEYRING',
    })
    await expect(
      openStore(dir, { encryption: { keyring, keyFor: 'stream' as unknown as KeyFor } }),
    ).rejects.toMatchObject({ code: 'EVENTSTORE_INVALID_ARGUMENT' })
    const plain = await openStore(tempDir())
    open.push(plain)
    await expect(plain.shredStream('a')).rejects.toMatchObject({ code: 'EVENTSTORE_INVALID_ARGUMENT' })
    await expect(plain.shred('a')).rejects.toMatchObject({ code: 'EVENTSTORE_INVALID_ARGUMENT' })
  })
})
