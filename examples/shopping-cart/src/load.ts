#!/usr/bin/env node
/**
 * Load test: starts the service in a child process on a fresh directory, runs N concurrent HTTP
 * clients for a while, and reports commands/s, latency percentiles and the read model's lag.
 *
 * ```sh
 * node examples/shopping-cart/dist/load.js [--clients 32] [--duration 10] [--sync always] [--dir PATH]
 * ```
 *
 * Each client loops over a cart's life on a cart of its own: open, add three items, remove one,
 * confirm (each command with `If-Match` set to the revision of the previous reply), then reads the
 * cart back from the read model. A command counts once the service answered it, that is once its
 * events are on disk (with `--sync always`).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

interface LoadOptions {
  clients: number
  durationMs: number
  sync: string
  dir: string | undefined
}

function parseOptions(): LoadOptions {
  const { values } = parseArgs({
    options: {
      clients: { type: 'string', default: '32' },
      duration: { type: 'string', default: '10' },
      sync: { type: 'string', default: 'always' },
      dir: { type: 'string' },
    },
  })
  const clients = Number(values.clients)
  const seconds = Number(values.duration)
  if (!Number.isInteger(clients) || clients < 1) throw new Error('--clients must be a positive integer')
  if (!(seconds > 0)) throw new Error('--duration must be a positive number of seconds')
  if (!['always', 'os-cache', 'background'].includes(values.sync)) {
    throw new Error('--sync must be always, os-cache or background')
  }
  return { clients, durationMs: seconds * 1000, sync: values.sync, dir: values.dir }
}

/** Latency samples in ms. */
class Samples {
  private values: number[] = []

  add(ms: number): void {
    this.values.push(ms)
  }

  get count(): number {
    return this.values.length
  }

  /** The `p`-th percentile (nearest rank). */
  percentile(p: number): number {
    if (this.values.length === 0) return 0
    const sorted = Float64Array.from(this.values).sort()
    return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
  }
}

/** What the clients measured. */
class Tally {
  readonly commands = new Samples()
  readonly queries = new Samples()
  readonly statuses = new Map<number, number>()
  notProjectedYet = 0
  unexpected: string[] = []

  count(status: number): void {
    this.statuses.set(status, (this.statuses.get(status) ?? 0) + 1)
  }
}

/** The service in a child process. */
async function startService(dir: string, sync: string): Promise<{ child: ChildProcess; url: string }> {
  const main = fileURLToPath(new URL('./main.js', import.meta.url))
  const child = spawn(process.execPath, [main, '--dir', dir, '--port', '0', '--sync', sync], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const url = await new Promise<string>((resolve, reject) => {
    let out = ''
    child.stdout!.setEncoding('utf8')
    child.stdout!.on('data', (chunk: string) => {
      out += chunk
      const m = /listening on (\S+)/.exec(out)
      if (m) resolve(m[1]!)
    })
    child.once('exit', (code) => reject(new Error(`the service exited (${code}) before listening`)))
  })
  return { child, url }
}

const SKUS = Array.from({ length: 20 }, (_, i) => ({ sku: `sku-${i}`, unitPrice: 100 + 7 * i }))

/** One client: cart lifecycles until `deadline`. */
async function client(url: string, n: number, deadline: number, tally: Tally): Promise<void> {
  let cycle = 0
  while (performance.now() < deadline) {
    const id = `load-${n}-${cycle++}`
    let revision = 0
    const command = async (method: string, path: string, body?: unknown): Promise<void> => {
      const headers: Record<string, string> = {}
      if (revision > 0) headers['if-match'] = `"${revision}"`
      if (body !== undefined) headers['content-type'] = 'application/json'
      const started = performance.now()
      const res = await fetch(url + path, {
        method,
        headers,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      })
      const reply = (await res.json()) as { revision?: number; code?: string }
      tally.commands.add(performance.now() - started)
      tally.count(res.status)
      if (res.ok) revision = reply.revision!
      else tally.unexpected.push(`${method} ${path}: ${res.status} ${reply.code}`)
    }
    await command('POST', '/carts', { customerId: `customer-${n}`, cartId: id })
    const picked = [SKUS[(cycle * 3) % 20]!, SKUS[(cycle * 3 + 1) % 20]!, SKUS[(cycle * 3 + 2) % 20]!]
    for (const [k, item] of picked.entries()) {
      await command('POST', `/carts/${id}/items`, { ...item, quantity: k + 1 })
    }
    await command('DELETE', `/carts/${id}/items/${picked[0]!.sku}`)
    await command('POST', `/carts/${id}/confirm`)
    const started = performance.now()
    const res = await fetch(`${url}/carts/${id}`)
    await res.arrayBuffer()
    tally.queries.add(performance.now() - started)
    if (res.status === 404) tally.notProjectedYet++
    else if (!res.ok) tally.unexpected.push(`GET /carts/${id}: ${res.status}`)
  }
}

interface ReadModelStatus {
  position: number
  storePosition: number
  lag: number
}

async function readModel(url: string): Promise<ReadModelStatus> {
  return (await (await fetch(`${url}/read-model`)).json()) as ReadModelStatus
}

/**
 * CPU time (user + system, ms) a process has used so far, from `/proc` (Linux); undefined elsewhere.
 * On a shared machine it says what the service costs per command, whatever else competes for the cores.
 */
function cpuMs(pid: number): number | undefined {
  try {
    // Fields after the command name: state is field 3, utime 14 and stime 15, in clock ticks (100/s).
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) * 10
  } catch {
    return undefined
  }
}

const int = (n: number): string => Math.round(n).toLocaleString('en-US')
const ms = (n: number): string => `${n < 10 ? n.toFixed(2) : n.toFixed(1)} ms`

async function main(): Promise<number> {
  let options: LoadOptions
  try {
    options = parseOptions()
  } catch (err) {
    process.stderr.write(
      `${(err as Error).message}\nUsage: node dist/load.js [--clients N] [--duration S] [--sync always|os-cache|background] [--dir PATH]\n`,
    )
    return 2
  }
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'shopping-cart-load-'))
  const { child, url } = await startService(dir, options.sync)
  const exited = new Promise((resolve) => child.once('exit', resolve))
  try {
    console.log(
      `shopping-cart load: ${options.clients} clients for ${options.durationMs / 1000} s, sync '${options.sync}', ` +
        `service pid ${child.pid} at ${url}, Node ${process.version}`,
    )
    const tally = new Tally()
    const serviceCpuBefore = cpuMs(child.pid!)
    const clientCpuBefore = process.cpuUsage()
    const started = performance.now()
    const deadline = started + options.durationMs
    await Promise.all(Array.from({ length: options.clients }, (_, n) => client(url, n, deadline, tally)))
    const elapsed = (performance.now() - started) / 1000
    const serviceCpuAfter = cpuMs(child.pid!)
    const clientCpu = process.cpuUsage(clientCpuBefore)
    const atEnd = await readModel(url)
    const catchUpStarted = performance.now()
    let status = atEnd
    while (status.lag > 0) status = await readModel(url)
    const catchUp = performance.now() - catchUpStarted

    const { commands, queries } = tally
    const codes = [...tally.statuses].sort(([a], [b]) => a - b).map(([s, n]) => `${s}: ${int(n)}`)
    console.log(
      `commands   ${int(commands.count)} in ${elapsed.toFixed(2)} s: ${int(commands.count / elapsed)} commands/s (${codes.join(', ')})`,
    )
    console.log(
      `latency    p50 ${ms(commands.percentile(50))}, p99 ${ms(commands.percentile(99))}, max ${ms(commands.percentile(100))} ` +
        '(HTTP round trip: read, decide, durable append)',
    )
    console.log(
      `queries    ${int(queries.count)} GET /carts/:id from the read model: p50 ${ms(queries.percentile(50))}, ` +
        `p99 ${ms(queries.percentile(99))}; ${int(tally.notProjectedYet)} right after the confirm found it not yet projected`,
    )
    console.log(
      `read model lag ${int(atEnd.lag)} positions when the clients stopped (position ${int(atEnd.position)} of ${int(atEnd.storePosition)}); ` +
        `caught up ${ms(catchUp)} later`,
    )
    if (serviceCpuBefore !== undefined && serviceCpuAfter !== undefined) {
      const service = serviceCpuAfter - serviceCpuBefore
      const client = (clientCpu.user + clientCpu.system) / 1000
      const requests = commands.count + queries.count
      console.log(
        `cpu        service ${ms(service / requests)} per request (${(service / 10 / elapsed).toFixed(0)}% of a core), ` +
          `load clients ${ms(client / requests)} per request (${(client / 10 / elapsed).toFixed(0)}% of a core)`,
      )
    }
    for (const u of tally.unexpected.slice(0, 5)) console.log(`✘ unexpected: ${u}`)
    return tally.unexpected.length === 0 ? 0 : 1
  } finally {
    child.kill('SIGTERM')
    await exited
    if (options.dir === undefined) rmSync(dir, { recursive: true, force: true })
  }
}

process.exitCode = await main()
