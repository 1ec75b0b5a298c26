#!/usr/bin/env node
/**
 * Starts the shopping-cart service from the command line:
 *
 * ```sh
 * node examples/shopping-cart/dist/main.js [--dir ./cart-data] [--port 3000] [--host 127.0.0.1]
 *   [--sync always|os-cache|background] [--log]
 * ```
 *
 * Prints `listening on <url>` once it serves (the load test waits for that line) and closes
 * cleanly on SIGINT or SIGTERM.
 */
import { parseArgs } from 'node:util'
import { startServer } from './server.js'

const USAGE =
  'Usage: node dist/main.js [--dir PATH] [--port N] [--host ADDR] [--sync always|os-cache|background] [--log]'

function options() {
  const { values } = parseArgs({
    options: {
      dir: { type: 'string', default: './cart-data' },
      port: { type: 'string', default: '3000' },
      host: { type: 'string', default: '127.0.0.1' },
      sync: { type: 'string', default: 'always' },
      log: { type: 'boolean', default: false },
    },
  })
  const port = Number(values.port)
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error('--port must be 0-65535')
  const sync = values.sync
  if (sync !== 'always' && sync !== 'os-cache' && sync !== 'background') {
    throw new Error('--sync must be always, os-cache or background')
  }
  return { dir: values.dir, port, host: values.host, sync, log: values.log } as const
}

let parsed: ReturnType<typeof options>
try {
  parsed = options()
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n${USAGE}\n`)
  process.exit(2)
}

const service = await startServer(parsed)
process.stdout.write(`listening on ${service.url} (data in ${parsed.dir}, sync ${parsed.sync})\n`)

let closing = false
const shutdown = (): void => {
  if (closing) return
  closing = true
  service.close().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`close failed: ${String(err)}\n`)
      process.exit(1)
    },
  )
}
process.on('SIGINT', shutdown)
process.on('SIGTERM', shutdown)
