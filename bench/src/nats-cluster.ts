/**
 * A 3-node nats-server cluster for workload 11, started by the bench parent on loopback ports with its
 * store directories under the bench's temp dir, and killed when the workload ends (or the parent exits).
 * The binary: `NATS_SERVER_BIN`, else Debian's `/usr/sbin/nats-server`, else `nats-server` on the PATH.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'

/** The nats-server binary, or undefined when none is installed. */
export function natsServerBinary(): string | undefined {
  if (process.env.NATS_SERVER_BIN) return process.env.NATS_SERVER_BIN
  if (existsSync('/usr/sbin/nats-server')) return '/usr/sbin/nats-server'
  const which = spawnSync('sh', ['-c', 'command -v nats-server'], { encoding: 'utf8' })
  const path = which.stdout.trim()
  return which.status === 0 && path !== '' ? path : undefined
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port)
        else reject(new Error('no free port'))
      })
    })
  })
}

/** A running cluster: its client URLs, and `stop()`. */
export interface BenchCluster {
  urls: string[]
  stop(): Promise<void>
}

/** Starts `size` JetStream servers routed to each other; resolves once each says it is ready. */
export async function startBenchCluster(root: string, size = 3): Promise<BenchCluster> {
  const binary = natsServerBinary()
  if (binary === undefined) throw new Error('workload 11 needs nats-server (apt-get install -y nats-server)')
  const ports: number[] = []
  const routes: number[] = []
  for (let i = 0; i < size; i++) {
    ports.push(await freePort())
    routes.push(await freePort())
  }
  const children: ChildProcess[] = []
  const killAll = () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
  }
  process.once('exit', killAll)
  const ready = ports.map((port, i) => {
    const store = join(root, `n${i + 1}`)
    mkdirSync(store, { recursive: true })
    const args = ['-js', '-sd', store, '-a', '127.0.0.1', '-p', String(port), '-n', `n${i + 1}`]
    args.push('--cluster_name', 'waltz-bench', '--cluster', `nats://127.0.0.1:${routes[i]}`)
    args.push(
      '--routes',
      routes
        .filter((_, j) => j !== i)
        .map((p) => `nats://127.0.0.1:${p}`)
        .join(','),
    )
    const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'] })
    children.push(child)
    let log = ''
    child.stderr!.setEncoding('utf8')
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`n${i + 1} did not start:\n${log}`)), 20_000)
      child.once('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`n${i + 1} exited with ${code}:\n${log}`))
      })
      child.stderr!.on('data', (chunk: string) => {
        log = (log + chunk).slice(-10_000)
        if (log.includes('Server is ready')) {
          clearTimeout(timer)
          resolve()
        }
      })
    })
  })
  try {
    await Promise.all(ready)
  } catch (err) {
    killAll()
    throw err
  }
  return {
    urls: ports.map((p) => `nats://127.0.0.1:${p}`),
    async stop() {
      process.off('exit', killAll)
      await Promise.all(
        children.map(
          (c) =>
            new Promise<void>((resolve) => {
              if (c.exitCode !== null || c.signalCode !== null) return resolve()
              c.once('exit', () => resolve())
              c.kill('SIGTERM')
            }),
        ),
      )
    },
  }
}
