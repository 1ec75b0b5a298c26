/**
 * waltz against better-sqlite3, classic-level (LevelDB) and plain node:fs, same run, same machine, same
 * workload; and `@waltz/eventstore` against core and SQLite. Every measurement runs in a fresh child process
 * (`worker.ts`), which also gives each its own peak RSS. Run from the repository root: `pnpm bench` (about 9
 * minutes) or `pnpm bench --quick` (CI smoke test, under a minute; writes `bench/RESULTS.quick.md` and
 * `bench/results.quick.svg`).
 *
 * Options: `--quick`, `--runs N` (default 3, quick 1), `--dir PATH` (parent of the temp dir; default the OS
 * temp dir), `--only buffered,durable,replay,recovery,seek,eventstore,emmett,archive,encryption,compression,cluster`,
 * `--node PATH` (run every task on that Node binary as well, e.g. `$(node scripts/node24.mjs)`, and add a
 * section comparing the two Nodes to the report).
 */
import { execFileSync, fork } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import type { TaskResult, TaskSpec } from './common.js'
import { type BenchCluster, startBenchCluster } from './nats-cluster.js'
import {
  type BenchConfig,
  type Measured,
  type NodeRun,
  renderMarkdown,
  renderNodeComparison,
  renderSvg,
} from './report.js'

const { values } = parseArgs({
  // `pnpm run bench -- --quick` passes the `--` on.
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: {
    quick: { type: 'boolean', default: false },
    runs: { type: 'string' },
    dir: { type: 'string' },
    only: { type: 'string' },
    render: { type: 'string' },
    node: { type: 'string' },
  },
})
const quick = values.quick === true
const MiB = 1 << 20
const config: BenchConfig & {
  seek: NonNullable<BenchConfig['seek']>
  archive: NonNullable<BenchConfig['archive']>
  compression: NonNullable<BenchConfig['compression']>
  encryption: NonNullable<BenchConfig['encryption']>
  cluster: NonNullable<BenchConfig['cluster']>
} = quick
  ? {
      quick,
      runs: Number(values.runs ?? 1),
      buffered: { sizes: [100, 1024], records: { 100: 20_000, 1024: 5_000 } },
      durable: { sizes: [100, 1024], concurrency: [1, 16, 256], durationMs: 100 },
      replay: { records: 50_000, size: 100 },
      recovery: { small: 10 * MiB, big: 100 * MiB, recordSize: 64 * 1024, opens: 3 },
      seek: { segmentMiB: 16, size: 100, opens: 5, warmup: { 'seek-file': 20, walk: 2 } },
      eventstore: {
        size: 100,
        append: { concurrency: 256, durationMs: 150 },
        streams: 5_000,
        perStream: 20,
        read: { warmup: 200, reads: 2_000, minReads: 300, maxMs: 1_000 },
        opens: 3,
        rebuildOpens: 1,
      },
      emmett: { streams: 20, perStream: 10, warmup: 40, concurrency: 16 },
      archive: { segments: 4, segmentMiB: 8, passes: 3 },
      compression: { records: 20_000, groups: [1, 20], replays: 3 },
      encryption: { sizes: [100], appendRecords: 20_000, replayRecords: 50_000 },
      cluster: {
        size: 100,
        concurrency: [1, 16, 256],
        durationMs: 300,
        streams: 100,
        perStream: 20,
        reads: 200,
      },
    }
  : {
      quick,
      runs: Number(values.runs ?? 3),
      buffered: { sizes: [100, 1024], records: { 100: 200_000, 1024: 50_000 } },
      durable: { sizes: [100, 1024], concurrency: [1, 16, 256], durationMs: 600 },
      replay: { records: 1_000_000, size: 100 },
      recovery: { small: 10 * MiB, big: 1024 * MiB, recordSize: 64 * 1024, opens: 6 },
      seek: { segmentMiB: 64, size: 100, opens: 11, warmup: { 'seek-file': 100, walk: 3 } },
      eventstore: {
        size: 100,
        append: { concurrency: 256, durationMs: 1_000 },
        streams: 50_000,
        perStream: 20,
        read: { warmup: 1_000, reads: 20_000, minReads: 1_000, maxMs: 4_000 },
        opens: 6,
        rebuildOpens: 1,
      },
      emmett: { streams: 100, perStream: 20, warmup: 200, concurrency: 16 },
      archive: { segments: 16, segmentMiB: 8, passes: 3 },
      compression: { records: 200_000, groups: [1, 20], replays: 3 },
      encryption: { sizes: [100, 1024], appendRecords: 200_000, replayRecords: 500_000 },
      cluster: {
        size: 100,
        concurrency: [1, 16, 256],
        durationMs: 2_000,
        streams: 1_000,
        perStream: 20,
        reads: 2_000,
      },
    }
const here = dirname(fileURLToPath(import.meta.url))
const benchDir = dirname(here)

/**
 * Writes RESULTS(.quick).md, results(.quick).svg and the raw figures as results(.quick).json. The tables
 * and the chart are the first Node's (the one running this script); with `--node`, a section after them
 * puts the second Node's figures next to the first's.
 */
async function writeReports(
  cfg: BenchConfig,
  nodes: NodeRun[],
  tempDir: string,
  totalSeconds: number,
  complete: boolean,
) {
  const [first, ...others] = nodes
  if (first === undefined) throw new Error('no measurements')
  let markdown = await renderMarkdown(cfg, first.m, tempDir, totalSeconds, first.version)
  if (others.length > 0) markdown += `\n${renderNodeComparison(cfg, nodes)}`
  console.log(markdown)
  const suffix = `${cfg.quick ? '.quick' : ''}${complete ? '' : '.partial'}`
  writeFileSync(join(benchDir, `RESULTS${suffix}.md`), markdown)
  writeFileSync(join(benchDir, `results${suffix}.svg`), renderSvg(cfg, first.m))
  // JSON Lines: the run's description, then one line per measured configuration. Lines of the first
  // Node have no `node` field, as before `--node` existed.
  const lines = [
    JSON.stringify({ config: cfg, tempDir, totalSeconds, complete, nodes: nodes.map((n) => n.version) }),
  ]
  for (const [key, runs] of first.m) lines.push(JSON.stringify({ key, runs }))
  for (const { version, m } of others) {
    for (const [key, runs] of m) lines.push(JSON.stringify({ node: version, key, runs }))
  }
  writeFileSync(join(benchDir, `results${suffix}.ndjson`), `${lines.join('\n')}\n`)
  console.error(
    `wrote bench/RESULTS${suffix}.md, bench/results${suffix}.svg and bench/results${suffix}.ndjson`,
  )
}

if (values.render !== undefined) {
  // Re-render the reports from a results JSON, without measuring again.
  const [head, ...rest] = readFileSync(values.render, 'utf8').trim().split('\n')
  const run = JSON.parse(head!) as {
    config: BenchConfig
    tempDir: string
    totalSeconds: number
    complete: boolean
    nodes?: string[]
  }
  // Results written before `--node` existed name no Node: as before, the report names the one rendering.
  const nodes: NodeRun[] = (run.nodes ?? [process.version]).map((version) => ({ version, m: new Map() }))
  for (const line of rest) {
    const { node, key, runs } = JSON.parse(line) as { node?: string; key: string; runs: TaskResult[] }
    const into = node === undefined ? nodes[0] : nodes.find((n) => n.version === node)
    if (into === undefined) throw new Error(`--render: results of Node ${node}, not in the header's nodes`)
    into.m.set(key, runs)
  }
  await writeReports(run.config, nodes, run.tempDir, run.totalSeconds, run.complete)
  process.exit(0)
}

const WORKLOADS = [
  'buffered',
  'durable',
  'replay',
  'recovery',
  'seek',
  'eventstore',
  'emmett',
  'archive',
  'encryption',
  'compression',
  'cluster',
]
/** The settings of the compression workload (zstd is skipped by the task on a Node without it). */
const CODECS = ['none', 'deflate', 'brotli', 'zstd']
const only = new Set((values.only ?? WORKLOADS.join(',')).split(','))
for (const w of only) if (!WORKLOADS.includes(w)) throw new Error(`--only: unknown workload ${w}`)

/** A Node binary the workers run on, and the version it reports. */
interface NodeBinary {
  execPath: string
  version: string
}

/**
 * The Node binary of `--node`, with native addons built for it (scripts/native.mjs run by that Node:
 * `pnpm bench` builds them only for the Node running it).
 */
function otherNode(execPath: string): NodeBinary {
  const version = execFileSync(execPath, ['--version'], { encoding: 'utf8' }).trim()
  const native = join(dirname(benchDir), 'scripts', 'native.mjs')
  execFileSync(execPath, [native, 'better-sqlite3', 'sqlite3'], { stdio: 'inherit' })
  return { execPath, version }
}

// Before the temp dir and the clock: building addons for `--node` is neither measured nor left behind.
const nodes: NodeBinary[] = [{ execPath: process.execPath, version: process.version }]
if (values.node !== undefined) nodes.push(otherNode(values.node))

const workerPath = join(here, 'worker.js')
const root = mkdtempSync(join(values.dir ?? tmpdir(), 'waltz-peers-'))
let cleaned = false
const cleanup = () => {
  if (cleaned) return
  cleaned = true
  rmSync(root, { recursive: true, force: true })
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    cleanup()
    process.exit(130)
  })
}

/**
 * Runs one task in a child process on each Node, one right after the other (so that with `--node` both
 * see the same machine load), and returns their results in the order of `nodes`. A `*-prepare` task
 * writes a data set that later tasks read: its bytes do not depend on the Node, so only the first Node
 * writes it, and the later tasks of every Node read the same one.
 */
async function runTask(task: string, params: TaskSpec['params'], dir?: string): Promise<TaskResult[]> {
  const results: TaskResult[] = []
  for (const node of task.endsWith('-prepare') ? nodes.slice(0, 1) : nodes) {
    results.push(await runTaskOn(node, task, params, dir))
  }
  return results
}

let taskNo = 0
/** Runs one task in a child process on `node`, in a fresh subdirectory of `root` unless `dir` is given. */
function runTaskOn(
  node: NodeBinary,
  task: string,
  params: TaskSpec['params'],
  dir?: string,
): Promise<TaskResult> {
  const own = dir === undefined
  const taskDir = dir ?? join(root, `t${taskNo++}`)
  mkdirSync(taskDir, { recursive: true })
  const spec: TaskSpec = { task, dir: taskDir, params }
  return new Promise((resolve, reject) => {
    let result: TaskResult | undefined
    const child = fork(workerPath, [JSON.stringify(spec)], {
      execPath: node.execPath,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    child.on('message', (m) => {
      result = m as TaskResult
    })
    child.on('error', reject)
    child.on('exit', (code) => {
      if (own) rmSync(taskDir, { recursive: true, force: true })
      if (code === 0 && result) resolve(result)
      else reject(new Error(`task ${task} ${JSON.stringify(params)} failed with exit code ${code}`))
    })
  })
}

/** The measurements of each Node, in the order of `nodes`. */
const measured: Measured[] = nodes.map(() => new Map())
/** Files the results of one task (one per Node that ran it) under `key`, for run number `run`. */
function record(key: string, run: number, results: TaskResult[]): void {
  for (const [i, result] of results.entries()) {
    const m = measured[i]!
    let runs = m.get(key)
    if (!runs) {
      runs = []
      m.set(key, runs)
    }
    runs[run] = result
  }
}
/** The systems in a different order each run, so no system always runs first (cold disk) or last. */
const rotate = <T>(list: readonly T[], by: number): T[] => list.map((_, i) => list[(i + by) % list.length]!)
const started = performance.now()
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1)} s`
const log = (msg: string) => console.error(`[${elapsed()}] ${msg}`)

const BUFFERED = [
  'waltz-os-cache',
  'waltz-background',
  'waltz-os-cache-batch',
  'waltz-background-batch',
  'sqlite-normal',
  'level-nosync',
  'fs-large',
]
const DURABLE = ['waltz-always', 'sqlite-full', 'level-sync']
const DURABLE_1 = ['waltz-always-blocking', 'fs-fdatasync', 'fs-fdatasync-async']
const REPLAY = [
  'waltz-bytes',
  'waltz-bytes-iter',
  'waltz-binary',
  'waltz-json',
  'waltz-proto',
  'sqlite',
  'level',
  'fs-read',
]
const SEEK = ['seek-file', 'walk']
const ES_APPEND = ['store', 'wal']
const ES_READ = ['store', 'sqlite']
const ES_OPEN = ['store', 'wal']
const EMMETT = ['waltz', 'sqlite', 'waltz-concurrent']
const ARCHIVE = ['directory', 's3']
const ENCRYPTION = ['plain', 'encrypted']
const CLUSTER = ['nats', 'embedded']
/** Workload 11's nats-server cluster, while it runs. */
let cluster: BenchCluster | undefined

try {
  const free = statfsSync(root)
  const freeBytes = free.bavail * free.bsize
  const es = config.eventstore
  const needed =
    512 * MiB +
    (only.has('recovery') ? config.recovery.big + config.recovery.small : 0) +
    (only.has('seek') ? 2 * config.seek.segmentMiB * MiB : 0) +
    (only.has('replay') ? config.replay.records * 1000 : 0) +
    (only.has('eventstore') ? es.streams * es.perStream * 1000 : 0) +
    (only.has('encryption')
      ? config.encryption.sizes.reduce((n, size) => n + config.encryption.replayRecords * 2 * (size + 100), 0)
      : 0) +
    // The log, and a pass's copies in the archive and fetched back (s3rver keeps every pass's).
    // Two logs of JSON events at most (the warm-up one is deleted first), uncompressed in the worst case.
    (only.has('compression') ? config.compression.records * 2 * 400 : 0) +
    (only.has('archive')
      ? (3 + config.archive.passes) * config.archive.segments * config.archive.segmentMiB * MiB
      : 0)
  if (freeBytes < needed) {
    throw new Error(
      `${root}: ${Math.round(freeBytes / MiB)} MiB free, the benchmark needs about ${Math.round(needed / MiB)}`,
    )
  }
  log(`${quick ? 'quick' : 'full'} mode, ${config.runs} run(s), temp dir ${root}`)
  if (nodes.length > 1)
    log(`every task on ${nodes.map((n) => `${n.version} (${n.execPath})`).join(', then ')}`)

  let replayDir: string | undefined
  let recoveryDirs: { small: string; big: string } | undefined
  if (only.has('replay')) {
    replayDir = join(root, 'replay')
    log(`replay: writing ${config.replay.records} records to each store`)
    record(
      'replay|prepare',
      0,
      await runTask('replay-prepare', { n: config.replay.records, size: config.replay.size }, replayDir),
    )
  }
  if (only.has('recovery')) {
    recoveryDirs = { small: join(root, 'recovery-small'), big: join(root, 'recovery-big') }
    for (const which of ['small', 'big'] as const) {
      const bytes = config.recovery[which]
      log(`recovery: writing a ${bytes / MiB} MiB log`)
      record(
        `recovery|prepare|${which}`,
        0,
        await runTask(
          'recovery-prepare',
          { bytes, recordSize: config.recovery.recordSize },
          recoveryDirs[which],
        ),
      )
    }
  }

  let seekDir: string | undefined
  let seekLastSeq = 0
  if (only.has('seek')) {
    seekDir = join(root, 'seek')
    log(`seek: writing a log whose first segment is ${config.seek.segmentMiB} MiB`)
    const params = { segmentMiB: config.seek.segmentMiB, size: config.seek.size }
    const prep = await runTask('seek-prepare', params, seekDir)
    record('seek|prepare', 0, prep)
    seekLastSeq = prep[0]!.metrics.segmentLastSeq!
  }

  let archiveDir: string | undefined
  if (only.has('archive')) {
    archiveDir = join(root, 'archive')
    const { segments, segmentMiB } = config.archive
    log(`archive: writing a log of ${segments} sealed ${segmentMiB} MiB segments`)
    record('archive|prepare', 0, await runTask('archive-prepare', { segments, segmentMiB }, archiveDir))
  }

  let encryptionDir: string | undefined
  if (only.has('encryption')) {
    encryptionDir = join(root, 'encryption')
    const { replayRecords, sizes } = config.encryption
    for (const size of sizes) {
      log(`encryption: writing ${replayRecords} records of ${size} bytes to a plain and an encrypted log`)
      const params = { n: replayRecords, size }
      record(`encryption|prepare|${size}`, 0, await runTask('encryption-prepare', params, encryptionDir))
    }
  }

  if (only.has('cluster')) {
    log('cluster: starting 3 nats-server nodes on loopback')
    cluster = await startBenchCluster(join(root, 'nats'))
  }

  let esDir: string | undefined
  if (only.has('eventstore')) {
    esDir = join(root, 'eventstore')
    log(`eventstore: writing ${es.streams * es.perStream} events over ${es.streams} streams to each store`)
    const params = { streams: es.streams, perStream: es.perStream, size: es.size }
    record('eventstore|prepare', 0, await runTask('es-prepare', params, esDir))
  }

  for (let run = 0; run < config.runs; run++) {
    log(`run ${run + 1}/${config.runs}`)
    record('memory|noop', run, await runTask('noop', {}))
    if (only.has('buffered')) {
      for (const size of config.buffered.sizes) {
        const n = config.buffered.records[size]!
        for (const system of rotate(BUFFERED, run)) {
          record(`buffered|${size}|${system}`, run, await runTask('buffered', { system, n, size }))
        }
      }
      log('  buffered done')
    }
    if (only.has('durable')) {
      for (const size of config.durable.sizes) {
        for (const concurrency of config.durable.concurrency) {
          const systems = concurrency === 1 ? [...DURABLE, ...DURABLE_1] : DURABLE
          for (const system of rotate(systems, run)) {
            const params = { system, size, concurrency, durationMs: config.durable.durationMs }
            record(`durable|${size}|${concurrency}|${system}`, run, await runTask('durable', params))
          }
        }
      }
      log('  durable done')
    }
    if (replayDir) {
      for (const system of rotate(REPLAY, run)) {
        record(
          `replay|${system}`,
          run,
          await runTask('replay', { system, n: config.replay.records }, replayDir),
        )
      }
      log('  replay done')
    }
    if (recoveryDirs) {
      for (const which of ['small', 'big'] as const) {
        record(
          `recovery|${which}`,
          run,
          await runTask('recovery-open', { opens: config.recovery.opens }, recoveryDirs[which]),
        )
      }
      log('  recovery done')
    }
    if (seekDir) {
      for (const system of rotate(SEEK, run)) {
        const warmup = config.seek.warmup[system as keyof typeof config.seek.warmup]
        const params = { system, opens: config.seek.opens, warmup, segmentLastSeq: seekLastSeq }
        record(`seek|${system}`, run, await runTask('seek-first', params, seekDir))
      }
      log('  seek done')
    }
    if (esDir) {
      for (const system of rotate(ES_APPEND, run)) {
        const params = { system, size: es.size, ...es.append }
        record(`eventstore|append|${system}`, run, await runTask('es-append', params))
      }
      for (const system of rotate(ES_READ, run)) {
        const params = { system, streams: es.streams, perStream: es.perStream, ...es.read }
        record(`eventstore|read|${system}`, run, await runTask('es-read', params, esDir))
      }
      for (const system of rotate(ES_OPEN, run)) {
        record(`eventstore|open|${system}`, run, await runTask('es-open', { system, opens: es.opens }, esDir))
      }
      if (run === 0) {
        // A full rebuild of the index takes as long as the rest of the workload: once per bench.
        const rebuild = { system: 'rebuild', opens: es.rebuildOpens }
        record('eventstore|open|rebuild', run, await runTask('es-open', rebuild, esDir))
      }
      log('  eventstore done')
    }
    if (archiveDir) {
      for (const system of rotate(ARCHIVE, run)) {
        const params = { system, segments: config.archive.segments, passes: config.archive.passes }
        record(`archive|${system}`, run, await runTask('archive-throughput', params, archiveDir))
      }
      log('  archive done')
    }
    if (encryptionDir) {
      const { appendRecords, replayRecords, sizes } = config.encryption
      for (const size of sizes) {
        for (const system of rotate(ENCRYPTION, run)) {
          const params = { system, n: appendRecords, size }
          record(`encryption|append|${size}|${system}`, run, await runTask('encryption-append', params))
        }
        for (const system of rotate(ENCRYPTION, run)) {
          const params = { system, n: replayRecords, size }
          const result = await runTask('encryption-replay', params, encryptionDir)
          record(`encryption|replay|${size}|${system}`, run, result)
        }
      }
      log('  encryption done')
    }
    if (only.has('compression')) {
      const { records, groups, replays } = config.compression
      for (const group of groups) {
        for (const codec of rotate(CODECS, run)) {
          const params = { codec, records, group, replays }
          record(`compression|${group}|${codec}`, run, await runTask('compression-run', params))
        }
      }
      log('  compression done')
    }
    if (cluster !== undefined) {
      const { concurrency, durationMs, size, streams, perStream, reads } = config.cluster
      const servers = cluster.urls.join(',')
      for (const c of concurrency) {
        for (const system of rotate(CLUSTER, run)) {
          const params = { system, servers, stream: `append-${c}`, concurrency: c, durationMs, size }
          record(`cluster|append|${c}|${system}`, run, await runTask('cluster-append', params))
        }
      }
      for (const system of rotate(CLUSTER, run)) {
        const params = { system, servers, stream: 'read', streams, perStream, reads, size }
        record(`cluster|read|${system}`, run, await runTask('cluster-read', params))
      }
      log('  cluster done')
    }
    if (only.has('emmett')) {
      for (const system of rotate(EMMETT, run)) {
        record(
          `emmett|commands|${system}`,
          run,
          await runTask('emmett-commands', { system, ...config.emmett }),
        )
      }
      log('  emmett done')
    }
  }
  const totalSeconds = (performance.now() - started) / 1000
  const results = nodes.map((n, i): NodeRun => ({ version: n.version, m: measured[i]! }))
  await writeReports(config, results, root, totalSeconds, only.size === WORKLOADS.length)
} finally {
  await cluster?.stop()
  cleanup()
}
