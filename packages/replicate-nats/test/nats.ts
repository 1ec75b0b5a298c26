/**
 * Real nats-server processes for the tests: JetStream on, temp store dirs, loopback ports only. Every
 * process started here is killed in `afterAll` of the file that started it (its store dirs go after it)
 * and, as a last resort, when the test process exits.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { type JetStreamManager, jetstreamManager } from '@nats-io/jetstream'
import { connect, type NatsConnection } from '@nats-io/transport-node'
import type { RecordShape } from '@waltz/core'
import { afterAll, beforeAll } from 'vitest'
import { exited } from '../../../test-support/child-process.js'
import { fileTempDir } from '../../../test-support/temp-dir.js'
import { ensureStream, type ReplicateOptions, type Replicator, replicateToJetStream } from '../src/index.js'

function findBinary(): string | undefined {
  if (process.env.NATS_SERVER_BIN) return process.env.NATS_SERVER_BIN
  if (existsSync('/usr/sbin/nats-server')) return '/usr/sbin/nats-server'
  const which = spawnSync('sh', ['-c', 'command -v nats-server'], { encoding: 'utf8' })
  const path = which.stdout.trim()
  return which.status === 0 && path !== '' ? path : undefined
}

/** The nats-server binary, or undefined when it is not installed. */
export const NATS_SERVER = findBinary()

if (NATS_SERVER === undefined) {
  const message =
    'nats-server is not installed: the @waltz/replicate-nats tests need it (apt-get install -y nats-server)'
  if (process.env.CI) throw new Error(`${message}. In CI this is a failure, never a skip.`)
  console.warn(`\n${'!'.repeat(100)}\n!! SKIPPING: ${message}\n${'!'.repeat(100)}\n`)
}

/** Whether nats-server is missing (outside CI only: inside CI this module throws). Skip suites on it. */
export const NO_NATS_SERVER: boolean = NATS_SERVER === undefined

const live = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL')
})

/** A free TCP port on 127.0.0.1 (bound, read, released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port)
        else reject(new Error('no port'))
      })
    })
  })
}

/** How a {@link NatsServer} is part of a cluster. */
interface ClusterConfig {
  name: string
  port: number
  routes: number[]
}

/** One nats-server process with JetStream; restartable on the same ports and store directory. */
export class NatsServer {
  readonly url: string
  private child: ChildProcess | undefined
  private log = ''

  constructor(
    readonly name: string,
    readonly port: number,
    readonly storeDir: string,
    private readonly cluster?: ClusterConfig,
  ) {
    this.url = `nats://127.0.0.1:${port}`
  }

  /** Starts the process and resolves when it accepts clients (and has routes, in a cluster). */
  async start(): Promise<void> {
    if (this.child) throw new Error(`${this.name} is running`)
    const args = ['-js', '-sd', this.storeDir, '-a', '127.0.0.1', '-p', String(this.port), '-n', this.name]
    if (this.cluster) {
      args.push('--cluster_name', this.cluster.name, '--cluster', `nats://127.0.0.1:${this.cluster.port}`)
      args.push('--routes', this.cluster.routes.map((p) => `nats://127.0.0.1:${p}`).join(','))
    }
    this.log = ''
    const child = spawn(NATS_SERVER!, args, { stdio: ['ignore', 'ignore', 'pipe'] })
    this.child = child
    live.add(child)
    child.once('exit', () => live.delete(child))
    child.stderr!.setEncoding('utf8')
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name} did not start:\n${this.log}`)), 20_000)
      const onExit = (code: number | null) => {
        clearTimeout(timer)
        reject(new Error(`${this.name} exited with ${code}:\n${this.log}`))
      }
      child.once('exit', onExit)
      child.stderr!.on('data', (chunk: string) => {
        this.log = (this.log + chunk).slice(-20_000)
        if (this.log.includes('Server is ready')) {
          clearTimeout(timer)
          child.off('exit', onExit)
          resolve()
        }
      })
    })
  }

  /** Stops the process: `SIGKILL` by default (a crash), `SIGTERM` for a clean shutdown. */
  async stop(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child
    if (!child) return
    this.child = undefined
    if (child.exitCode === null && child.signalCode === null) {
      child.kill(signal)
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
      await exited(child)
      clearTimeout(timer)
    }
  }

  /** Whether the process runs. */
  get running(): boolean {
    return this.child !== undefined
  }

  /** The last lines the server logged. */
  get output(): string {
    return this.log
  }
}

/** A group of servers: one, or a cluster; `stop` kills them all. */
export class NatsGroup {
  constructor(readonly servers: NatsServer[]) {}

  /** Client URLs of every server. */
  get urls(): string[] {
    return this.servers.map((s) => s.url)
  }

  /** Connects a client to the group with unlimited reconnects and quick reconnect attempts. */
  connect(): Promise<NatsConnection> {
    return connect({
      servers: this.urls,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 100,
      reconnectJitter: 50,
      timeout: 5000,
    })
  }

  /** Kills every server. */
  async stop(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.stop()))
  }
}

const groups: NatsGroup[] = []
afterAll(async () => {
  await Promise.all(groups.splice(0).map((g) => g.stop()))
})

/** Starts a single JetStream server on a free loopback port (stopped in `afterAll`). */
export async function startServer(): Promise<NatsGroup> {
  const server = new NatsServer('n1', await freePort(), join(fileTempDir(), 'n1'))
  const group = new NatsGroup([server])
  groups.push(group)
  await server.start()
  return group
}

/** Starts a cluster of `size` JetStream servers routed on loopback (stopped in `afterAll`). */
export async function startCluster(size = 3): Promise<NatsGroup> {
  const root = fileTempDir()
  const ports: number[] = []
  const clusterPorts: number[] = []
  for (let i = 0; i < size; i++) {
    ports.push(await freePort())
    clusterPorts.push(await freePort())
  }
  const servers = ports.map(
    (port, i) =>
      new NatsServer(`n${i + 1}`, port, join(root, `n${i + 1}`), {
        name: 'waltz-test',
        port: clusterPorts[i]!,
        routes: clusterPorts.filter((_, j) => j !== i),
      }),
  )
  const group = new NatsGroup(servers)
  groups.push(group)
  await Promise.all(servers.map((s) => s.start()))
  return group
}

/** Retries `fn` until it resolves (or `timeoutMs` passes, then throws its last error). */
export async function eventually<T>(fn: () => Promise<T>, timeoutMs = 30_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      return await fn()
    } catch (err) {
      if (Date.now() > deadline) throw err
      await new Promise((r) => setTimeout(r, intervalMs))
    }
  }
}

/**
 * Waits until `stream` has a leader and, when `replicas` is given, that many current peers in all.
 * Returns the leader's server name.
 */
export async function streamReady(nc: NatsConnection, stream: string, replicas = 1): Promise<string> {
  return eventually(async () => {
    // Inside the retry: while a killed node's JetStream meta leadership moves, API requests time out.
    const jsm = await jetstreamManager(nc, { timeout: 2000 })
    const info = await jsm.streams.info(stream)
    if (replicas === 1) return info.cluster?.leader ?? 'standalone'
    const leader = info.cluster?.leader
    const current = (info.cluster?.replicas ?? []).filter((r) => r.current && !r.offline).length + 1
    if (!leader || current < replicas)
      throw new Error(`stream ${stream}: leader ${leader}, ${current} current`)
    return leader
  })
}

/** What a suite of tests against one server group shares (filled in `beforeAll`). */
export interface JetStreamSuite {
  group: NatsGroup
  nc: NatsConnection
  jsm: JetStreamManager
  /** A fresh stream (`<prefix><n>`, subject `waltz.<prefix><n>`) with a leader and its replicas current. */
  newStream(): Promise<{ stream: string; subject: string }>
  /** Starts a replicator with the suite's defaults; stopped in `afterAll` if the test did not. */
  replicate<Rec extends RecordShape>(options: ReplicateOptions<Rec>): Replicator
}

/**
 * Registers `beforeAll` (start the servers, connect, wait for JetStream) and `afterAll` (stop the
 * replicators, close the connection; the servers stop with every group) for a suite.
 */
export function jetStreamSuite(
  prefix: string,
  start: () => Promise<NatsGroup>,
  replicas = 1,
  defaults: Partial<ReplicateOptions> = {},
): JetStreamSuite {
  const replicators: Replicator[] = []
  let streams = 0
  const suite = {
    async newStream() {
      streams++
      const stream = `${prefix}${streams}`
      const subject = `waltz.${prefix.toLowerCase()}${streams}`
      await eventually(() => ensureStream(suite.jsm, { stream, subject, replicas }))
      await streamReady(suite.nc, stream, replicas)
      return { stream, subject }
    },
    replicate(options: ReplicateOptions) {
      const r = replicateToJetStream({ ...defaults, ...options })
      replicators.push(r)
      return r
    },
  } as JetStreamSuite
  beforeAll(async () => {
    suite.group = await start()
    suite.nc = await suite.group.connect()
    suite.jsm = await eventually(() => jetstreamManager(suite.nc, { timeout: 2000 }))
  }, 60_000)
  afterAll(async () => {
    await Promise.all(replicators.map((r) => r.stop()))
    await suite.nc?.close()
  })
  return suite
}
