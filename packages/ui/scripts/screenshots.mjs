#!/usr/bin/env node
// Takes the README's screenshots: a demo store (carts, orders, a consumer) written while the
// inspector runs, so the charts have lines and the live tail has something to show. The writer
// publishes its stats file (fsync latency) and copies sealed segments to an archive, retention
// keeping only the newest locally, so the overview shows archive and retention state.
// Writes packages/ui/docs/{overview,streams,stream,all-events,consumers}.png.
//
//   node packages/ui/scripts/screenshots.mjs      (after `npx tsc -b`; needs /usr/bin/chromium)
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { directoryArchive, publishStats } from '@waltz/core'
import { EventStore } from '@waltz/eventstore'
import { jsonSerializer, readStoredJson } from '@waltz/serializer-json'
import { startUi } from '@waltz/ui'
import { chromium } from 'playwright-core'
import { z } from 'zod'

const out = fileURLToPath(new URL('../docs/', import.meta.url))
const dir = mkdtempSync(join(tmpdir(), 'waltz-ui-shots-'))
const archiveDir = mkdtempSync(join(tmpdir(), 'waltz-ui-shots-archive-'))
const cacheDir = mkdtempSync(join(tmpdir(), 'waltz-ui-shots-cache-'))
const schemas = {
  CartOpened: z.object({ customer: z.string() }),
  ItemAdded: z.object({ sku: z.string(), qty: z.number() }),
  CartCheckedOut: z.object({ total: z.number() }),
}
const segmentSize = 64 * 1024
const store = await EventStore.open({
  dir,
  serializer: jsonSerializer({ schemas }),
  indexFlushEvents: 512,
  sync: 'always',
  segmentSize,
  archive: directoryArchive(archiveDir),
  retention: { maxBytes: 3 * segmentSize },
  archiveCache: { dir: cacheDir },
})
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

let stats
const ui = await startUi({
  dir,
  archive: directoryArchive(archiveDir),
  archiveCache: { dir: cacheDir },
  decode: (bytes, type) => readStoredJson(bytes, type).data,
  decoderName: 'json',
})
const browser = await chromium.launch({
  executablePath: process.env.WALTZ_CHROMIUM ?? '/usr/bin/chromium',
  args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
})
try {
  // A minute of appends at a varying rate, for the charts (the writer's stats from here on), going
  // on while the overview is taken.
  stats = publishStats(store.wal, { everyMs: 1000 })
  let second = 0
  const background = (async () => {
    for (; second < 75; second++) {
      await shop(10 + Math.round(40 * Math.abs(Math.sin(second / 8))))
      await sleep(1000)
    }
  })()
  while (second < 60) await sleep(200)
  const page = await browser.newPage({ viewport: { width: 1280, height: 1240 } })
  await page.goto(ui.url)
  await page.getByTestId('fsync-chart').waitFor()
  await page.getByTestId('ov-archive-oldest').waitFor()
  await page.getByTestId('verify-start').click()
  await page.getByTestId('verify-result').waitFor()
  await page.screenshot({ path: join(out, 'overview.png') })
  await background
  await page.setViewportSize({ width: 1280, height: 860 })
  await page.goto(`${ui.url.split('?')[0]}#/streams?prefix=cart-01`)
  await page.getByTestId('stream-row').nth(20).waitFor()
  await page.screenshot({ path: join(out, 'streams.png') })
  // Its oldest events are read from the archive.
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
  stats?.stop()
  await store.close()
  for (const d of [dir, archiveDir, cacheDir]) rmSync(d, { recursive: true, force: true })
}
