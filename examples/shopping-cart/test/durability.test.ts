// What survives a restart, and the read model's exactly-once and rebuild guarantees.
import { copyFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { tempDir } from '../../../test-support/temp-dir.js'
import { CartReadModel, type CartSummary } from '../src/read-model.js'
import { READ_MODEL_CONSUMER } from '../src/server.js'
import { type Api, startService, stopService } from './helpers.js'

/** Opens `n` carts with a few items each, confirms every third; returns their ids. */
async function fill(api: Api, n: number, prefix: string): Promise<string[]> {
  const ids = Array.from({ length: n }, (_, i) => `${prefix}-${i}`)
  await Promise.all(
    ids.map(async (id, i) => {
      await api.post('/carts', { customerId: `customer-${i % 5}`, cartId: id })
      for (let k = 0; k <= i % 3; k++)
        await api.post(`/carts/${id}/items`, { sku: `sku-${k}`, quantity: 2, unitPrice: 100 + k })
      if (i % 4 === 1) await api.delete(`/carts/${id}/items/sku-0`)
      if (i % 3 === 0) await api.post(`/carts/${id}/confirm`)
    }),
  )
  return ids
}

describe('the service across restarts', () => {
  it('keeps carts, events and the read model, and goes on from the same revisions', async () => {
    const first = await startService({ sync: 'always' })
    const ids = await fill(first.api, 12, 'r')
    await first.api.readModelCaughtUp()
    const carts = (await first.api.get('/carts')).body.carts
    const events = (await first.api.get('/carts/r-1/events')).body
    await stopService(first.service)

    const second = await startService({ dir: first.dir, sync: 'always' })
    // The read model is in SQLite with its checkpoint: nothing to replay, it answers at once.
    expect(second.service.readModelStatus()).toMatchObject({ lag: 0, running: true })
    expect((await second.api.get('/carts')).body.carts).toEqual(carts)
    expect((await second.api.get('/carts/r-1/events')).body).toEqual(events)
    expect(carts.map((c: { id: string }) => c.id)).toEqual([...ids].sort())

    const add = await second.api.post(
      '/carts/r-1/items',
      { sku: 'late', quantity: 1, unitPrice: 5 },
      {
        'if-match': `"${events.revision}"`,
      },
    )
    expect([add.status, add.etag]).toEqual([200, events.revision + 1])
    await second.api.readModelCaughtUp()
    const before = carts.find((c: { id: string }) => c.id === 'r-1')
    expect((await second.api.get('/carts/r-1')).body).toMatchObject({
      itemCount: before.itemCount + 1,
      total: before.total + 5,
      revision: events.revision + 1,
    })
  })

  it('resumes the consumer from its checkpoint for events the read model had not applied', async () => {
    const first = await startService({ sync: 'always' })
    await fill(first.api, 6, 'a')
    await first.api.readModelCaughtUp()
    const applied = first.service.readModelStatus().position
    // Events appended while the consumer is stopped: the read model is behind when the service closes.
    await first.service.projection.stop()
    await fill(first.api, 6, 'b')
    expect(first.service.readModelStatus().position).toBe(applied)
    expect(first.service.readModelStatus().lag).toBeGreaterThan(0)
    await stopService(first.service)

    const second = await startService({ dir: first.dir, sync: 'always' })
    expect(second.service.readModelStatus().position).toBe(applied)
    const status = await second.api.readModelCaughtUp()
    expect(status.position).toBe(status.storePosition)
    expect((await second.api.get('/carts?limit=1000')).body.carts).toHaveLength(12)
  })
})

describe('the read model', () => {
  it('rebuilds from the events into exactly the live one', async () => {
    const { api, service } = await startService()
    await fill(api, 16, 'cart')
    await api.readModelCaughtUp()
    const live = (await api.get('/carts?limit=1000')).body.carts
    expect(live).toHaveLength(16)

    const rebuild = await api.post('/read-model/rebuild')
    expect(rebuild.status).toBe(202)
    expect(rebuild.body.running).toBe(true)
    const status = await api.readModelCaughtUp()
    expect(status.position).toBe(service.store.position)
    expect((await api.get('/carts?limit=1000')).body.carts).toEqual(live)
  })

  it('repairs a damaged read model by rebuilding it, and stops on an event it cannot apply in order', async () => {
    const { api, service, dir } = await startService()
    await fill(api, 8, 'cart')
    await api.readModelCaughtUp()
    const live = (await api.get('/carts')).body.carts

    // Lose a row behind the consumer's back: the next event of that cart cannot apply.
    const db = new Database(join(dir, 'read-model.sqlite'))
    db.prepare('DELETE FROM carts WHERE id = ?').run('cart-2')
    db.close()
    const add = await api.post('/carts/cart-2/items', { sku: 'x', quantity: 1, unitPrice: 1 })
    expect(add.status).toBe(200)
    let status = service.readModelStatus()
    while (status.error === null) {
      await new Promise((resolve) => setImmediate(resolve))
      status = service.readModelStatus()
    }
    expect(status.running).toBe(false)
    expect(status.error).toMatch(/read model out of step: ItemAdded at cart-cart-2 revision/)
    expect(status.lag).toBeGreaterThan(0)

    expect((await api.post('/read-model/rebuild')).status).toBe(202)
    await api.readModelCaughtUp()
    const rebuilt = (await api.get('/carts')).body.carts
    const added = (await api.get('/carts/cart-2/events')).body.events.at(-1)
    const expected = live.map((c: CartSummary) =>
      c.id === 'cart-2'
        ? { ...c, itemCount: c.itemCount + 1, total: c.total + 1, revision: add.etag, updatedAt: added.time }
        : c,
    )
    expect(rebuilt).toEqual(expected)
  })

  it('commits a batch and its checkpoint together, or neither', async () => {
    const model = CartReadModel.open(join(tempDir(), 'read-model.sqlite'))
    const opened = (stream: string, revision: number, position: number) =>
      ({
        stream,
        revision,
        position,
        id: `e${position}`,
        type: 'CartOpened',
        time: 0,
        data: { customerId: 'ada' },
        metadata: {},
      }) as const
    const { checkpoints } = model
    await checkpoints.transaction!(async () => {
      model.apply([opened('cart-a', 1, 1)])
      await checkpoints.store(READ_MODEL_CONSUMER, 1)
    })
    // The second batch fails after writing a row: the row and the checkpoint both roll back.
    await expect(
      checkpoints.transaction!(async () => {
        model.apply([opened('cart-b', 1, 2)])
        await checkpoints.store(READ_MODEL_CONSUMER, 3)
        model.apply([opened('cart-a', 1, 3)])
      }),
    ).rejects.toThrow(/UNIQUE constraint failed|out of step/)
    expect(await checkpoints.read(READ_MODEL_CONSUMER)).toBe(1)
    expect(model.list().map((c) => c.id)).toEqual(['a'])
    expect(model.get('b')).toBeUndefined()
    model.close()
  })
})

describe('a read model ahead of its log', () => {
  it('is rebuilt at start instead of silently skipping events', async () => {
    // A read model that has seen more of a log than the log now holds: here, the database of a longer
    // log; in production, a log that lost its unsynced tail ('os-cache') while SQLite kept its commit.
    const longer = await startService()
    await fill(longer.api, 10, 'long')
    await longer.api.readModelCaughtUp()
    await stopService(longer.service)
    const shorter = await startService()
    await fill(shorter.api, 2, 'short')
    await shorter.api.readModelCaughtUp()
    const expected = (await shorter.api.get('/carts')).body.carts
    await stopService(shorter.service)
    for (const suffix of ['', '-wal', '-shm'])
      rmSync(join(shorter.dir, `read-model.sqlite${suffix}`), { force: true })
    copyFileSync(join(longer.dir, 'read-model.sqlite'), join(shorter.dir, 'read-model.sqlite'))

    const restarted = await startService({ dir: shorter.dir })
    await restarted.api.readModelCaughtUp()
    expect((await restarted.api.get('/carts')).body.carts).toEqual(expected)
    // New events are projected, not skipped below the stale checkpoint.
    await restarted.api.post('/carts', { customerId: 'new', cartId: 'after' })
    await restarted.api.readModelCaughtUp()
    expect((await restarted.api.get('/carts/after')).status).toBe(200)
  })
})
