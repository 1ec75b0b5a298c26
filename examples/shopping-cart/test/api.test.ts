// The service over real HTTP: commands, rejections, revisions as ETags, and the read model.
import { describe, expect, it, vi } from 'vitest'
import { cartStream } from '../src/events.js'
import { startService } from './helpers.js'

describe('the cart API', () => {
  it('runs the happy path: open, add, remove, confirm; events and read model agree', async () => {
    const { api } = await startService()
    const open = await api.post('/carts', { customerId: 'ada' })
    expect(open.status).toBe(201)
    const id: string = open.body.cartId
    expect(id).toMatch(/^[0-9a-f-]{36}$/)
    expect(open.etag).toBe(1)
    expect(open.body).toMatchObject({
      revision: 1,
      events: [{ type: 'CartOpened', data: { customerId: 'ada' } }],
    })

    const add = (sku: string, quantity: number, unitPrice: number) =>
      api.post(`/carts/${id}/items`, { sku, quantity, unitPrice })
    expect((await add('apple', 2, 150)).etag).toBe(2)
    expect((await add('pear', 1, 99)).etag).toBe(3)
    const more = await add('apple', 1, 150)
    expect(more.status).toBe(200)
    expect(more.body).toMatchObject({ revision: 4, events: [{ type: 'ItemAdded' }] })
    const removed = await api.delete(`/carts/${id}/items/pear`)
    expect(removed.status).toBe(200)
    expect(removed.body.events).toEqual([
      { type: 'ItemRemoved', data: { sku: 'pear', quantity: 1, unitPrice: 99 } },
    ])
    const confirmed = await api.post(`/carts/${id}/confirm`)
    expect(confirmed.status).toBe(200)
    expect(confirmed.etag).toBe(6)
    expect(confirmed.body.events).toEqual([{ type: 'CartConfirmed', data: { itemCount: 3, total: 450 } }])

    const events = await api.get(`/carts/${id}/events`)
    expect(events.status).toBe(200)
    expect(events.etag).toBe(6)
    expect(events.body.events.map((e: { revision: number; type: string }) => [e.revision, e.type])).toEqual([
      [1, 'CartOpened'],
      [2, 'ItemAdded'],
      [3, 'ItemAdded'],
      [4, 'ItemAdded'],
      [5, 'ItemRemoved'],
      [6, 'CartConfirmed'],
    ])

    const status = await api.readModelCaughtUp()
    expect(status).toMatchObject({
      position: confirmed.body.position,
      storePosition: confirmed.body.position,
    })
    const summary = await api.get(`/carts/${id}`)
    expect(summary.status).toBe(200)
    expect(summary.etag).toBe(6)
    expect(summary.body).toMatchObject({
      id,
      customerId: 'ada',
      status: 'confirmed',
      itemCount: 3,
      total: 450,
      revision: 6,
    })
    expect((await api.get('/carts?status=confirmed')).body.carts.map((c: { id: string }) => c.id)).toEqual([
      id,
    ])
    expect((await api.get('/carts?status=open')).body.carts).toEqual([])
  })

  it('turns every domain rejection into a 4xx with its code, and appends nothing', async () => {
    const { api, service } = await startService()
    const expectRejected = async (
      reply: Promise<{ status: number; body: { code: string } }>,
      status: number,
      code: string,
    ) => {
      const r = await reply
      expect([r.status, r.body.code]).toEqual([status, code])
    }
    await expectRejected(
      api.post('/carts/ghost/items', { sku: 'apple', quantity: 1, unitPrice: 1 }),
      404,
      'CART_NOT_FOUND',
    )
    await expectRejected(api.delete('/carts/ghost/items/apple'), 404, 'CART_NOT_FOUND')
    await expectRejected(api.post('/carts/ghost/confirm'), 404, 'CART_NOT_FOUND')
    expect(await service.store.streamExists(cartStream('ghost'))).toBe(false)

    expect((await api.post('/carts', { customerId: 'ada', cartId: 'c1' })).status).toBe(201)
    await expectRejected(api.post('/carts', { customerId: 'bob', cartId: 'c1' }), 409, 'CART_ALREADY_OPEN')
    await expectRejected(api.post('/carts/c1/confirm'), 422, 'CART_EMPTY')
    await expectRejected(api.delete('/carts/c1/items/apple'), 422, 'ITEM_NOT_IN_CART')
    expect((await api.post('/carts/c1/items', { sku: 'apple', quantity: 2, unitPrice: 150 })).status).toBe(
      200,
    )
    await expectRejected(
      api.post('/carts/c1/items', { sku: 'apple', quantity: 1, unitPrice: 99 }),
      422,
      'PRICE_MISMATCH',
    )
    await expectRejected(
      api.post('/carts/c1/items', { sku: 'nail', quantity: 998, unitPrice: 1 }),
      422,
      'CART_LIMIT_EXCEEDED',
    )
    expect((await api.post('/carts/c1/confirm')).status).toBe(200)
    await expectRejected(
      api.post('/carts/c1/items', { sku: 'pear', quantity: 1, unitPrice: 99 }),
      409,
      'CART_CONFIRMED',
    )
    await expectRejected(api.delete('/carts/c1/items/apple'), 409, 'CART_CONFIRMED')
    await expectRejected(api.post('/carts/c1/confirm'), 409, 'CART_CONFIRMED')
    // Only the three accepted commands left events.
    expect((await api.get('/carts/c1/events')).body.events.map((e: { type: string }) => e.type)).toEqual([
      'CartOpened',
      'ItemAdded',
      'CartConfirmed',
    ])

    // Requests the API cannot read never reach the decider.
    await expectRejected(
      api.post('/carts/c2/items', { sku: 'apple', quantity: 0, unitPrice: 1 }),
      400,
      'INVALID_REQUEST',
    )
    await expectRejected(
      api.post('/carts/c2/items', { sku: 'apple', quantity: 1, unitPrice: 1.5 }),
      400,
      'INVALID_REQUEST',
    )
    await expectRejected(
      api.post('/carts', { customerId: 'ada', cartId: 'no/slash' }),
      400,
      'INVALID_REQUEST',
    )
    await expectRejected(api.post('/carts', { customerId: 'ada', extra: 1 }), 400, 'INVALID_REQUEST')
    await expectRejected(
      api.post('/carts/c1/confirm', undefined, { 'if-match': 'W/"3"' }),
      400,
      'INVALID_IF_MATCH',
    )
    await expectRejected(api.get('/carts/nope'), 404, 'CART_NOT_FOUND')
    await expectRejected(api.get('/carts/nope/events'), 404, 'CART_NOT_FOUND')
    await expectRejected(api.get('/nowhere'), 404, 'ROUTE_NOT_FOUND')
    const malformed = await fetch(`${service.url}/carts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"customerId":',
    })
    expect(malformed.status).toBe(400)
    expect(((await malformed.json()) as { code: string }).code).toBe('FST_ERR_CTP_INVALID_JSON_BODY')
  })

  it('applies a command with If-Match only at that revision', async () => {
    const { api } = await startService()
    await api.post('/carts', { customerId: 'ada', cartId: 'c1' })
    const add = await api.post(
      '/carts/c1/items',
      { sku: 'apple', quantity: 1, unitPrice: 150 },
      { 'if-match': '"1"' },
    )
    expect([add.status, add.etag]).toEqual([200, 2])
    const stale = await api.post(
      '/carts/c1/items',
      { sku: 'pear', quantity: 1, unitPrice: 99 },
      { 'if-match': '"1"' },
    )
    expect(stale.status).toBe(412)
    expect(stale.etag).toBe(2)
    expect(stale.body).toMatchObject({ code: 'WRONG_EXPECTED_REVISION', expected: 1, actual: 2 })
    const ahead = await api.post('/carts/c1/confirm', undefined, { 'if-match': '7' })
    expect([ahead.status, ahead.body.actual]).toEqual([412, 2])
    const bare = await api.post('/carts/c1/confirm', undefined, { 'if-match': '2' })
    expect([bare.status, bare.etag]).toEqual([200, 3])
    // A rejection still wins over a matching revision: the rules decide after the check.
    const confirmedAlready = await api.post('/carts/c1/confirm', undefined, { 'if-match': '"3"' })
    expect([confirmedAlready.status, confirmedAlready.body.code]).toEqual([409, 'CART_CONFIRMED'])
  })

  it('lets exactly one of concurrent commands with the same If-Match win', async () => {
    const { api } = await startService()
    await api.post('/carts', { customerId: 'ada', cartId: 'c1' })
    await api.post('/carts/c1/items', { sku: 'apple', quantity: 1, unitPrice: 150 })
    const replies = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        api.post('/carts/c1/items', { sku: `sku-${i}`, quantity: 1, unitPrice: 10 }, { 'if-match': '"2"' }),
      ),
    )
    const won = replies.filter((r) => r.status === 200)
    const lost = replies.filter((r) => r.status === 412)
    expect(won).toHaveLength(1)
    expect(lost).toHaveLength(11)
    expect(won[0]!.etag).toBe(3)
    for (const r of lost)
      expect(r.body).toMatchObject({ code: 'WRONG_EXPECTED_REVISION', expected: 2, actual: 3 })
    const events = (await api.get('/carts/c1/events')).body.events
    expect(events).toHaveLength(3)
    expect(events[2].data).toEqual(won[0]!.body.events[0].data)
  })

  it('retries concurrent commands without If-Match, so none is lost', async () => {
    const { api } = await startService({ commandRetries: 3 })
    await api.post('/carts', { customerId: 'ada', cartId: 'c1' })
    // Each conflict means another of them was appended, so 4 commands need at most 3 retries each.
    const replies = await Promise.all(
      Array.from({ length: 4 }, (_, i) =>
        api.post('/carts/c1/items', { sku: `sku-${i}`, quantity: i + 1, unitPrice: 10 }),
      ),
    )
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200, 200])
    expect(replies.map((r) => r.etag).sort()).toEqual([2, 3, 4, 5])
    await api.readModelCaughtUp()
    expect((await api.get('/carts/c1')).body).toMatchObject({ itemCount: 10, total: 100, revision: 5 })
  })

  it('answers 409 when the cart keeps changing through every retry', async () => {
    const { api, service } = await startService({ commandRetries: 2 })
    await api.post('/carts', { customerId: 'ada', cartId: 'c1' })
    // Another writer gets in after each read of the cart, before the command's append.
    const read = service.store.aggregateStream.bind(service.store)
    let sneaked = 0
    vi.spyOn(service.store, 'aggregateStream').mockImplementation(async (stream, options) => {
      const result = await read(stream, options)
      await service.store.appendToStream(stream, [
        { type: 'ItemAdded', data: { sku: `other-${++sneaked}`, quantity: 1, unitPrice: 1 } },
      ])
      return result
    })
    const reply = await api.post('/carts/c1/items', { sku: 'apple', quantity: 1, unitPrice: 150 })
    expect([reply.status, reply.body.code]).toEqual([409, 'COMMAND_RETRIES_EXHAUSTED'])
    expect(sneaked).toBe(3)
    vi.restoreAllMocks()
    const types = (await api.get('/carts/c1/events')).body.events.map(
      (e: { data: { sku?: string } }) => e.data.sku,
    )
    expect(types).toEqual([undefined, 'other-1', 'other-2', 'other-3'])
  })

  it('catches the read model up with many carts written concurrently', async () => {
    const { api } = await startService()
    const carts = Array.from({ length: 24 }, (_, i) => `cart-${i}`)
    await Promise.all(
      carts.map(async (id, i) => {
        await api.post('/carts', { customerId: `customer-${i % 7}`, cartId: id })
        for (let k = 0; k <= i % 4; k++)
          await api.post(`/carts/${id}/items`, { sku: `sku-${k}`, quantity: k + 1, unitPrice: 100 })
        if (i % 3 === 0) await api.post(`/carts/${id}/confirm`)
      }),
    )
    const status = await api.readModelCaughtUp()
    expect(status.position).toBe(status.storePosition)
    const { carts: rows } = (await api.get('/carts?limit=1000')).body
    expect(rows).toHaveLength(24)
    for (const [i, id] of carts.entries()) {
      const lines = (i % 4) + 1
      const units = (lines * (lines + 1)) / 2
      expect(rows.find((r: { id: string }) => r.id === id)).toMatchObject({
        customerId: `customer-${i % 7}`,
        status: i % 3 === 0 ? 'confirmed' : 'open',
        itemCount: units,
        total: units * 100,
        revision: 1 + lines + (i % 3 === 0 ? 1 : 0),
      })
    }
  })
})
