#!/usr/bin/env node
// Takes the README's screenshots: a demo store (carts, orders, a consumer) written while the
// inspector runs, so the append-rate chart has a line and the live tail has something to show.
// Writes packages/ui/docs/{overview,streams,stream,all-events,consumers}.png.
//
//   node packages/ui/scripts/screenshots.mjs      (after `npx tsc -b`; needs /usr/bin/chromium)
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { EventStore } from '@waltz/eventstore'
import { jsonSerializer, readStoredJson } from '@waltz/serializer-json'
import { startUi } from '@waltz/ui'
import { chromium } from 'playwright-core'
import { z } from 'zod'

const out = fileURLToPath(new URL('../docs/', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'waltz-ui-shots-'))
const schemas = {
  CartOpened: z.object({ customer: z.string() }),
  ItemAdded: z.object({ sku: z.string(), qty: z.number() }),
  CartCheckedOut: z.object({ total: z.number() }),
}
const store = await EventStore.open({ dir, serializer: jsonSerializer({ schemas }), indexFlushEvents: 512 })
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
let n = 0
async function shop(count) {
  for (let i = 0; i < count; i++, n++) {
    const cart = `cart-${String(n % 240).padStart(4, '0')}`
    await store.appendToStream(cart, [
      {
        type: 'ItemAdded',
        data: { sku: `sku-${n % 97}`, qty: (n % 3) + 1 },
        metadata: { user: `user-${n % 7}` },
      },
    ])
  }
}
for (let i = 0; i < 240; i++) {
  await store.appendToStream(`cart-${String(i).padStart(4, '0')}`, [
    { type: 'CartOpened', data: { customer: `customer-${i}` } },
  ])
}
await shop(2000)
await store.appendToStream('order-0001', [{ type: 'CartCheckedOut', data: { total: 129.5 } }])
const projection = store.consumer({ name: 'cart-totals', handler: () => {} })
await projection.start()
await sleep(500)
await projection.stop()
const mail = store.consumer({ name: 'order-emails', handler: () => {}, filter: { streamPrefix: 'order-' } })
await mail.start()
await sleep(300)
await mail.stop()
await shop(300)

const ui = await startUi({
  dir,
  decode: (bytes, type) => readStoredJson(bytes, type).data,
  decoderName: 'json',
})
const browser = await chromium.launch({
  executablePath: process.env.WALTZ_CHROMIUM ?? '/usr/bin/chromium',
  args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
})
try {
  // Half a minute of appends at a varying rate, for the chart.
  for (let s = 0; s < 30; s++) {
    await shop(10 + Math.round(40 * Math.abs(Math.sin(s / 5))))
    await sleep(1000)
  }
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } })
  await page.goto(ui.url)
  await page.getByTestId('rate-chart').waitFor()
  await page.getByTestId('verify-start').click()
  await page.getByTestId('verify-result').waitFor()
  await page.screenshot({ path: join(out, 'overview.png') })
  await page.goto(`${ui.url.split('?')[0]}#/streams?prefix=cart-01`)
  await page.getByTestId('stream-row').nth(20).waitFor()
  await page.screenshot({ path: join(out, 'streams.png') })
  await page.goto(`${ui.url.split('?')[0]}#/stream?name=cart-0042`)
  await page.getByTestId('event-row').nth(5).waitFor()
  await page.screenshot({ path: join(out, 'stream.png') })
  await page.goto(`${ui.url.split('?')[0]}#/all`)
  await page.getByTestId('live-toggle').check()
  await page.getByTestId('live-on').waitFor()
  await shop(3)
  await page.getByTestId('live-table').getByTestId('event-row').nth(2).waitFor()
  await page.screenshot({ path: join(out, 'all-events.png') })
  await page.goto(`${ui.url.split('?')[0]}#/consumers`)
  await page.getByTestId('consumer-row').nth(1).waitFor()
  await page.screenshot({ path: join(out, 'consumers.png') })
  console.log(`screenshots in ${out}`)
} finally {
  await browser.close()
  await ui.close()
  await store.close()
  rmSync(dir, { recursive: true, force: true })
}
