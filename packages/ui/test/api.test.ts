import { randomBytes } from 'node:crypto'
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { localKeyring } from '@waltz/core'
import { EventStore } from '@waltz/eventstore'
import { readStoredJson } from '@waltz/serializer-json'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { fileTempDir, tempDir } from '../../../test-support/temp-dir.js'
import { isUiError, startUi, type UiServer } from '../src/index.js'
import { fillStore, rawGet, serializer } from './fixtures.js'

let dir: string
let store: EventStore
let ui: UiServer
const auth = () => ({ authorization: `Bearer ${ui.token}` })
// biome-ignore lint/suspicious/noExplicitAny: the API's JSON bodies, checked by the assertions
type Body = Record<string, any>
const get = async (path: string): Promise<Body> => {
  const res = await fetch(`http://127.0.0.1:${ui.port}${path}`, { headers: auth() })
  expect(res.status).toBe(200)
  return (await res.json()) as Body
}

beforeAll(async () => {
  dir = fileTempDir()
  store = (await fillStore(dir)) as unknown as EventStore
  ui = await startUi({ dir, decode: (bytes, type) => readStoredJson(bytes, type).data, decoderName: 'json' })
})
afterAll(async () => {
  await ui?.close()
  await store?.close()
})

describe('access', () => {
  test('the printed URL is on 127.0.0.1 with a 32-character token; the first page load sets a cookie', async () => {
    expect(ui.url).toBe(`http://127.0.0.1:${ui.port}/?token=${ui.token}`)
    expect(ui.token).toMatch(/^[A-Za-z0-9_-]{32}$/)
    const page = await fetch(ui.url)
    expect(page.status).toBe(200)
    expect(await page.text()).toContain('<script type="module" src="/static/app.js">')
    const cookie = page.headers.get('set-cookie')!
    expect(cookie).toBe(`waltz_ui_${ui.port}=${ui.token}; HttpOnly; SameSite=Strict; Path=/`)
    expect(page.headers.get('content-security-policy')).toMatch(
      /^default-src 'self'; script-src 'self' 'sha256-/,
    )
    const withCookie = await fetch(`${ui.url.split('?')[0]}api/consumers`, {
      headers: { cookie: cookie.split(';')[0]! },
    })
    expect(withCookie.status).toBe(200)
  })

  test.each([
    ['no token', '/api/streams', {}],
    ['no token, the page', '/', {}],
    ['no token, a script', '/vendor/preact.mjs', {}],
    ['no token, the live tail', '/api/tail', {}],
    ['a wrong token', '/api/streams?token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', {}],
    ['a wrong cookie', '/api/streams', { cookie: 'waltz_ui_1=x' }],
  ])('refuses a request with %s (403)', async (_what, path, headers) => {
    const r = await rawGet(`http://127.0.0.1:${ui.port}`, path, headers as Record<string, string>)
    expect(r.status).toBe(403)
    expect(r.body).toMatch(/^forbidden: a valid access token is required/)
  })

  test.each(['localhost', 'evil.example', '127.0.0.1:1', '127.0.0.2'])(
    'refuses a request whose Host is %s, token or not (DNS rebinding)',
    async (host) => {
      const hostHeader = host.includes(':') ? host : `${host}:${ui.port}`
      const r = await rawGet(`http://127.0.0.1:${ui.port}`, `/?token=${ui.token}`, { host: hostHeader })
      expect(r.status).toBe(403)
      expect(r.body).toMatch(/^forbidden: the Host header/)
    },
  )

  test('serves GET only (and the verify POST): the inspector is read-only', async () => {
    const r = await fetch(`http://127.0.0.1:${ui.port}/api/streams`, { method: 'DELETE', headers: auth() })
    expect(r.status).toBe(405)
  })

  test('a non-loopback host needs allowRemote', async () => {
    const err = await startUi({ dir, host: '0.0.0.0' }).catch((e: unknown) => e)
    expect(isUiError(err, 'UI_REMOTE_NOT_ALLOWED')).toBe(true)
    const remote = await startUi({ dir, host: '0.0.0.0', allowRemote: true })
    try {
      // Any address of the machine, with the port, is a Host it answers; others are refused.
      const ok = await rawGet(`http://127.0.0.1:${remote.port}`, `/api/consumers?token=${remote.token}`)
      expect(ok.status).toBe(200)
      const bad = await rawGet(`http://127.0.0.1:${remote.port}`, `/api/consumers?token=${remote.token}`, {
        host: `evil.example:${remote.port}`,
      })
      expect(bad.status).toBe(403)
    } finally {
      await remote.close()
    }
  })
})

describe('API', () => {
  test('streams: by prefix, paginated with a cursor, with revision and last-event time', async () => {
    const first = await get('/api/streams?prefix=cart-&limit=12')
    expect(first.streams.map((s: { name: string }) => s.name)).toEqual(
      Array.from({ length: 12 }, (_, i) => `cart-${String(i + 1).padStart(2, '0')}`),
    )
    expect(first.next).toBe('cart-12')
    const third = await get('/api/streams?prefix=cart-&limit=12&after=cart-24')
    expect(third.streams.map((s: { name: string }) => s.name)).toEqual(
      Array.from({ length: 6 }, (_, i) => `cart-${i + 25}`),
    )
    expect(third.next).toBeUndefined()
    const cart3 = first.streams[2]
    expect(cart3).toMatchObject({ name: 'cart-03', revision: 5, deletedRevision: 0, tombstoned: false })
    expect(Math.abs(cart3.lastTime - Date.now())).toBeLessThan(120_000)
    expect((await get('/api/streams?prefix=order')).streams).toHaveLength(1)
  })

  test("a stream's events: JSON data, metadata, revision and position, both directions", async () => {
    const page = await get('/api/stream?name=cart-03')
    expect(page.stream).toMatchObject({ name: 'cart-03', revision: 5 })
    expect(page.events.map((e: { revision: number }) => e.revision)).toEqual([1, 2, 3, 4, 5])
    expect(page.events[0]).toMatchObject({ type: 'CartOpened', metadata: { user: 'alice' }, kind: 'event' })
    expect(JSON.parse(page.events[0].json)).toEqual({ customer: 'c3' })
    expect(JSON.parse(page.events[1].json)).toEqual({ sku: 'sku-3-0', qty: 1 })
    const back = await get('/api/stream?name=cart-03&direction=backwards&limit=2')
    expect(back.events.map((e: { revision: number }) => e.revision)).toEqual([5, 4])
    expect(back.next).toBe(3)
    expect(back.events[0].position).toBeGreaterThan(back.events[1].position)
  })

  test('all events newest first with filters; the live tail delivers new appends', async () => {
    const all = await get('/api/all?direction=backwards&limit=3')
    expect(all.records[0]).toMatchObject({ stream: 'order-1', type: 'CartCheckedOut' })
    const typed = await get('/api/all?types=CartOpened&prefix=cart-0&limit=100')
    expect(typed.records.map((r: { stream: string }) => r.stream)).toEqual(
      Array.from({ length: 9 }, (_, i) => `cart-0${i + 1}`),
    )
    const controller = new AbortController()
    const res = await fetch(`http://127.0.0.1:${ui.port}/api/tail?prefix=live-`, {
      headers: auth(),
      signal: controller.signal,
    })
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    const reader = res.body!.getReader()
    let text = ''
    const first = await reader.read()
    text += Buffer.from(first.value!).toString()
    expect(text).toMatch(/^event: ready\ndata: \{"from":\d+\}\n\n/)
    await store.appendToStream('other-1', [{ type: 'CartOpened', data: { customer: 'no' } }])
    await store.appendToStream('live-1', [{ type: 'CartOpened', data: { customer: 'yes' } }])
    const deadline = Date.now() + 10_000
    while (!text.includes('event: record') && Date.now() < deadline) {
      const chunk = await reader.read()
      text += Buffer.from(chunk.value!).toString()
    }
    controller.abort()
    const data = JSON.parse(/event: record\ndata: (.*)\n/.exec(text)![1]!)
    expect(data).toMatchObject({ stream: 'live-1', type: 'CartOpened', revision: 1 })
    expect(JSON.parse(data.json)).toEqual({ customer: 'yes' })
    expect(text).not.toContain('other-1')
  })

  test("consumers' checkpoints and lag; the overview", async () => {
    const c = await get('/api/consumers')
    expect(c.consumers).toHaveLength(1)
    expect(c.consumers[0].name).toBe('totals')
    expect(c.consumers[0].lag).toBe(c.lastPosition - c.consumers[0].position)
    expect(c.consumers[0].lag).toBeGreaterThan(0) // order-1 (and the tail's appends) came after it stopped
    const o = await get('/api/overview')
    expect(o.firstPosition).toBe(1)
    expect(o.lastPosition).toBe(store.position)
    expect(o.disk.segments.length).toBeGreaterThan(0)
    expect(o.disk.totalBytes).toBeGreaterThan(o.disk.segmentBytes)
    expect(o.writer).toMatchObject({ pid: process.pid, alive: true })
    expect(o.serializer).toBe('waltz-json/2')
    expect(o.rates.length).toBeGreaterThan(0)
  })

  test('verify runs on demand and reports progress and its result', async () => {
    const started = await fetch(`http://127.0.0.1:${ui.port}/api/verify`, { method: 'POST', headers: auth() })
    expect(((await started.json()) as { status: string }).status).toBe('running')
    let state: Body = {}
    for (let i = 0; i < 200; i++) {
      state = await get('/api/verify')
      if (state.status !== 'running') break
      await new Promise((r) => setTimeout(r, 25))
    }
    expect(state).toMatchObject({ status: 'done', corruption: [] })
    expect(state.scanned).toBe(state.total)
    expect(state.total).toBeGreaterThan(0)
  })

  test('bad parameters are 400 with the reason', async () => {
    const r = await fetch(`http://127.0.0.1:${ui.port}/api/stream?name=x&limit=5000`, { headers: auth() })
    expect(r.status).toBe(400)
    expect(((await r.json()) as { error: string }).error).toMatch(/limit must be an integer from 1 to 1000/)
    const r2 = await fetch(`http://127.0.0.1:${ui.port}/api/all?from=-1`, { headers: auth() })
    expect(r2.status).toBe(400)
  })

  test('nothing in the store directory is written by the inspector', async () => {
    // With the writer closed, the directory stays exactly as it was while the inspector reads.
    const d = tempDir()
    const s = await fillStore(d, 5)
    await s.close()
    const snapshot = () =>
      ['', 'index', 'consumers']
        .flatMap((sub) => readdirSync(join(d, sub)).map((n) => join(sub, n)))
        .map((p) => `${p} ${statSync(join(d, p)).size} ${statSync(join(d, p)).mtimeMs}`)
        .sort()
    const before = snapshot()
    const u = await startUi({ dir: d })
    try {
      for (const path of [
        '/api/overview',
        '/api/streams',
        '/api/stream?name=cart-01',
        '/api/all',
        '/api/consumers',
      ]) {
        const r = await fetch(`http://127.0.0.1:${u.port}${path}`, {
          headers: { authorization: `Bearer ${u.token}` },
        })
        expect(r.status).toBe(200)
      }
      const hex = (await (
        await fetch(`http://127.0.0.1:${u.port}/api/stream?name=cart-01`, {
          headers: { authorization: `Bearer ${u.token}` },
        })
      ).json()) as { events: { hex: string; size: number; json?: string }[] }
      // Without a decoder: hex with the stored size.
      expect(hex.events[0]!.json).toBeUndefined()
      expect(hex.events[0]!.hex.length).toBe(hex.events[0]!.size * 2)
    } finally {
      await u.close()
    }
    expect(snapshot()).toEqual(before)
  })
  test('an encrypted store: data opened with the keyring, shredded events marked, sealed data never shown', async () => {
    const d = tempDir()
    const keyring = localKeyring([{ id: 'm1', key: randomBytes(32) }])
    const s = await EventStore.open({ dir: d, serializer, encryption: { keyring } })
    await s.appendToStream('cart-1', [{ type: 'CartOpened', data: { customer: 'ann' } }])
    await s.appendToStream('cart-2', [{ type: 'CartOpened', data: { customer: 'bob' } }])
    await s.shredStream('cart-1')
    await s.close()
    const events = async (u: UiServer, name: string) =>
      (
        (await (
          await fetch(`http://127.0.0.1:${u.port}/api/stream?name=${name}`, {
            headers: { authorization: `Bearer ${u.token}` },
          })
        ).json()) as { events: Body[] }
      ).events
    const decode = (bytes: Uint8Array, type: string) => readStoredJson(bytes, type).data
    const open = await startUi({ dir: d, decode, encryption: { keyring } })
    const blind = await startUi({ dir: d, decode })
    try {
      expect(JSON.parse((await events(open, 'cart-2'))[0]!.json)).toEqual({ customer: 'bob' })
      expect((await events(open, 'cart-1'))[0]).toMatchObject({
        revision: 1,
        type: 'CartOpened',
        hex: '',
        decodeError: 'shredded: its data key was destroyed',
      })
      for (const name of ['cart-1', 'cart-2']) {
        const [e] = await events(blind, name)
        expect(e).toMatchObject({ revision: 1, hex: '', decodeError: expect.stringMatching(/^encrypted/) })
        expect(e!.json).toBeUndefined()
      }
    } finally {
      await open.close()
      await blind.close()
    }
  })
})
