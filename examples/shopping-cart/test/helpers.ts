import { afterEach } from 'vitest'
import { tempDir } from '../../../test-support/temp-dir.js'
import type { ReadModelStatus } from '../src/http.js'
import { type CartService, type CartServiceOptions, startServer } from '../src/server.js'

// Registered after temp-dir's hook, so it runs first (vitest runs afterEach hooks as a stack): the
// services close before their directories are removed.
const running = new Set<CartService>()
afterEach(async () => {
  await Promise.all([...running].map((s) => s.close()))
  running.clear()
})

/**
 * Starts the service on port 0 in `dir` (default a fresh temp dir); it is closed after the test.
 * The fsync policy defaults to `'os-cache'` here: the HTTP behaviour does not depend on it, and
 * fdatasyncs on a busy CI disk would dominate the suite's time (the restart tests use `'always'`).
 *
 * @returns the service and its directory
 */
export async function startService(
  options: Partial<CartServiceOptions> = {},
): Promise<{ service: CartService; dir: string; api: Api }> {
  const dir = options.dir ?? tempDir()
  const service = await startServer({ sync: 'os-cache', ...options, dir, port: 0 })
  running.add(service)
  return { service, dir, api: api(service.url) }
}

/** Closes a service started by {@link startService} before the test ends (to restart it). */
export async function stopService(service: CartService): Promise<void> {
  running.delete(service)
  await service.close()
}

/** A reply: status, the ETag's revision (if any) and the parsed JSON body. */
export interface Reply {
  status: number
  etag: number | undefined
  // biome-ignore lint/suspicious/noExplicitAny: test replies are checked field by field
  body: any
}

/** A small client of the API over real HTTP. */
export interface Api {
  get(path: string): Promise<Reply>
  post(path: string, body?: unknown, headers?: Record<string, string>): Promise<Reply>
  delete(path: string, headers?: Record<string, string>): Promise<Reply>
  /** Polls GET /read-model until the consumer has applied every acknowledged position. */
  readModelCaughtUp(): Promise<ReadModelStatus>
}

function api(url: string): Api {
  const send = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const init: RequestInit = { method, headers: { ...headers } }
    if (body !== undefined) {
      init.body = JSON.stringify(body)
      ;(init.headers as Record<string, string>)['content-type'] = 'application/json'
    }
    const res = await fetch(url + path, init)
    const tag = res.headers.get('etag')
    return {
      status: res.status,
      etag: tag === null ? undefined : Number(JSON.parse(tag)),
      body: await res.json(),
    }
  }
  return {
    get: (path) => send('GET', path),
    post: (path, body, headers) => send('POST', path, body, headers),
    delete: (path, headers) => send('DELETE', path, undefined, headers),
    async readModelCaughtUp() {
      const deadline = Date.now() + 10_000
      for (;;) {
        const { body } = await send('GET', '/read-model')
        const status = body as ReadModelStatus
        if (status.error !== null) throw new Error(`the read model consumer failed: ${status.error}`)
        if (status.lag === 0 && status.running) return status
        if (Date.now() > deadline)
          throw new Error(`the read model did not catch up: ${JSON.stringify(status)}`)
        await new Promise((resolve) => setImmediate(resolve))
      }
    },
  }
}
