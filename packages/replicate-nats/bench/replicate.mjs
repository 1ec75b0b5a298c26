// Replication throughput and lag: appends N records (default 100,000 with 100 bytes of data, in batches of 100)
// to a WAL while a replicator publishes them to JetStream, samples the lag (lastSeq - replicatedSeq)
// every 5 ms, and reports records/s of the replication end to end (first append to last ack) and the
// max and mean lag. `rate` paces the appends (records/s; 0, the default, appends as fast as the WAL
// goes, so the lag measures the backlog). Starts its own nats-server(s) on free loopback ports: one
// node, or with `cluster` three nodes and a stream of 3 replicas. The client connects with
// `noAsyncTraces: true` unless ASYNC_TRACES=1. ENCRYPT=1 encrypts the log (core's `encryption`, a data
// key per record key: its key store travels too); SUBJECTS=n gives the records n keys (`s-<seq % n>`;
// with ENCRYPT, n data keys, each created and replicated before its first record). Runs against the build:
//   pnpm exec tsc -b packages/replicate-nats && node packages/replicate-nats/bench/replicate.mjs [single|cluster] [records] [rate] [maxInFlight]
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const dist = new URL('../dist/index.js', import.meta.url)
if (!existsSync(dist)) throw new Error('run `pnpm build` first')
const { ensureStream, replicateToJetStream, restoreFromJetStream } = await import(dist.href)
const { localKeyring, Wal } = await import('@waltz/core')
const { randomBytes } = await import('node:crypto')
const { connect } = await import('@nats-io/transport-node')
const { jetstreamManager } = await import('@nats-io/jetstream')

const mode = process.argv[2] ?? 'single'
const total = Number(process.argv[3] ?? 100_000)
const pace = Number(process.argv[4] ?? 0)
const maxInFlight = Number(process.argv[5] ?? 512)
const asyncTraces = process.env.ASYNC_TRACES === '1'
const encrypt = process.env.ENCRYPT === '1'
const subjects = Number(process.env.SUBJECTS ?? 0)
const BATCH = 100
const BIN = existsSync('/usr/sbin/nats-server') ? '/usr/sbin/nats-server' : 'nats-server'

const root = mkdtempSync(join(tmpdir(), 'waltz-bench-replicate-'))
const children = []
const cleanup = () => {
  for (const child of children) child.kill('SIGKILL')
  rmSync(root, { recursive: true, force: true })
}
process.on('exit', cleanup)
process.on('SIGINT', () => process.exit(130))

function freePort() {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

function startServer(args) {
  const child = spawn(BIN, ['-js', '-a', '127.0.0.1', ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
  children.push(child)
  return new Promise((resolve, reject) => {
    let log = ''
    child.once('exit', (code) => reject(new Error(`nats-server exited with ${code}: ${log}`)))
    child.stderr.setEncoding('utf8')
    child.stderr.on('data', (chunk) => {
      log += chunk
      if (log.includes('Server is ready')) resolve()
    })
  })
}

const size = mode === 'cluster' ? 3 : 1
const ports = []
const routes = []
for (let i = 0; i < size; i++) {
  ports.push(await freePort())
  routes.push(await freePort())
}
await Promise.all(
  ports.map((port, i) => {
    const args = ['-p', String(port), '-sd', join(root, `n${i}`), '-n', `n${i}`]
    if (size > 1) {
      const others = routes.filter((_, j) => j !== i).map((p) => `nats://127.0.0.1:${p}`)
      args.push(
        '--cluster_name',
        'bench',
        '--cluster',
        `nats://127.0.0.1:${routes[i]}`,
        '--routes',
        others.join(','),
      )
    }
    return startServer(args)
  }),
)
const nc = await connect({
  servers: ports.map((p) => `127.0.0.1:${p}`),
  maxReconnectAttempts: -1,
  noAsyncTraces: !asyncTraces,
})
let jsm
for (let attempt = 0; ; attempt++) {
  try {
    jsm = await jetstreamManager(nc, { timeout: 2000 })
    await ensureStream(jsm, { stream: 'BENCH', subject: 'waltz.bench', replicas: size })
    break
  } catch (err) {
    if (attempt > 60) throw err
    await new Promise((r) => setTimeout(r, 500))
  }
}

const encryption = encrypt ? { keyring: localKeyring([{ id: 'bench', key: randomBytes(32) }]) } : undefined
const wal = await Wal.open({ dir: join(root, 'wal'), ...(encryption ? { encryption } : {}) })
const replicator = replicateToJetStream({ wal, nc, stream: 'BENCH', subject: 'waltz.bench', maxInFlight })
const data = new Uint8Array(100).fill(7) // 100 bytes of data, the message body (bytesSerializer)
let lagSum = 0
let lagSamples = 0
const sampler = setInterval(() => {
  lagSum += replicator.metrics().lag
  lagSamples++
}, 5)

const start = performance.now()
for (let seq = 0; seq < total; seq += BATCH) {
  await wal.appendBatch(
    Array.from({ length: Math.min(BATCH, total - seq) }, (_, i) =>
      subjects > 0 ? { type: 'bench', key: `s-${(seq + i) % subjects}`, data } : { type: 'bench', data },
    ),
  )
  if (pace > 0) {
    const due = start + ((seq + BATCH) / pace) * 1000
    const wait = due - performance.now()
    if (wait > 0) await new Promise((r) => setTimeout(r, wait))
  }
}
const appended = performance.now()
await replicator.waitFor(total)
const replicated = performance.now()
clearInterval(sampler)
const m = replicator.metrics()
await replicator.stop()

const restoreStart = performance.now()
const restored = await restoreFromJetStream({
  nc,
  stream: 'BENCH',
  subject: 'waltz.bench',
  dir: join(root, 'replica'),
})
const restoreMs = performance.now() - restoreStart

const rate = (n, ms) => Math.round((n / ms) * 1000).toLocaleString('en-US')
console.log(
  `mode: ${mode} (${size} node${size > 1 ? 's' : ''}, stream replicas ${size}), ${total} records, 100 bytes of data`,
)
console.log(
  `appends ${pace > 0 ? `paced at ${pace} records/s` : 'unpaced'}, maxInFlight ${maxInFlight}, noAsyncTraces ${!asyncTraces}; node ${process.version}`,
)
console.log(
  `encryption: ${encrypt ? `on, ${m.keyMessages} key messages` : 'off'}; record keys: ${subjects || 'none'}`,
)
console.log(`appends:     ${rate(total, appended - start)} records/s (the WAL, while replicating)`)
console.log(`replication: ${rate(total, replicated - start)} records/s (first append to last ack)`)
console.log(`lag:         max ${m.maxLag}, mean ${Math.round(lagSum / Math.max(1, lagSamples))} records`)
console.log(`             caught up ${Math.round(replicated - appended)} ms after the last append`)
console.log(`restore:     ${rate(restored.restored, restoreMs)} records/s (${restored.restored} records)`)
await wal.close()
await nc.close()
process.exit(0)
