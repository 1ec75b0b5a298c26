import { readdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { directoryArchive } from '@waltz/core'
import { afterEach, describe, expect, test } from 'vitest'
import { tempDir } from '../../../test-support/temp-dir.js'
import { type EventStore, EventStoreReader, type StreamListing } from '../src/index.js'
import { events, openStore, type TestEvent } from './helpers.js'

const open: { close(): Promise<void> }[] = []
afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((s) => s.close()))
})

async function store(
  dir: string,
  options: Parameters<typeof openStore>[1] = {},
): Promise<EventStore<TestEvent>> {
  const s = await openStore(dir, options)
  open.push(s)
  return s
}

async function view(dir: string): Promise<EventStoreReader> {
  const r = await EventStoreReader.open({ dir })
  open.push(r)
  return r
}

/** Waits (bounded) until `check` holds. */
async function until(check: () => boolean | Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}

/** Every stream, page by page. */
async function allStreams(r: EventStoreReader, prefix?: string, limit = 7): Promise<StreamListing[]> {
  const out: StreamListing[] = []
  let after: string | undefined
  for (let pages = 0; pages < 1000; pages++) {
    const page = await r.listStreams({ prefix, after, limit })
    out.push(...page.streams)
    if (page.next === undefined) return out
    expect(page.streams).toHaveLength(limit)
    after = page.next
  }
  throw new Error('too many pages')
}

/** A store of 40 streams `s-00`..`s-39` (stream i holds i % 5 + 1 events), spread over several tables. */
async function fill(s: EventStore<TestEvent>): Promise<Map<string, number>> {
  const model = new Map<string, number>()
  for (let round = 0; round < 5; round++) {
    for (let i = 0; i < 40; i++) {
      if (i % 5 < round) continue
      const name = `s-${String(i).padStart(2, '0')}`
      await s.appendToStream(name, events(1, 'e', round))
      model.set(name, (model.get(name) ?? 0) + 1)
    }
  }
  return model
}

describe('EventStoreReader', () => {
  test('lists streams in name order, paginated and by prefix, from tables and the newest records', async () => {
    const dir = tempDir()
    const s = await store(dir)
    const model = await fill(s)
    await s.appendToStream('other', events(3))
    model.set('other', 3)
    const r = await view(dir)
    expect(r.stats().tables).toBeGreaterThan(0)
    expect(r.stats().overlayRecords).toBeGreaterThan(0)
    expect(r.position).toBe(s.position)
    const listed = await allStreams(r)
    expect(listed.map((x) => [x.name, x.revision])).toEqual([...model].sort(([a], [b]) => (a < b ? -1 : 1)))
    const now = Date.now()
    expect(
      listed.every((x) => x.lastTime !== undefined && x.lastTime <= now && x.lastTime > now - 60_000),
    ).toBe(true)
    const s1 = await allStreams(r, 's-1', 3)
    expect(s1.map((x) => x.name)).toEqual(Array.from({ length: 10 }, (_, i) => `s-1${i}`))
    expect((await r.listStreams({ prefix: 'nope' })).streams).toEqual([])
    const other = listed.find((x) => x.name === 'other')
    expect(other).toMatchObject({ name: 'other', revision: 3, lastPosition: s.position, deletedRevision: 0 })
  })

  test('reads a stream page by page, both ways, and hides deleted events', async () => {
    const dir = tempDir()
    const s = await store(dir)
    await fill(s)
    await s.appendToStream('cart-1', events(150, 'added'), {})
    await s.appendToStream('cart-1', [{ type: 'paid', data: { ok: true }, metadata: { user: 'u1' } }])
    await s.appendToStream('gone', events(5))
    await s.deleteStream('gone')
    await s.appendToStream('gone', events(2, 'again'))
    await s.appendToStream('dead', events(2))
    await s.tombstoneStream('dead')
    const r = await view(dir)
    const forwards = []
    let from: number | undefined
    do {
      const page = await r.readStream('cart-1', { from, limit: 40 })
      forwards.push(...page.events)
      from = page.next
    } while (from !== undefined)
    expect(forwards.map((e) => e.revision)).toEqual(Array.from({ length: 151 }, (_, i) => i + 1))
    expect(forwards.at(-1)).toMatchObject({
      type: 'paid',
      metadata: { user: 'u1' },
      kind: 'event',
      stream: 'cart-1',
    })
    expect(JSON.parse(Buffer.from(forwards.at(-1)!.data).toString())).toEqual({ ok: true })
    const back = await r.readStream('cart-1', { direction: 'backwards', limit: 3 })
    expect(back.events.map((e) => e.revision)).toEqual([151, 150, 149])
    expect(back.next).toBe(148)
    const gone = await r.readStream('gone')
    expect(gone.stream).toMatchObject({ revision: 7, deletedRevision: 5, tombstoned: false })
    expect(gone.events.map((e) => [e.revision, e.type])).toEqual([
      [6, 'again'],
      [7, 'again'],
    ])
    const dead = await r.readStream('dead')
    expect(dead.stream?.tombstoned).toBe(true)
    expect(dead.events).toEqual([])
    expect(await r.readStream('never')).toEqual({
      stream: undefined,
      events: [],
      removed: 0,
      next: undefined,
    })
  })

  test('follows the writer: new events, new tables and merges, subscribers', async () => {
    const dir = tempDir()
    const s = await store(dir)
    await s.appendToStream('a', events(10))
    const r = await view(dir)
    const seen: number[] = []
    const unsubscribe = r.subscribe((e) => seen.push(e.position))
    // Enough to write and merge several tables (flush every 64 events).
    for (let i = 0; i < 300; i++) await s.appendToStream(`n-${i % 30}`, events(1))
    await until(() => r.position === s.position, 'the view to catch up')
    expect(seen).toEqual(Array.from({ length: 300 }, (_, i) => 11 + i))
    unsubscribe()
    await new Promise((resolve) => setTimeout(resolve, 1100)) // the view re-lists tables once a second
    const n = await allStreams(r, 'n-', 50)
    expect(n).toHaveLength(30)
    expect(n.every((x) => x.revision === 10)).toBe(true)
    expect(r.stats().tables).toBeGreaterThan(0)
    expect(r.stats().overlayRecords).toBeLessThan(310)
    const page = await r.readStream('n-7')
    expect(page.events.map((e) => e.revision)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1))
  })

  test('readAll pages both ways with filters and stops a scan at maxScan', async () => {
    const dir = tempDir()
    const s = await store(dir)
    for (let i = 0; i < 100; i++)
      await s.appendToStream(i % 2 ? 'odd-1' : 'even-1', events(1, i % 3 ? 'x' : 'y'))
    const r = await view(dir)
    const first = await r.readAll({ limit: 10 })
    expect(first.records.map((e) => e.position)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1))
    expect(first.next).toBe(11)
    const back = await r.readAll({ direction: 'backwards', limit: 4, streamPrefix: 'odd' })
    expect(back.records.map((e) => e.position)).toEqual([100, 98, 96, 94])
    expect(back.next).toBe(93)
    const ys = await r.readAll({ types: ['y'], limit: 1000 })
    expect(ys.records.map((e) => e.position)).toEqual(Array.from({ length: 34 }, (_, i) => i * 3 + 1))
    expect(ys.next).toBeUndefined()
    const short = await r.readAll({ streamPrefix: 'none', maxScan: 30 })
    expect(short).toEqual({ records: [], next: 31 })
    const shortBack = await r.readAll({ streamPrefix: 'none', maxScan: 30, direction: 'backwards' })
    expect(shortBack).toEqual({ records: [], next: 70 })
  })

  test("lists consumers' checkpoints and lag; a damaged checkpoint is reported, not fatal", async () => {
    const dir = tempDir()
    const s = await store(dir)
    await s.appendToStream('a', events(20))
    const handled: number[] = []
    const c = s.consumer({
      name: 'projector',
      handler: (evs) => void handled.push(...evs.map((e) => e.position)),
    })
    await c.start()
    await until(() => handled.length === 20, 'the consumer')
    await c.stop()
    await s.appendToStream('a', events(5))
    writeFileSync(join(dir, 'consumers', 'broken.ckpt'), 'nonsense')
    const r = await view(dir)
    expect(await r.consumers()).toEqual([
      {
        name: 'broken',
        position: undefined,
        lag: undefined,
        error: expect.stringMatching(/^CHECKPOINT_CORRUPT: /),
      },
      { name: 'projector', position: 20, lag: 5 },
    ])
  })

  test('takes no lock and writes nothing in the store directory', async () => {
    const dir = tempDir()
    const s = await store(dir)
    await fill(s)
    await s.close()
    const snapshot = () =>
      ['', 'index', 'consumers']
        .flatMap((sub) => {
          try {
            return readdirSync(join(dir, sub)).map((n) => join(sub, n))
          } catch {
            return []
          }
        })
        .map((p) => {
          const st = statSync(join(dir, p))
          return `${p} ${st.size} ${st.mtimeMs}`
        })
        .sort()
    const before = snapshot()
    const r = await view(dir)
    await allStreams(r)
    await r.readStream('s-04')
    await r.readAll({ direction: 'backwards' })
    await r.consumers()
    await r.close()
    expect(snapshot()).toEqual(before)
    // And a writer opens beside a live view (no lock held).
    const r2 = await view(dir)
    const s2 = await store(dir)
    await s2.appendToStream('late', events(1))
    await until(async () => (await r2.stream('late'))?.revision === 1, 'the late stream')
  })

  test('counts the streams as the listing has them: across tables, newest records, markers only', async () => {
    const dir = tempDir()
    const s = await store(dir)
    // A delete of a stream never written (a marker at revision 0), then written to later.
    await s.deleteStream('ghost')
    await s.tombstoneStream('never')
    const model = await fill(s) // several tables (flush every 64 events), merged as they grow
    await s.appendToStream('dead', events(2))
    await s.tombstoneStream('dead')
    const r = await view(dir)
    expect(r.stats().tables).toBeGreaterThan(0)
    const listed = async () => (await allStreams(r, undefined, 50)).length
    expect(await r.streamCount()).toBe(model.size + 3)
    expect(await r.streamCount()).toBe(await listed())
    // New streams arrive in the newest records (the overlay); ghost's first event is not a new stream.
    await s.appendToStream('ghost', events(1))
    for (let i = 0; i < 5; i++) await s.appendToStream(`late-${i}`, events(1))
    await s.appendToStream('s-01', events(1))
    await until(() => r.position === s.position, 'the view to catch up')
    expect(await r.streamCount()).toBe(model.size + 3 + 5)
    // Past another table and merges: the tables' names are counted again, once each.
    for (let i = 0; i < 150; i++) await s.appendToStream(`more-${i % 30}`, events(1))
    await until(() => r.position === s.position, 'the view to catch up')
    await new Promise((resolve) => setTimeout(resolve, 1100)) // the view re-lists tables once a second
    const n = await r.streamCount()
    expect(n).toBe(model.size + 3 + 5 + 30)
    expect(n).toBe(await listed())
    expect(r.stats().overlayRecords).toBeLessThan(150)
  })

  test('with an archive, reads what retention removed locally from it', async () => {
    const dir = tempDir()
    const archiveDir = tempDir()
    const segmentSize = 8 * 1024
    const s = await store(dir, {
      segmentSize,
      archive: directoryArchive(archiveDir),
      retention: { maxBytes: 2 * segmentSize },
      archiveCache: { dir: tempDir() },
    })
    for (let round = 0; round < 60; round++) {
      for (let k = 0; k < 20; k++) await s.appendToStream(`cart-${k}`, events(1, 'added', round))
    }
    await until(
      () => s.metrics().wal.archive.pending === 0 && s.metrics().wal.retention.segmentsRemoved > 2,
      'retention',
    )
    const plain = await view(dir)
    expect(plain.firstPosition).toBeGreaterThan(1)
    expect((await plain.readStream('cart-3', { limit: 5 })).removed).toBe(5)
    expect(await plain.archiveSummary()).toBeUndefined()

    const r = await EventStoreReader.open({
      dir,
      archive: directoryArchive(archiveDir),
      archiveCache: { dir: tempDir() },
    })
    open.push(r)
    expect(r.firstPosition).toBe(1)
    const cart = await r.readStream('cart-3', { limit: 1000 })
    expect(cart.removed).toBe(0)
    expect(cart.events.map((e) => JSON.parse(Buffer.from(e.data).toString()).i)).toEqual(
      Array.from({ length: 60 }, (_, i) => i),
    )
    const oldest = await r.readAll({ limit: 3 })
    expect(oldest.records.map((e) => e.position)).toEqual([1, 2, 3])
    const back = await r.readAll({ direction: 'backwards', from: 12, limit: 20 })
    expect(back.records.map((e) => e.position)).toEqual(Array.from({ length: 12 }, (_, i) => 12 - i))
    expect(back.next).toBeUndefined()
    const page = await r.listStreams()
    expect(page.streams.every((x) => x.lastTime !== undefined)).toBe(true)
    const summary = (await r.archiveSummary())!
    expect(summary.name).toBe(archiveDir)
    expect(summary.oldestPosition).toBe(1)
    expect(summary.segments).toBe(summary.firstSeqs.length)
    expect(summary.segments).toBeGreaterThan(3)
    expect(summary.firstSeqs[0]).toBe(1)
    expect(summary.bytes).toBeGreaterThan(3 * 1024)
    expect(r.log.metrics().archive.fetched).toBeGreaterThan(0)
  })
})
