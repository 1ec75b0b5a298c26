import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, expect, test } from 'vitest'
import { tempDir } from '../../../test-support/temp-dir.js'
import { decodeCheckpoint, encodeCheckpoint } from '../src/checkpoint-file.js'
import type { CheckpointStore, EventStore, StoredEvent } from '../src/index.js'
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

/** Resolves once `check` holds, re-checking after every acknowledged append or 5 ms. */
async function until(check: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not reached in 10 s')
    await new Promise((r) => setTimeout(r, 5))
  }
}

test('a consumer handles every event once in order, in batches, and stores its checkpoint', async () => {
  const dir = tempDir()
  const s = await store(dir)
  await s.appendToStream('a', events(5))
  const seen: number[] = []
  const c = s.consumer({
    name: 'proj',
    batchSize: 2,
    handler: (batch) => {
      expect(batch.length).toBeLessThanOrEqual(2)
      for (const e of batch) seen.push(e.position)
    },
  })
  await c.start()
  await s.appendToStream('b', events(3))
  await until(() => c.lag === 0 && seen.length === 8)
  await c.stop()
  expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
  const file = join(dir, 'consumers', 'proj.ckpt')
  expect(decodeCheckpoint(readFileSync(file), file)).toBe(8)
  expect(s.metrics().consumers).toEqual({})
})

test('a restarted consumer resumes after its checkpoint; reset replays everything', async () => {
  const dir = tempDir()
  let s = await store(dir)
  await s.appendToStream('a', events(3))
  const seen: number[] = []
  const handler = (batch: StoredEvent<TestEvent>[]) => {
    for (const e of batch) seen.push(e.position)
  }
  let c = s.consumer({ name: 'p', handler })
  await c.start()
  await until(() => c.lag === 0 && seen.length === 3)
  await s.close()
  s = await store(dir)
  await s.appendToStream('a', events(2))
  c = s.consumer({ name: 'p', handler })
  await c.start()
  await until(() => c.lag === 0 && seen.length === 5)
  expect(seen).toEqual([1, 2, 3, 4, 5])
  await c.stop()
  await c.reset()
  await c.start()
  await until(() => seen.length === 10)
  expect(seen.slice(5)).toEqual([1, 2, 3, 4, 5])
})

test("from: 'end' skips the past, but not what is appended after its first start", async () => {
  const dir = tempDir()
  const s = await store(dir)
  await s.appendToStream('a', events(3))
  const seen: number[] = []
  const c = s.consumer({
    name: 'live',
    from: 'end',
    handler: (b) => void seen.push(...b.map((e) => e.position)),
  })
  await c.start()
  await s.appendToStream('a', events(1))
  await until(() => seen.length === 1)
  expect(seen).toEqual([4])
})

test('filters apply; the checkpoint still moves past events that do not match', async () => {
  const s = await store()
  const seen: string[] = []
  const c = s.consumer({
    name: 'carts',
    filter: { streamPrefix: 'cart-' },
    idleCheckpointEvery: 1,
    handler: (b) => void seen.push(...b.map((e) => e.stream)),
  })
  await c.start()
  await s.appendToStream('order-1', events(2))
  await s.appendToStream('cart-1', events(1))
  await s.appendToStream('order-2', events(2))
  await until(() => c.lag === 0 && seen.length === 1)
  expect(seen).toEqual(['cart-1'])
  expect(c.position).toBe(5)
})

test('a failing handler stops the consumer without moving its checkpoint; the batch comes again', async () => {
  const s = await store()
  await s.appendToStream('a', events(2))
  const errors: unknown[] = []
  let fail = true
  const seen: number[] = []
  const c = s.consumer({
    name: 'flaky',
    onError: (err) => errors.push(err),
    handler: (b) => {
      if (fail) throw new Error('boom')
      seen.push(...b.map((e) => e.position))
    },
  })
  await c.start()
  await c.stopped
  expect(errors).toHaveLength(1)
  expect(c.position).toBe(0)
  fail = false
  await c.start()
  await until(() => seen.length === 2)
  expect(seen).toEqual([1, 2])
})

test('a checkpoint store with a transaction commits the handler and the checkpoint as one unit', async () => {
  const s = await store()
  await s.appendToStream('a', events(4))
  // A toy transactional store: writes are staged and applied only when the unit commits.
  const committed = { rows: [] as number[], checkpoint: undefined as number | undefined }
  let staged: { rows: number[]; checkpoint?: number } | undefined
  let failNext = true
  const checkpoints: CheckpointStore = {
    read: () => committed.checkpoint,
    store: (_name, position) => {
      staged!.checkpoint = position
    },
    async transaction(work) {
      staged = { rows: [] }
      await work()
      if (failNext) {
        failNext = false
        throw new Error('commit failed')
      }
      committed.rows.push(...staged.rows)
      committed.checkpoint = staged.checkpoint
    },
  }
  const c = s.consumer({
    name: 'tx',
    checkpoints,
    onError: () => {},
    handler: (b) => void staged!.rows.push(...b.map((e) => e.position)),
  })
  await c.start()
  await c.stopped
  expect(committed).toEqual({ rows: [], checkpoint: undefined })
  await c.start()
  await until(() => committed.checkpoint === 4)
  expect(committed.rows).toEqual([1, 2, 3, 4])
})

test('two consumers of one name cannot run at once; bad names are refused', async () => {
  const s = await store()
  const a = s.consumer({ name: 'dup', handler: () => {} })
  const b = s.consumer({ name: 'dup', handler: () => {} })
  await a.start()
  await expect(b.start()).rejects.toMatchObject({ code: 'CONSUMER_RUNNING' })
  expect(() => s.consumer({ name: '../x', handler: () => {} })).toThrow(
    expect.objectContaining({ code: 'EVENTSTORE_INVALID_ARGUMENT' }),
  )
})

test('checkpoint files are checksummed', () => {
  const bytes = encodeCheckpoint(1234)
  expect(decodeCheckpoint(bytes, 'f')).toBe(1234)
  for (let i = 0; i < bytes.length; i++) {
    const bad = Buffer.from(bytes)
    bad[i]! ^= 0x10
    expect(() => decodeCheckpoint(bad, 'f')).toThrow(expect.objectContaining({ code: 'CHECKPOINT_CORRUPT' }))
  }
  expect(() => decodeCheckpoint(bytes.subarray(0, 10), 'f')).toThrow(
    expect.objectContaining({ code: 'CHECKPOINT_CORRUPT' }),
  )
})

test('a checkpoint past the end of the log is refused with CHECKPOINT_AHEAD, not silently resumed', async () => {
  const s = await store()
  await s.appendToStream('a', events(5))
  const saved = new Map([['p', 100]])
  const c = s.consumer({
    name: 'p',
    checkpoints: { read: (n) => saved.get(n), store: (n, p) => void saved.set(n, p) },
    handler: () => {},
  })
  await expect(c.start()).rejects.toMatchObject({ code: 'CHECKPOINT_AHEAD' })
  expect(c.running).toBe(false)
  await c.reset()
  await c.start()
  await until(() => saved.get('p') === 5)
})

test('onError may start the consumer again', async () => {
  const s = await store()
  await s.appendToStream('a', events(3))
  let failures = 0
  const seen: number[] = []
  const c = s.consumer({
    name: 'retry',
    onError: () => {
      void c.start()
    },
    handler: (b) => {
      if (failures++ < 2) throw new Error('transient')
      seen.push(...b.map((e) => e.position))
    },
  })
  await c.start()
  expect(c.running).toBe(true)
  await until(() => seen.length === 3)
  expect(seen).toEqual([1, 2, 3])
})

test('a consumer stopped while waiting stores the position it reached past filtered-out events', async () => {
  const dir = tempDir()
  const s = await store(dir)
  await s.appendToStream('acct-1', events(1))
  const c = s.consumer({ name: 'p', filter: { streamPrefix: 'acct-' }, handler: () => {} })
  await c.start()
  await until(() => c.position === 1)
  await s.appendToStream('noise-1', events(2))
  await until(() => c.position === 3)
  await c.stop()
  const file = join(dir, 'consumers', 'p.ckpt')
  expect(decodeCheckpoint(readFileSync(file), file)).toBe(3)
})

test('temp files an interrupted checkpoint write left are removed when the consumer starts', async () => {
  const dir = tempDir()
  const s = await store(dir)
  mkdirSync(join(dir, 'consumers'), { recursive: true })
  const leftover = join(dir, 'consumers', 'p.ckpt.1234-abcd.tmp')
  writeFileSync(leftover, 'half')
  const c = s.consumer({ name: 'p', handler: () => {} })
  await c.start()
  expect(existsSync(leftover)).toBe(false)
})
