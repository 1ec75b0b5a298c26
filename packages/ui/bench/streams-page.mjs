#!/usr/bin/env node
// The streams page on a large store, in the real browser: builds (once, then reused) a store of 1M
// events over 50k streams, starts the inspector on it, and measures, over fresh page loads, the time
// from navigation to the first page of streams rendered (50 rows in the table, and the frame after).
// Prints each load, the median and the 95th percentile, and the machine's load average before and
// after (the figures mean little on a busy machine). Not run by CI (the store takes minutes to build
// and ~200 MB of disk).
//
//   node packages/ui/bench/streams-page.mjs [--dir DIR] [--events N] [--streams N] [--loads N]
//
// Needs a build (`npx tsc -b`) and Debian's chromium (`/usr/bin/chromium`, or $WALTZ_CHROMIUM).
import { existsSync } from 'node:fs'
import { cpus, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { EventStore } from '@waltz/eventstore'
import { jsonSerializer } from '@waltz/serializer-json'
import { startUi } from '@waltz/ui'
import { chromium } from 'playwright-core'
import { z } from 'zod'

const { values } = parseArgs({
  options: {
    dir: { type: 'string', default: join(tmpdir(), 'waltz-ui-bench-1m') },
    events: { type: 'string', default: '1000000' },
    streams: { type: 'string', default: '50000' },
    loads: { type: 'string', default: '20' },
  },
})
const dir = values.dir
const events = Number(values.events)
const streams = Number(values.streams)
const schemas = { ItemAdded: z.object({ sku: z.string(), qty: z.number() }) }
const serializer = jsonSerializer({ schemas })

if (!existsSync(join(dir, 'index'))) {
  console.log(`building ${dir}: ${events} events over ${streams} streams`)
  const started = performance.now()
  const store = await EventStore.open({ dir, serializer, sync: 'background' })
  const BATCH = 1000
  for (let at = 0; at < events; at += BATCH) {
    // Each append call writes one event to each of BATCH consecutive streams (round robin), so every
    // stream ends up with events / streams events spread over the whole log.
    const appends = []
    for (let i = at; i < Math.min(events, at + BATCH); i++) {
      appends.push({
        stream: `cart-${String(i % streams).padStart(6, '0')}`,
        events: [{ type: 'ItemAdded', data: { sku: `sku-${i}`, qty: i % 9 } }],
      })
    }
    await store.appendToStreams(appends)
    if (at % 100_000 === 0) process.stdout.write(`  ${at}\r`)
  }
  await store.close()
  console.log(`built in ${((performance.now() - started) / 1000).toFixed(0)} s`)
}

const load = () =>
  loadavg()
    .map((n) => n.toFixed(2))
    .join(', ')
const loadBefore = load()
const ui = await startUi({ dir })
const browser = await chromium.launch({
  executablePath: process.env.WALTZ_CHROMIUM ?? '/usr/bin/chromium',
  args: process.getuid?.() === 0 ? ['--no-sandbox'] : [],
})
try {
  const times = []
  for (let i = 0; i < Number(values.loads); i++) {
    // A fresh context each time: no cache, the token through the URL as a user would open it.
    const context = await browser.newContext()
    const page = await context.newPage()
    const started = performance.now()
    await page.goto(`${ui.url}#/streams`)
    // The page's own clock at the moment the 50th row exists: ms since its navigation started.
    const rendered = await page.evaluate(
      () =>
        new Promise((resolve) => {
          const check = () => {
            if (document.querySelectorAll('[data-testid=stream-row]').length >= 50) resolve(performance.now())
            else requestAnimationFrame(check)
          }
          check()
        }),
    )
    const outside = performance.now() - started
    times.push(rendered)
    console.log(
      `load ${i + 1}: rendered ${rendered.toFixed(0)} ms after navigation start (${outside.toFixed(0)} ms as the driver sees it)`,
    )
    await context.close()
  }
  times.sort((a, b) => a - b)
  // Nearest rank: the value at or below which p % of the loads fall.
  const pct = (p) => times[Math.max(0, Math.ceil((p / 100) * times.length) - 1)]
  const stats = ui.reader.stats()
  console.log(
    `streams page, ${events} events over ${streams} streams (${stats.tables} index tables, ${stats.overlayRecords} newest records in memory): median ${pct(50).toFixed(0)} ms, p95 ${pct(95).toFixed(0)} ms over ${times.length} loads (min ${times[0].toFixed(0)}, max ${times.at(-1).toFixed(0)})`,
  )
  console.log(
    `machine: ${cpus().length} cores, load average (1, 5, 15 min) ${loadBefore} before, ${load()} after; node ${process.version}, ${browser.version()}`,
  )
} finally {
  await browser.close()
  await ui.close()
}
