/**
 * End to end in a real browser: Debian's chromium driven by playwright-core, against `waltz ui`
 * started as a child process (the built CLI), on a store the test keeps writing to.
 */
import { existsSync } from 'node:fs'
import type { EventStore } from '@waltz/eventstore'
import { type Browser, chromium, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { fileTempDir } from '../../../test-support/temp-dir.js'
import {
  CHROMIUM,
  CHROMIUM_ARGS,
  fillArchivedStore,
  fillStore,
  startUiProcess,
  type UiProcess,
} from './fixtures.js'

let browser: Browser
let store: EventStore
let json: UiProcess
let hex: UiProcess
let hexStore: EventStore
let archived: UiProcess
let archivedStore: EventStore

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium), as .ci/run does`,
    )
  }
  const dir = fileTempDir()
  // This writer publishes its stats file (a sample every 100 ms): the overview charts its fsyncs.
  store = (await fillStore(dir, 30, 100)) as unknown as EventStore
  const hexDir = fileTempDir()
  hexStore = (await fillStore(hexDir, 3)) as unknown as EventStore
  const archivedDir = fileTempDir()
  const archiveDir = fileTempDir()
  archivedStore = (await fillArchivedStore(archivedDir, archiveDir, fileTempDir())) as unknown as EventStore
  ;[json, hex, archived, browser] = await Promise.all([
    startUiProcess(dir, '--serializer', 'json'),
    startUiProcess(hexDir, '--serializer', 'raw'),
    startUiProcess(archivedDir, '--archive', archiveDir),
    chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS }),
  ])
}, 60_000)

afterAll(async () => {
  await browser?.close()
  await Promise.allSettled([json?.stop(), hex?.stop(), archived?.stop()])
  await Promise.allSettled([store?.close(), hexStore?.close(), archivedStore?.close()])
})

async function open(url: string): Promise<Page> {
  const context = await browser.newContext()
  const page = await context.newPage()
  const errors: string[] = []
  page.on('pageerror', (e) => errors.push(e.message))
  // A script the Content-Security-Policy blocks is reported on the console only.
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text())
  })
  await page.goto(url)
  ;(page as Page & { errors: string[] }).errors = errors
  return page
}

describe('waltz ui in chromium', () => {
  test('the overview shows the log, and the token leaves the address bar', async () => {
    const page = await open(json.url)
    await expect.poll(() => page.getByTestId('ov-range').textContent()).toBe(`1 – ${store.position}`)
    expect(await page.getByTestId('ov-serializer').textContent()).toContain('waltz-json/2')
    expect(await page.getByTestId('ov-writer').textContent()).toContain(`pid ${process.pid} running`)
    expect(page.url()).toBe(`${json.origin}/`)
    await page.getByTestId('verify-start').click()
    await expect
      .poll(() => page.getByTestId('verify-result').textContent(), { timeout: 10_000 })
      .toMatch(/^no problems/)
    expect((page as Page & { errors: string[] }).errors).toEqual([])
    await page.context().close()
  })

  test("the overview charts the writer's fsync latency from its stats file, or says why it cannot", async () => {
    const page = await open(json.url)
    // p50 and p99 points, from the samples the writer published while it appended.
    const dots = (series: string) => page.locator(`[data-testid=fsync-chart] circle[data-series=${series}]`)
    await dots('p99').first().waitFor({ timeout: 10_000 })
    expect(await dots('p50').count()).toBe(await dots('p99').count())
    const now = await page.getByTestId('fsync-now').textContent()
    expect(now).toMatch(/^Now p50 [\d.]+ (µs|ms), p99 [\d.]+ (µs|ms) over the writer's latest 1024 fsyncs/)
    expect(now).toContain(`pid ${process.pid}`)
    expect(await page.getByTestId('rate-source').textContent()).toContain("from the writer's stats file")
    expect(await page.locator('[data-testid=rate-chart] polyline').count()).toBe(1)
    await page.context().close()
    // This writer publishes none: the page says how to make it.
    const plain = await open(hex.url)
    await expect.poll(() => plain.getByTestId('fsync-absent').textContent()).toContain('publishStats(wal)')
    expect(await plain.getByTestId('rate-source').textContent()).toContain('sampled by the inspector')
    expect(await plain.getByTestId('ov-no-archive').count()).toBe(1)
    await plain.context().close()
  })

  test('search streams by prefix, open one, read its events as JSON', async () => {
    const page = await open(json.url)
    await page.getByTestId('nav-streams').click()
    await page.getByTestId('stream-search').fill('cart-1')
    await page.getByTestId('stream-search-go').click()
    await expect.poll(() => page.getByTestId('stream-row').count()).toBe(10)
    // Every stream of the store, whatever the search: 30 carts and order-1.
    expect(await page.getByTestId('streams-total').textContent()).toBe('31 in the store')
    const names = await page.locator('[data-testid=stream-row] td:first-child').allTextContents()
    expect(names).toEqual(Array.from({ length: 10 }, (_, i) => `cart-1${i}`))
    await page.getByRole('link', { name: 'cart-13', exact: true }).click()
    await expect.poll(() => page.getByTestId('event-row').count()).toBe(3)
    expect(await page.getByTestId('stream-revision').textContent()).toBe('3')
    const types = await page.getByTestId('event-type').allTextContents()
    expect(types).toEqual(['CartOpened', 'ItemAdded', 'ItemAdded'])
    const data = await page.getByTestId('event-json').allTextContents()
    expect(JSON.parse(data[0]!)).toEqual({ customer: 'c13' })
    expect(JSON.parse(data[2]!)).toEqual({ sku: 'sku-13-1', qty: 2 })
    expect(await page.getByTestId('event-row').first().textContent()).toContain('user: alice')
    await page.getByTestId('newest-first').click()
    await expect.poll(() => page.getByTestId('event-type').first().textContent()).toBe('ItemAdded')
    await page.context().close()
  })

  test('data without a serializer is hex with the stored size', async () => {
    const page = await open(`${hex.url}#/stream?name=cart-01`)
    await expect.poll(() => page.getByTestId('event-hex').count()).toBe(3)
    const first = await page.getByTestId('event-row').first().textContent()
    const hexText = (await page.getByTestId('event-hex').first().textContent())!.replace(/\s/g, '')
    // The JSON serializer's stored bytes, as hex.
    expect(Buffer.from(hexText, 'hex').toString()).toContain('"customer":"c1"')
    expect(first).toContain(`hex, ${hexText.length / 2} bytes stored`)
    await page.context().close()
  })

  test('a live append arrives through the tail (server-sent events)', async () => {
    const page = await open(`${json.url}#/all`)
    await page.getByTestId('live-toggle').check()
    await page.getByTestId('live-on').waitFor() // the tail's first event arrived: it is following
    await store.appendToStream('cart-live', [{ type: 'ItemAdded', data: { sku: 'just-now', qty: 7 } }])
    const live = page.getByTestId('live-table')
    await expect.poll(() => live.getByTestId('event-row').count(), { timeout: 10_000 }).toBe(1)
    expect(await live.getByTestId('event-type').textContent()).toBe('ItemAdded')
    expect(JSON.parse((await live.getByTestId('event-json').textContent())!)).toEqual({
      sku: 'just-now',
      qty: 7,
    })
    expect(await live.textContent()).toContain('cart-live')
    await page.context().close()
  })

  test("consumers' checkpoint and lag", async () => {
    const page = await open(`${json.url}#/consumers`)
    await expect.poll(() => page.getByTestId('consumer-row').count()).toBe(1)
    const position = Number((await page.getByTestId('consumer-position').textContent())!.replace(/,/g, ''))
    const lag = Number((await page.getByTestId('consumer-lag').textContent())!.replace(/,/g, ''))
    expect(position).toBeGreaterThan(0)
    expect(lag).toBeGreaterThan(0)
    expect(position + lag).toBe(store.position)
    expect(await page.getByTestId('consumer-row').textContent()).toContain('totals')
    await page.context().close()
  })

  test('refuses the page without the token, with a wrong one, and through another host name', async () => {
    const context = await browser.newContext()
    const page = await context.newPage()
    const bare = await page.goto(`${json.origin}/`)
    expect(bare!.status()).toBe(403)
    expect(await page.textContent('body')).toContain('a valid access token is required')
    const wrong = await page.goto(`${json.origin}/?token=${'A'.repeat(32)}`)
    expect(wrong!.status()).toBe(403)
    const api = await page.goto(`${json.origin}/api/streams`)
    expect(api!.status()).toBe(403)
    // localhost resolves to the same socket, but the Host header is not the bound address.
    const rebound = await page.goto(json.url.replace('127.0.0.1', 'localhost'))
    expect(rebound!.status()).toBe(403)
    expect(await page.textContent('body')).toContain('the Host header')
    await context.close()
  })

  test('the first page load asks for its data once, before the page has rendered (boot.js)', async () => {
    const context = await browser.newContext()
    const page = await context.newPage()
    const requests: string[] = []
    // app.js is held back until the streams request is seen (or 5 s pass): only the inline boot script
    // can have asked for the data by then. No timing comparison: the order is forced.
    let appReleased = false
    let askedBeforeApp = false
    let seen: () => void = () => {}
    const streamsAsked = new Promise<void>((resolve) => {
      seen = resolve
    })
    page.on('request', (r) => {
      const path = new URL(r.url()).pathname
      requests.push(path)
      if (path === '/api/streams') {
        if (!appReleased) askedBeforeApp = true
        seen()
      }
    })
    await page.route('**/static/app.js', async (route) => {
      await Promise.race([streamsAsked, new Promise((resolve) => setTimeout(resolve, 5000))])
      appReleased = true
      await route.continue()
    })
    await page.goto(`${json.url}#/streams?prefix=cart-2`)
    await expect.poll(() => page.getByTestId('stream-row').count()).toBe(10)
    expect(askedBeforeApp).toBe(true)
    expect(requests.filter((p) => p === '/api/streams')).toHaveLength(1)
    expect(requests.filter((p) => p === '/api/info')).toHaveLength(1)
    await context.close()
  })

  test('with --archive: the archive on the overview, and old events read from it', async () => {
    const local = archivedStore.wal.firstSeq
    const page = await open(archived.url)
    await expect.poll(() => page.getByTestId('ov-archive-oldest').textContent()).toBe('1')
    expect(await page.getByTestId('ov-range').textContent()).toBe(`1 – ${archivedStore.position}`)
    expect(await page.getByTestId('ov-archived').textContent()).toMatch(/^\d+ segment\(s\), [\d.]+ KiB$/)
    expect(await page.getByTestId('ov-retention').textContent()).toBe(
      `positions before ${local.toLocaleString('en-US')} removed locally, read from the archive`,
    )
    await page.goto(`${archived.origin}/#/stream?name=cart-3`)
    await expect.poll(() => page.getByTestId('event-row').count()).toBe(50)
    const first = page.getByTestId('event-row').first()
    expect(JSON.parse((await first.getByTestId('event-json').textContent())!)).toEqual({
      sku: 'sku-3',
      qty: 1,
    })
    const position = Number((await first.locator('td').nth(1).textContent())!.replace(/,/g, ''))
    expect(position).toBeLessThan(local)
    expect((page as Page & { errors: string[] }).errors).toEqual([])
    await page.context().close()
  })
})
