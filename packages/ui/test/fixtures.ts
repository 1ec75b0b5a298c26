import { type ChildProcess, spawn } from 'node:child_process'
import { request } from 'node:http'
import { directoryArchive, publishStats } from '@waltz/core'
import { EventStore } from '@waltz/eventstore'
import { jsonSerializer } from '@waltz/serializer-json'
import { z } from 'zod'
import { requireBuilt } from '../../../test-support/child-process.js'

/** The events of the test stores. */
export const schemas = {
  CartOpened: z.object({ customer: z.string() }),
  ItemAdded: z.object({ sku: z.string(), qty: z.number() }),
  CartCheckedOut: z.object({ total: z.number() }),
}

/** The JSON serializer of the test stores. */
export const serializer = jsonSerializer({ schemas })

/**
 * Fills a store: carts `cart-01`..`cart-<carts>` (each opened, then `i % 4 + 1` items), `order-1`,
 * and a consumer `totals` that handled everything up to that point; `indexFlushEvents` 64, so index
 * tables and the newest records in memory are both exercised. The store stays open (a live writer);
 * with `statsEveryMs`, it publishes its stats file (`publishStats`) that often.
 */
export async function fillStore(dir: string, carts = 30, statsEveryMs?: number) {
  const store = await EventStore.open({ dir, serializer, indexFlushEvents: 64 })
  if (statsEveryMs !== undefined) publishStats(store.wal, { everyMs: statsEveryMs })
  for (let i = 1; i <= carts; i++) {
    const name = `cart-${String(i).padStart(2, '0')}`
    await store.appendToStream(name, [
      { type: 'CartOpened', data: { customer: `c${i}` }, metadata: { user: 'alice' } },
    ])
    for (let k = 0; k <= i % 4; k++) {
      await store.appendToStream(name, [{ type: 'ItemAdded', data: { sku: `sku-${i}-${k}`, qty: k + 1 } }])
    }
  }
  const consumer = store.consumer({ name: 'totals', handler: () => {} })
  await consumer.start()
  for (let t = 0; t < 500 && consumer.lag > 0; t++) await new Promise((r) => setTimeout(r, 10))
  await consumer.stop()
  await store.appendToStream('order-1', [{ type: 'CartCheckedOut', data: { total: 42 } }])
  return store
}

/** Segment size of {@link fillArchivedStore}: small, so that retention removes many. */
const ARCHIVED_SEGMENT_SIZE = 8 * 1024

/**
 * A store whose writer copies sealed segments to `archiveDir` and keeps only the newest two locally:
 * streams `cart-0`..`cart-9`, 60 events each (`ItemAdded`, `qty` = the event's revision), interleaved;
 * returns once the oldest segments are archived and removed locally. The store stays open.
 */
export async function fillArchivedStore(dir: string, archiveDir: string, cacheDir: string) {
  const store = await EventStore.open({
    dir,
    serializer,
    indexFlushEvents: 64,
    segmentSize: ARCHIVED_SEGMENT_SIZE,
    archive: directoryArchive(archiveDir),
    retention: { maxBytes: 2 * ARCHIVED_SEGMENT_SIZE },
    archiveCache: { dir: cacheDir },
  })
  for (let round = 1; round <= 60; round++) {
    for (let k = 0; k < 10; k++) {
      await store.appendToStream(`cart-${k}`, [{ type: 'ItemAdded', data: { sku: `sku-${k}`, qty: round } }])
    }
  }
  const deadline = Date.now() + 20_000
  while (!(store.wal.firstSeq > 100 && store.metrics().wal.archive.pending === 0) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20))
  }
  if (store.wal.firstSeq <= 100) throw new Error('retention removed no segment in 20 s')
  return store
}

/** A `waltz ui` child process and the URL it printed. */
export interface UiProcess {
  child: ChildProcess
  url: string
  origin: string
  token: string
  stop(): Promise<void>
}

/** Starts the built `waltz ui <dir> ...args` and waits for its URL. */
export async function startUiProcess(dir: string, ...args: string[]): Promise<UiProcess> {
  const bin = requireBuilt(new URL('../../cli/dist/main.js', import.meta.url))
  const child = spawn(process.execPath, [bin, 'ui', dir, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()))
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`waltz ui printed no URL in 20 s: ${out} ${err}`)),
      20_000,
    )
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString()
      const m = /http:\/\/\S+\?token=\S+/.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve(m[0])
      }
    })
    child.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`waltz ui exited with ${code}: ${out} ${err}`))
    })
  })
  const parsed = new URL(url)
  return {
    child,
    url,
    origin: parsed.origin,
    token: parsed.searchParams.get('token')!,
    async stop() {
      if (child.exitCode !== null) return
      const exited = new Promise((r) => child.once('exit', r))
      child.kill('SIGTERM')
      await exited
    },
  }
}

/** A GET with any headers (fetch cannot send another Host header); resolves to status and body. */
export function rawGet(
  origin: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
  const u = new URL(path, origin)
  return new Promise((resolve, reject) => {
    const req = request(
      { host: u.hostname, port: u.port, path: `${u.pathname}${u.search}`, headers, method: 'GET' },
      (res) => {
        let body = ''
        res.on('data', (c: Buffer) => (body += c.toString()))
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }))
      },
    )
    req.on('error', reject)
    req.end()
  })
}

/** The path of `/usr/bin/chromium` (or `$WALTZ_CHROMIUM`). */
export const CHROMIUM = process.env.WALTZ_CHROMIUM ?? '/usr/bin/chromium'

/** Chromium's flags here: as root (CI containers) its sandbox cannot start, so it runs without. */
export const CHROMIUM_ARGS = process.getuid?.() === 0 ? ['--no-sandbox'] : []
