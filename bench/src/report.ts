/** Turns the measurements into `bench/RESULTS.md` and the ratio chart `bench/results.svg`. */
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { cpus, release, totalmem, type } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { fmt, fmtRatio, median, type TaskResult } from './common.js'
import { type EncryptionConfig, renderEncryption } from './encryption.js'

export interface BenchConfig {
  quick: boolean
  runs: number
  buffered: { sizes: number[]; records: Record<number, number> }
  durable: { sizes: number[]; concurrency: number[]; durationMs: number }
  replay: { records: number; size: number }
  recovery: { small: number; big: number; recordSize: number; opens: number }
  /** Section 4.1: a read starting mid-segment (absent from results written before it existed). */
  seek?: {
    segmentMiB: number
    size: number
    /** Timed reads per run, each with a fresh reader. */
    opens: number
    /** Untimed reads first, per system (a walk of the segment takes ~100 times longer). */
    warmup: { 'seek-file': number; walk: number }
  }
  /** Workload 6, `@waltz/eventstore` (absent from results written before it existed). */
  eventstore: {
    /** Payload bytes of every event. */
    size: number
    append: { concurrency: number; durationMs: number }
    /** The read dataset: `streams` × `perStream` events. */
    streams: number
    perStream: number
    read: { warmup: number; reads: number; minReads: number; maxMs: number }
    /** Opens per process with the persisted index and of the bare WAL, and with a rebuild (first run only). */
    opens: number
    rebuildOpens: number
  }
  /** Workload 8, archive throughput (absent from results written before it existed). */
  archive?: {
    /** Sealed segments copied and read back per pass. */
    segments: number
    segmentMiB: number
    /** Timed passes per run (after a warm-up pass of two segments); the median is reported. */
    passes: number
  }
  /** Workload 10, compression (absent from results written before it existed). */
  compression?: {
    /** JSON order events appended per log. */
    records: number
    /** Atomic group sizes measured (1: single appends). */
    groups: number[]
    /** Timed replays per log; the median is reported. */
    replays: number
  }
  /** Workload 11, the event store on a 3-node NATS cluster (absent from results written before it existed). */
  cluster?: {
    /** Payload bytes of every event. */
    size: number
    /** Appenders measured, each on its own stream. */
    concurrency: number[]
    durationMs: number
    /** The read dataset: `streams` × `perStream` events; `reads` timed `readStream` calls. */
    streams: number
    perStream: number
    reads: number
  }
  /** Workload 9, encryption at rest on and off (absent from results written before it existed). */
  encryption?: EncryptionConfig
  /** Workload 7, the emmett adapter (absent from results written before it existed). */
  emmett?: {
    /** Commands go round-robin over `streams` streams until each holds `perStream` events. */
    streams: number
    perStream: number
    /** Untimed commands first, on other streams. */
    warmup: number
    /** Command loops of the waltz-only concurrent row. */
    concurrency: number
  }
}

/** Results by key (`workload|config|system`), one entry per run. */
export type Measured = Map<string, TaskResult[]>

/** The measurements of one Node (`pnpm bench --node` measures on two). */
export interface NodeRun {
  /** `process.version` of the Node the workers ran on. */
  version: string
  m: Measured
}

const MiB = 1 << 20

/** Median over runs of one metric (non-finite values, e.g. a metric a system lacks, are skipped). */
function med(m: Measured, key: string, metric: string): number {
  const runs = m.get(key) ?? []
  return median(runs.map((r) => r?.metrics[metric]).filter((v): v is number => Number.isFinite(v)))
}
function rss(m: Measured, key: string): number {
  return median((m.get(key) ?? []).filter(Boolean).map((r) => r.maxRssMB))
}
/**
 * The ratio waltz ÷ peer computed within each run, then the median over runs. `lowerIsBetter` metrics
 * (times) are inverted so that above 1 always means waltz is better.
 */
function ratio(
  m: Measured,
  waltzKey: string,
  peerKey: string,
  metric: string,
  lowerIsBetter = false,
): number {
  const w = m.get(waltzKey) ?? []
  const p = m.get(peerKey) ?? []
  const per: number[] = []
  for (let i = 0; i < Math.max(w.length, p.length); i++) {
    const a = w[i]?.metrics[metric]
    const b = p[i]?.metrics[metric]
    if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b)) continue
    per.push(lowerIsBetter ? b / a : a / b)
  }
  return median(per)
}

const sizeLabel = (size: number) => (size >= 1024 ? `${size / 1024} KiB` : `${size} B`)
const bytesLabel = (bytes: number) =>
  bytes >= 1024 * MiB
    ? `${Number((bytes / 1024 / MiB).toFixed(2))} GiB`
    : `${Number((bytes / MiB).toFixed(1))} MiB`

const NAMES: Record<string, string> = {
  'waltz-os-cache': "waltz `'os-cache'`, `append`, await each",
  'waltz-background': "waltz `'background'`, `append`, await each",
  'waltz-os-cache-batch': "waltz `'os-cache'`, `appendBatch` of 1000",
  'waltz-background-batch': "waltz `'background'`, `appendBatch` of 1000",
  'sqlite-normal': 'SQLite WAL, `synchronous=NORMAL`, transactions of 1000',
  'level-nosync': 'LevelDB, `batch` of 1000, `sync: false`',
  'fs-large': 'node:fs, pre-encoded frames, 1 MiB `writeSync`s',
  'waltz-always': "waltz `'always'` (group commit)",
  'waltz-always-blocking': "waltz `'always'`, `blockingSync: true` (fdatasync on the main thread)",
  'sqlite-full':
    'SQLite WAL, `synchronous=FULL`, 1 transaction per event (synchronous API: appenders run one after another)',
  'level-sync': 'LevelDB, `put` with `sync: true` (async: truly concurrent)',
  'fs-fdatasync': 'node:fs, `writeSync` + `fdatasyncSync` per record',
  'fs-fdatasync-async': 'node:fs, `writeSync` + async `fdatasync` per record',
  'waltz-bytes': 'waltz `replayFrom(0)`, bytes serializer (raw bytes)',
  'waltz-bytes-iter': 'waltz `records()` async iteration, bytes serializer',
  'waltz-binary': 'waltz `replayFrom(0)`, binary serializer (msgpackr), decoded',
  'waltz-json': 'waltz `replayFrom(0)`, JSON serializer (zod-validated), decoded',
  'waltz-proto': 'waltz `replayFrom(0)`, proto serializer (protobufjs), decoded',
  sqlite: 'SQLite `SELECT … ORDER BY seq`, `.raw().iterate()`',
  level: 'LevelDB iterator, `nextv(1000)`, values decoded',
  'fs-read': 'node:fs, the bytes log read in 1 MiB reads, not parsed',
}
const SHORT: Record<string, string> = {
  'fs-large': 'node:fs large writes',
  'sqlite-normal': 'SQLite NORMAL',
  'level-nosync': 'LevelDB sync:false',
  'sqlite-full': 'SQLite FULL',
  'level-sync': 'LevelDB sync:true',
  'fs-fdatasync': 'node:fs write+fdatasync',
  'fs-fdatasync-async': 'node:fs write+async fdatasync',
  sqlite: 'SQLite SELECT',
  level: 'LevelDB iterator',
  'fs-read': 'node:fs raw read',
}

/** One bar of the chart: waltz ÷ peer, above 1 when waltz is better. */
export interface RatioBar {
  group: string
  label: string
  value: number
}

export function ratioBars(config: BenchConfig, m: Measured): RatioBar[] {
  const bars: RatioBar[] = []
  for (const size of config.buffered.sizes) {
    const group = `Buffered append, ${sizeLabel(size)} (records/s)`
    for (const peer of ['fs-large', 'sqlite-normal', 'level-nosync']) {
      const value = ratio(
        m,
        `buffered|${size}|waltz-background-batch`,
        `buffered|${size}|${peer}`,
        'recordsPerSec',
      )
      bars.push({ group, label: `'background' batch ÷ ${SHORT[peer]}`, value })
    }
    const value = ratio(
      m,
      `buffered|${size}|waltz-os-cache`,
      `buffered|${size}|sqlite-normal`,
      'recordsPerSec',
    )
    bars.push({ group, label: `'os-cache' await each ÷ SQLite NORMAL`, value })
  }
  for (const size of config.durable.sizes) {
    const group = `Durable append, ${sizeLabel(size)} (records/s)`
    for (const c of config.durable.concurrency) {
      const peers = c === 1 ? ['fs-fdatasync', 'sqlite-full', 'level-sync'] : ['sqlite-full', 'level-sync']
      for (const peer of peers) {
        const value = ratio(
          m,
          `durable|${size}|${c}|waltz-always`,
          `durable|${size}|${c}|${peer}`,
          'recordsPerSec',
        )
        bars.push({ group, label: `${c} appender${c > 1 ? 's' : ''}: 'always' ÷ ${SHORT[peer]}`, value })
      }
      if (c === 1) {
        const value = ratio(
          m,
          `durable|${size}|1|waltz-always-blocking`,
          `durable|${size}|1|fs-fdatasync`,
          'recordsPerSec',
        )
        bars.push({ group, label: `1 appender: 'always' blockingSync ÷ ${SHORT['fs-fdatasync']}`, value })
      }
    }
  }
  {
    const group = `Replay of ${fmt(config.replay.records)} records (records/s)`
    for (const peer of ['sqlite', 'level', 'fs-read']) {
      const value = ratio(m, 'replay|waltz-bytes', `replay|${peer}`, 'ms', true)
      bars.push({ group, label: `replayFrom, bytes ÷ ${SHORT[peer]}`, value })
    }
  }
  {
    const group = 'Open / recovery (time, flat = 1×)'
    const value = ratio(m, 'recovery|big', 'recovery|small', 'warmMs', true)
    bars.push({
      group,
      label: `open ${bytesLabel(config.recovery.small)} ÷ open ${bytesLabel(config.recovery.big)}`,
      value,
    })
  }
  if (m.has('eventstore|read|store')) {
    const group = `Event store, readStream of a ${config.eventstore.perStream}-event stream (p99 latency)`
    const value = ratio(m, 'eventstore|read|store', 'eventstore|read|sqlite', 'p99Ms', true)
    bars.push({ group, label: 'readStream ÷ SQLite SELECT … WHERE stream = ?', value })
  }
  if (m.has('emmett|commands|waltz')) {
    const group = 'emmett CommandHandler, one command at a time, durable (commands/s)'
    const value = ratio(m, 'emmett|commands|waltz', 'emmett|commands|sqlite', 'commandsPerSec')
    bars.push({ group, label: '@waltz/emmett ÷ emmett-sqlite (one connection)', value })
  }
  return bars.filter((b) => Number.isFinite(b.value))
}

function pkgVersion(name: string, from: string): string {
  try {
    let dir = dirname(createRequire(from).resolve(name))
    for (;;) {
      const file = join(dir, 'package.json')
      if (existsSync(file)) {
        const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string }
        if (pkg.name === name) return pkg.version ?? '?'
      }
      const up = dirname(dir)
      if (up === dir) return '?'
      dir = up
    }
  } catch {
    return '?'
  }
}

function fsTypeOf(path: string): string {
  try {
    let best = { mount: '', type: '?', device: '?' }
    for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
      const [device, mount, fsType] = line.split(' ')
      if (!device || !mount || !fsType) continue
      if (path.startsWith(mount) && mount.length > best.mount.length) best = { mount, type: fsType, device }
    }
    return `${best.type} on ${best.device}`
  } catch {
    return '?'
  }
}

export function machineLine(): string {
  const cpu = cpus()
  return `${cpu.length} × ${cpu[0]?.model.trim() ?? '?'}, Node ${process.version}`
}

export async function renderMarkdown(
  config: BenchConfig,
  m: Measured,
  tempDir: string,
  totalSeconds: number,
  node: string,
): Promise<string> {
  const benchUrl = new URL('../package.json', import.meta.url).href
  const beside = (pkg: string) => fileURLToPath(import.meta.resolve(`${pkg}/package.json`))
  let sqliteVersion = '?'
  try {
    const Database = (await import('better-sqlite3')).default
    const db = new Database(':memory:')
    sqliteVersion = (db.prepare('select sqlite_version() as v').get() as { v: string }).v
    db.close()
  } catch {}
  let commit = '?'
  try {
    const cwd = fileURLToPath(new URL('..', import.meta.url))
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd, encoding: 'utf8' }).trim()
    const dirty = execFileSync('git', ['status', '--porcelain'], { cwd, encoding: 'utf8' }).trim()
    if (dirty) commit += ' (with uncommitted changes in the tree)'
  } catch {}
  const out: string[] = []
  const p = (s = '') => out.push(s)
  const runs = config.runs
  p(`# waltz vs. peers${config.quick ? ' (quick smoke run: small sizes, 1 run; not for comparison)' : ''}`)
  p()
  p(
    `Generated by \`pnpm bench${config.quick ? ' --quick' : ''}\` on ${new Date().toISOString()} in ${fmt(totalSeconds)} s.`,
  )
  p(`Every figure is the **median of ${runs} run${runs > 1 ? 's' : ''}**; every ratio is`)
  p('waltz ÷ peer computed **within each run** (same machine, minutes apart), then the median of those.')
  p('Above 1× waltz is better (more records/s, or less time), below 1× it is behind.')
  p()
  p('| machine | |')
  p('|---|---|')
  p(`| CPU | ${machineLine().replace(/, Node.*/, '')} (shared with other workloads: noisy) |`)
  p(`| memory | ${fmt(totalmem() / 1024 / MiB, 1)} GiB |`)
  p(`| OS | ${type()} ${release()} |`)
  p(`| disk | temp dir \`${dirname(tempDir)}\`, ${fsTypeOf(tempDir)} |`)
  p(`| Node | ${node} |`)
  p(`| waltz | @waltz/core ${pkgVersion('@waltz/core', benchUrl)}, commit ${commit} |`)
  p(
    `| serializers | msgpackr ${pkgVersion('msgpackr', beside('@waltz/serializer-binary'))}, zod ${pkgVersion('zod', beside('@waltz/serializer-json'))}, protobufjs ${pkgVersion('protobufjs', beside('@waltz/serializer-proto'))} |`,
  )
  p(`| better-sqlite3 | ${pkgVersion('better-sqlite3', benchUrl)} (SQLite ${sqliteVersion}) |`)
  p(`| classic-level | ${pkgVersion('classic-level', benchUrl)} (bundled LevelDB) |`)
  p()
  p(
    'Each measurement runs in a fresh child process (`bench/dist/worker.js`), so peak RSS is per measurement;',
  )
  p(
    `an idle child (Node + the harness) peaks at ${fmt(rss(m, 'memory|noop'))} MB. Records have type \`'e'\`, a \`time\`,`,
  )
  p(
    'and a payload of pseudo-random bytes; every peer stores the same three fields (SQLite: `(seq INTEGER PRIMARY KEY,',
  )
  p(
    'type TEXT, time INTEGER, data BLOB)`; LevelDB: 8-byte big-endian seq key, value = time f64 + type length u8 +',
  )
  p(
    'type + data; waltz: in its frame). MB/s counts payload bytes. The page cache is warm for replay (no root to drop it).',
  )
  p()

  const bars = ratioBars(config, m)
  if (bars.length > 0) {
    p('## Summary: waltz ÷ peer')
    p()
    p(`![waltz ÷ peer ratios](results${config.quick ? '.quick' : ''}.svg)`)
    p()
    p('| workload | comparison | waltz ÷ peer |')
    p('|---|---|---|')
    for (const b of bars) p(`| ${b.group} | ${b.label} | **${fmtRatio(b.value)}** |`)
    p()
  }

  if (m.has(`buffered|${config.buffered.sizes[0]}|waltz-os-cache`)) {
    p('## 1. Buffered append throughput')
    p()
    p('One appender; timed until every record is at least in the OS page cache (waltz: `append`s then')
    p(
      "`flush()`; no fdatasync in any row). `'os-cache'` resolves each append after its write(2), so awaiting each",
    )
    p("append means one write per record; `'background'` resolves once buffered (64 KiB writes).")
    p('Each system first runs the same workload with a fifth of the records into a scratch store, untimed,')
    p(
      'in the same process (JIT and caches warm), then runs `sync` (no dirty pages of earlier runs), then the timed run.',
    )
    p()
    for (const size of config.buffered.sizes) {
      const n = config.buffered.records[size]!
      p(`### ${sizeLabel(size)} payloads, ${fmt(n)} records`)
      p()
      p(
        "| system | records/s | MB/s | peak RSS MB | waltz `'background'` batch ÷ this | waltz `'os-cache'` await each ÷ this |",
      )
      p('|---|--:|--:|--:|--:|--:|')
      for (const system of [
        'waltz-os-cache',
        'waltz-background',
        'waltz-os-cache-batch',
        'waltz-background-batch',
        'sqlite-normal',
        'level-nosync',
        'fs-large',
      ]) {
        const key = `buffered|${size}|${system}`
        const peer = !system.startsWith('waltz')
        const r1 = peer
          ? fmtRatio(ratio(m, `buffered|${size}|waltz-background-batch`, key, 'recordsPerSec'))
          : ''
        const r2 = peer ? fmtRatio(ratio(m, `buffered|${size}|waltz-os-cache`, key, 'recordsPerSec')) : ''
        p(
          `| ${NAMES[system]} | ${fmt(med(m, key, 'recordsPerSec'))} | ${fmt(med(m, key, 'mbPerSec'), 1)} | ${fmt(rss(m, key))} | ${r1} | ${r2} |`,
        )
      }
      p()
    }
  }

  if (m.has(`durable|${config.durable.sizes[0]}|1|waltz-always`)) {
    p('## 2. Durable append (acknowledged only after fdatasync)')
    p()
    p(
      `N appenders each loop \`await append()\` for ${config.durable.durationMs} ms (after a short warm-up); latency is per`,
    )
    p('append, from call to resolution. 1 appender is the single sequential appender. better-sqlite3 is')
    p(
      'synchronous: its "N appenders" are async loops whose transactions still run strictly one after another.',
    )
    p(
      'classic-level `put` is async, so its N appenders are truly concurrent (LevelDB groups concurrent writers).',
    )
    p()
    for (const size of config.durable.sizes) {
      p(`### ${sizeLabel(size)} payloads`)
      p()
      p(
        '| appenders | system | records/s | p50 ms | p99 ms | records per fdatasync | peak RSS MB | waltz ÷ this |',
      )
      p('|--:|---|--:|--:|--:|--:|--:|--:|')
      for (const c of config.durable.concurrency) {
        const systems =
          c === 1
            ? [
                'waltz-always',
                'waltz-always-blocking',
                'sqlite-full',
                'level-sync',
                'fs-fdatasync',
                'fs-fdatasync-async',
              ]
            : ['waltz-always', 'sqlite-full', 'level-sync']
        for (const system of systems) {
          const key = `durable|${size}|${c}|${system}`
          const r = system.startsWith('waltz-')
            ? ''
            : fmtRatio(ratio(m, `durable|${size}|${c}|waltz-always`, key, 'recordsPerSec'))
          const perSync = med(m, key, 'recordsPerFsync')
          p(
            `| ${c} | ${NAMES[system]} | ${fmt(med(m, key, 'recordsPerSec'))} | ${fmt(med(m, key, 'p50Ms'), 3)} | ${fmt(med(m, key, 'p99Ms'), 3)} | ${Number.isFinite(perSync) ? fmt(perSync, 1) : system.startsWith('fs-') ? '1' : ''} | ${fmt(rss(m, key))} | ${r} |`,
          )
        }
      }
      p()
    }
  }

  if (m.has('replay|waltz-bytes')) {
    const n = config.replay.records
    p(`## 3. Replay of ${fmt(n)} records`)
    p()
    p(
      `Each store was written once (waltz \`'background'\` + \`appendBatch\` of 1000). Bytes serializer, SQLite, LevelDB: ${config.replay.size}-byte`,
    )
    p(
      'payloads. binary/JSON/proto: an `OrderPlaced` object (7 fields incl. a string array) decoded to a JS object.',
    )
    p()
    p('| reader | records/s | log MB/s | peak RSS MB | waltz bytes `replayFrom` ÷ this |')
    p('|---|--:|--:|--:|--:|')
    const prep = m.get('replay|prepare')?.[0]?.metrics ?? {}
    for (const system of [
      'waltz-bytes',
      'waltz-bytes-iter',
      'waltz-binary',
      'waltz-json',
      'waltz-proto',
      'sqlite',
      'level',
      'fs-read',
    ]) {
      const key = `replay|${system}`
      const ser = system.replace(/^waltz-/, '').replace(/-iter$/, '')
      const diskBytes = prep[`write.${system === 'fs-read' ? 'bytes' : ser}.diskBytes`]
      const logMBs =
        diskBytes !== undefined && (system.startsWith('waltz') || system === 'fs-read')
          ? fmt(diskBytes / med(m, key, 'ms') / 1000, 0)
          : ''
      const r = system === 'waltz-bytes' ? '' : fmtRatio(ratio(m, 'replay|waltz-bytes', key, 'ms', true))
      p(
        `| ${NAMES[system]} | ${fmt(med(m, key, 'recordsPerSec'))} | ${logMBs} | ${fmt(rss(m, key))} | ${r} |`,
      )
    }
    p()
    p("Writing the logs (one run, `'background'`, `appendBatch` of 1000, includes encoding):")
    p()
    p('| serializer | records/s | bytes on disk per record (frame included) |')
    p('|---|--:|--:|')
    for (const ser of ['bytes', 'binary', 'json', 'proto']) {
      p(
        `| ${ser} | ${fmt(prep[`write.${ser}.recordsPerSec`] ?? Number.NaN)} | ${fmt((prep[`write.${ser}.diskBytes`] ?? Number.NaN) / n, 1)} |`,
      )
    }
    p()
  }

  if (m.has('recovery|small')) {
    p('## 4. Open / recovery time against log size')
    p()
    p(
      `Logs of ${fmt(config.recovery.recordSize / 1024)} KiB records (10 MiB segments), written once; both end with a newest segment of one 1 MiB batch (open scans only that`,
    )
    p(
      `segment, so its size, not the log's, sets the scan cost: up to a full 10 MiB segment). Each run opens each log ${config.recovery.opens} times in a fresh process:`,
    )
    p('"first open" includes loading the module code; "open" is the median of the later opens (`Wal.open`')
    p(
      'wall time), "recovery" is `wal.recovery.durationMs`.' +
        (config.quick ? ` Quick mode: ${bytesLabel(config.recovery.big)} instead of 1 GiB.` : ''),
    )
    p()
    p('| log size | segments | tail scanned | written at | first open ms | open ms | recovery ms |')
    p('|--:|--:|--:|--:|--:|--:|--:|')
    for (const which of ['small', 'big'] as const) {
      const key = `recovery|${which}`
      const prep = m.get(`recovery|prepare|${which}`)?.[0]?.metrics ?? {}
      const bytes = config.recovery[which]
      p(
        `| ${bytesLabel(prep.diskBytes ?? bytes)} | ${fmt(med(m, key, 'segments'))} | ${fmt(med(m, key, 'scannedBytes') / MiB, 1)} MiB | ${fmt(bytes / MiB / ((prep.ms ?? Number.NaN) / 1000))} MB/s | ${fmt(med(m, key, 'coldMs'), 2)} | ${fmt(med(m, key, 'warmMs'), 2)} | ${fmt(med(m, key, 'recoveryMs'), 2)} |`,
      )
    }
    p()
    p(
      `Flatness, open(${bytesLabel(config.recovery.small)}) ÷ open(${bytesLabel(config.recovery.big)}): **${fmtRatio(ratio(m, 'recovery|big', 'recovery|small', 'warmMs', true))}** (1× = flat).`,
    )
    p()
  }

  if (config.seek && m.has('seek|seek-file')) renderSeek(config.seek, m, p)

  const memoryRows: Array<[string, string[]]> = [
    [
      'waltz',
      [
        'waltz-os-cache',
        'waltz-background',
        'waltz-os-cache-batch',
        'waltz-background-batch',
        'waltz-always',
        'waltz-always-blocking',
      ],
    ],
    ['better-sqlite3', ['sqlite-normal', 'sqlite-full']],
    ['classic-level', ['level-nosync', 'level-sync']],
    ['node:fs', ['fs-large', 'fs-fdatasync', 'fs-fdatasync-async']],
  ]
  const peak = (prefix: string, systems: string[]) => {
    let best = Number.NaN
    for (const key of m.keys()) {
      if (!key.startsWith(prefix)) continue
      if (!systems.includes(key.split('|').at(-1)!)) continue
      const v = rss(m, key)
      if (!(v <= best)) best = v
    }
    return best
  }
  if (
    m.has(`buffered|${config.buffered.sizes[0]}|waltz-os-cache`) ||
    m.has(`durable|${config.durable.sizes[0]}|1|waltz-always`)
  ) {
    p('## 5. Memory: peak RSS (MB) of the measuring process')
    p()
    p(
      `Largest per-configuration median of \`process.resourceUsage().maxRSS\`; an idle child peaks at ${fmt(rss(m, 'memory|noop'))} MB.`,
    )
    p()
    p('| system | 1. buffered append | 2. durable append |')
    p('|---|--:|--:|')
    for (const [name, systems] of memoryRows) {
      p(`| ${name} | ${fmt(peak('buffered|', systems))} | ${fmt(peak('durable|', systems))} |`)
    }
    p()
  }
  if (config.eventstore && m.has('eventstore|append|store')) renderEventStore(config, m, p)
  if (config.emmett && m.has('emmett|commands|waltz')) renderEmmett(config.emmett, m, p)
  if (config.archive && m.has('archive|directory')) renderArchive(config.archive, m, p)
  if (config.encryption && m.has(`encryption|append|${config.encryption.sizes[0]}|plain`))
    renderEncryption(config.encryption, m, p)
  if (config.compression && m.has(`compression|${config.compression.groups[0]}|none`)) {
    renderCompression(config.compression, m, p)
  }
  if (config.cluster && m.has(`cluster|append|${config.cluster.concurrency[0]}|nats`)) {
    renderCluster(config.cluster, m, p)
  }
  return out.join('\n')
}

/** Section 4.1: the first record of `records({ from })` in the middle of a sealed segment. */
function renderSeek(cfg: NonNullable<BenchConfig['seek']>, m: Measured, p: (s?: string) => void): void {
  const prep = m.get('seek|prepare')?.[0]?.metrics ?? {}
  const after = med(m, 'seek|seek-file', 'firstRecordMs')
  p('### 4.1 Starting a read in the middle of a segment')
  p()
  p(
    `A log of ${cfg.size}-byte records whose first segment is sealed at ${fmt((prep.segmentBytes ?? Number.NaN) / MiB, 1)} MiB (${fmt(prep.segmentLastSeq ?? Number.NaN)} records; its seek file is ${fmt((prep.seekFileBytes ?? Number.NaN) / 1024)} KiB).`,
  )
  p(
    'In a fresh process, each read opens a new `Wal.openReader` instance (nothing of the segment indexed in memory), then',
  )
  p(
    '`records({ from })` is timed from the call to its first record, `from` in the middle half of the segment. "before" is',
  )
  p(
    'the same segments hard-linked into a directory without seek files: the read walks the segment up to `from`, as every',
  )
  p(
    `such read did before seek files. "first" is the process's first read (module code and JIT cold); then ${cfg.warmup['seek-file']} untimed reads`,
  )
  p(
    `(${cfg.warmup.walk} for the walk), then ${cfg.opens} timed ones: their median and max. The page cache is warm. Target: ≤ 1 ms.`,
  )
  p()
  p('| read | first ms | median ms | max ms | |')
  p('|---|--:|--:|--:|---|')
  for (const [system, name] of [
    ['seek-file', 'after: with the seek file'],
    ['walk', 'before: no seek file (walk)'],
  ] as const) {
    const k = `seek|${system}`
    const verdict = system === 'seek-file' ? (after <= 1 ? 'met' : '**not met**') : ''
    p(
      `| ${name} | ${fmt(med(m, k, 'coldMs'), 3)} | ${fmt(med(m, k, 'firstRecordMs'), 3)} | ${fmt(med(m, k, 'maxMs'), 3)} | ${verdict} |`,
    )
  }
  p()
}

/** Section 11: the event store on a NATS JetStream cluster against the embedded one. */
function renderCluster(cfg: NonNullable<BenchConfig['cluster']>, m: Measured, p: (s?: string) => void): void {
  const benchUrl = new URL('../package.json', import.meta.url).href
  p('## 11. The event store on a NATS cluster')
  p()
  p(
    `\`EventStore.connect\` on a 3-node nats-server cluster (the binary on this machine, on loopback, an R3 JetStream stream;`,
  )
  p(
    `\`@nats-io/jetstream\` ${pkgVersion('@nats-io/jetstream', benchUrl)}) against the embedded \`EventStore.open\` with \`sync: 'always'\`, in the same run. The three`,
  )
  p(
    'servers, the client and the embedded store share this machine. A JetStream acknowledgement means the message is in a',
  )
  p(
    "majority of the servers' memory (nats-server syncs its files every 2 minutes by default); the embedded one, that the",
  )
  p('event was fdatasynced on this machine: different guarantees, measured side by side.')
  p()
  p(
    `Append: N appenders, each on its own stream, append one ${cfg.size}-byte event at a time with its expected revision for ${fmt(cfg.durationMs)} ms`,
  )
  p("after a warm-up; the median over runs of each run's records/s and latency quantiles.")
  p()
  p(
    '| appenders | cluster appends/s | p50 ms | p99 ms | embedded appends/s | p50 ms | p99 ms | cluster ÷ embedded |',
  )
  p('|--:|--:|--:|--:|--:|--:|--:|--:|')
  for (const c of cfg.concurrency) {
    const nats = `cluster|append|${c}|nats`
    const embedded = `cluster|append|${c}|embedded`
    p(
      `| ${c} | ${fmt(med(m, nats, 'recordsPerSec'))} | ${fmt(med(m, nats, 'p50Ms'), 2)} | ${fmt(med(m, nats, 'p99Ms'), 2)} | ${fmt(med(m, embedded, 'recordsPerSec'))} | ${fmt(med(m, embedded, 'p50Ms'), 2)} | ${fmt(med(m, embedded, 'p99Ms'), 2)} | ${fmt(ratio(m, nats, embedded, 'recordsPerSec'), 2)}× |`,
    )
  }
  p()
  p(
    `Read: ${fmt(cfg.streams)} streams of ${cfg.perStream} events, written revision by revision (so each stream's events are spread through the`,
  )
  p(
    'log), by a new client (a new connection; embedded: the store reopened): first each stream once, in random order',
  )
  p(
    `(cold: the client has read nothing of it), then ${fmt(cfg.reads)} \`readStream\` calls of random streams (warm: the NATS client`,
  )
  p('keeps the messages it has read and fetches only newer ones), one at a time, every event checked.')
  p()
  p('| store | cold p50 ms | cold p99 ms | warm p50 ms | warm p99 ms | warm reads/s |')
  p('|---|--:|--:|--:|--:|--:|')
  for (const [system, name] of [
    ['nats', 'cluster (R3)'],
    ['embedded', 'embedded'],
  ] as const) {
    const k = `cluster|read|${system}`
    p(
      `| ${name} | ${fmt(med(m, k, 'coldP50Ms'), 3)} | ${fmt(med(m, k, 'coldP99Ms'), 3)} | ${fmt(med(m, k, 'p50Ms'), 3)} | ${fmt(med(m, k, 'p99Ms'), 3)} | ${fmt(med(m, k, 'readsPerSec'))} |`,
    )
  }
  p()
}

/** Section 10: bytes on disk and throughput per compression codec. */
function renderCompression(
  cfg: NonNullable<BenchConfig['compression']>,
  m: Measured,
  p: (s?: string) => void,
): void {
  p('## 10. Compression')
  p()
  p(
    `${fmt(cfg.records)} JSON order events (ids, account, symbol, side, price, quantity, time in force, ISO time; about`,
  )
  p(
    `${fmt(med(m, `compression|${cfg.groups[0]}|none`, 'dataBytes') / cfg.records)} bytes of data each, keyed by order book) appended to a fresh \`Wal\` in \`'background'\` mode with each`,
  )
  p(
    '`compression` setting, in atomic groups (`appendBatch`; a group of 1 is `append`): a group is one compressed block.',
  )
  p(
    `Append throughput to \`flush()\`, then the median of ${cfg.replays} replays (\`records()\` of a \`WalReader\`, warm page cache), after an`,
  )
  p(
    'untimed warm-up log. Ratios are against `none` with the same group size, within each run, then the median over runs.',
  )
  p()
  p(
    '| group | compression | bytes on disk per event | size vs none | append records/s | vs none | replay records/s | vs none |',
  )
  p('|--:|---|--:|--:|--:|--:|--:|--:|')
  for (const group of cfg.groups) {
    const none = `compression|${group}|none`
    for (const codec of ['none', 'deflate', 'brotli', 'zstd']) {
      const k = `compression|${group}|${codec}`
      if (!(m.get(k) ?? []).some((r) => r?.metrics.available === 1)) {
        p(`| ${group} | ${codec} | — (not in this Node) | | | | | |`)
        continue
      }
      const perEvent = med(m, k, 'bytes') / med(m, k, 'records')
      p(
        `| ${group} | ${codec} | ${fmt(perEvent, 1)} | ${fmt(1 / ratio(m, none, k, 'bytes'), 2)}× | ${fmt(med(m, k, 'appendRps'))} | ${fmt(ratio(m, k, none, 'appendRps'), 2)}× | ${fmt(med(m, k, 'replayRps'))} | ${fmt(ratio(m, k, none, 'replayRps'), 2)}× |`,
      )
    }
  }
  p()
}

/** Section 8: `Archive.put` and `Archive.get` throughput of a directory and an S3 archive. */
function renderArchive(cfg: NonNullable<BenchConfig['archive']>, m: Measured, p: (s?: string) => void): void {
  const benchUrl = new URL('../package.json', import.meta.url).href
  const segmentMiB = (med(m, 'archive|directory', 'bytes') / cfg.segments / MiB).toFixed(1)
  p('## 8. Archive throughput (tiered storage)')
  p()
  p(
    `${cfg.segments} sealed segments of ${segmentMiB} MiB, written by a \`Wal\` (\`segmentSize\` ${cfg.segmentMiB} MiB, 1 KiB records), are copied with`,
  )
  p(
    "`Archive.put`, one at a time and oldest first as the WAL's uploader does, then read back with `Archive.get`, each",
  )
  p(
    'streamed to a file (not fsynced) with its SHA-256 checked against the one the archive recorded (S3) or the known one',
  )
  p(
    `(directory). After a warm-up pass of two segments, ${cfg.passes} timed pass${cfg.passes > 1 ? 'es' : ''} per run, each into a fresh prefix or directory: the median`,
  )
  p(
    'pass, then the median over runs. `directoryArchive` copies to a temp file, fdatasyncs it, renames it and fsyncs the',
  )
  p(
    `directory. \`s3Archive\` runs against s3rver ${pkgVersion('s3rver', benchUrl)} in a child process on loopback through \`@aws-sdk/client-s3\``,
  )
  p(
    `${pkgVersion('@aws-sdk/client-s3', benchUrl)} (one \`PutObject\` per segment with Content-MD5, the segment read whole; \`GetObject\` streamed): s3rver and the`,
  )
  p(
    'measuring process share the machine, and s3rver keeps objects in files without fsync, so this is the client and',
  )
  p(
    'protocol cost on this machine, not a network figure. MB/s = 10^6 bytes a second. The page cache is warm.',
  )
  p(
    'Then `replayFrom(0)` of the whole log through a `WalReader` whose directory holds only the newest segment, so every',
  )
  p(
    "sealed one is fetched from the archive (into the reader's cache, the next one prefetched while one is read), against",
  )
  p(
    '`replayFrom(0)` of the same log from local disk in the same pass (no serializer: records counted, not decoded).',
  )
  p()
  p(
    '| archive | put MB/s | get MB/s (to a file, SHA-256 checked) | replayFrom(0) through the archive, MB/s | the same from local disk, MB/s | peak RSS MB |',
  )
  p('|---|--:|--:|--:|--:|--:|')
  for (const [system, name] of [
    ['directory', '`directoryArchive` (same disk)'],
    ['s3', '`s3Archive` on s3rver (loopback)'],
  ] as const) {
    const k = `archive|${system}`
    const replay = (f: string) =>
      m.get(k)?.some((r) => r?.metrics[f] !== undefined) ? fmt(med(m, k, f), 1) : '—'
    p(
      `| ${name} | ${fmt(med(m, k, 'putMBps'), 1)} | ${fmt(med(m, k, 'getMBps'), 1)} | ${replay('replayMBps')} | ${replay('localReplayMBps')} | ${fmt(rss(m, k))} |`,
    )
  }
  p()
}

/** Section 7: emmett's `CommandHandler` on `@waltz/emmett` and on emmett's own SQLite store. */
function renderEmmett(cfg: NonNullable<BenchConfig['emmett']>, m: Measured, p: (s?: string) => void): void {
  const benchUrl = new URL('../package.json', import.meta.url).href
  const key = (system: string) => `emmett|commands|${system}`
  const sync = med(m, key('sqlite'), 'sqliteSynchronous')
  p('## 7. emmett adapter (`@waltz/emmett`)')
  p()
  p(
    `emmett's \`CommandHandler\` (@event-driven-io/emmett ${pkgVersion('@event-driven-io/emmett', benchUrl)}) runs ${fmt(cfg.streams * cfg.perStream)} commands, round-robin over ${fmt(cfg.streams)} streams until each`,
  )
  p(
    `holds ${cfg.perStream} events (after ${cfg.warmup} untimed ones on other streams). A command aggregates its stream, decides one event and`,
  )
  p(
    "appends it with the version it read as the expected one; each result's version and every stream's final state are",
  )
  p(
    `checked. The peer is emmett's own SQLite store (@event-driven-io/emmett-sqlite ${pkgVersion('@event-driven-io/emmett-sqlite', benchUrl)}, sqlite3 ${pkgVersion('sqlite3', benchUrl)}), which allows one`,
  )
  p(
    'command at a time (its transactions would collide): the ratio compares one command at a time, both durable per',
  )
  p(
    `command: waltz \`sync: 'always'\` (zod-validated JSON events), SQLite in WAL mode with \`synchronous\` = ${Number.isFinite(sync) ? sync : '?'} (2 = FULL: the WAL`,
  )
  p(
    'is synced at every commit), as emmett-sqlite leaves it. The SQLite store keeps one connection open (its `singleton`',
  )
  p('option), a configuration choice: its default for a file, a connection per operation, hit an uncaught')
  p(
    '`SQLITE_BUSY: cannot commit transaction - SQL statements in progress` during development. The concurrent row',
  )
  p(`runs ${cfg.concurrency} command loops on waltz alone (commands on distinct streams share fsyncs).`)
  p()
  p('| system | commands/s | p50 ms | p99 ms | commands per fdatasync | peak RSS MB | waltz ÷ this |')
  p('|---|--:|--:|--:|--:|--:|--:|')
  for (const [system, name] of [
    ['waltz', "`getWaltzEventStore`, waltz `sync: 'always'`"],
    ['sqlite', 'emmett-sqlite `getSQLiteEventStore`, one connection'],
    ['waltz-concurrent', `\`getWaltzEventStore\`, ${cfg.concurrency} concurrent command loops`],
  ] as const) {
    const k = key(system)
    if (!m.has(k)) continue
    const r = system === 'sqlite' ? fmtRatio(ratio(m, key('waltz'), k, 'commandsPerSec')) : ''
    p(
      `| ${name} | ${fmt(med(m, k, 'commandsPerSec'))} | ${fmt(med(m, k, 'p50Ms'), 3)} | ${fmt(med(m, k, 'p99Ms'), 3)} | ${fmt(med(m, k, 'commandsPerFsync'), 1)} | ${fmt(rss(m, k))} | ${r} |`,
    )
  }
  p()
}

/** Section 6: `@waltz/eventstore` against core's bare WAL and SQLite, with the targets of the issue. */
function renderEventStore(config: BenchConfig, m: Measured, p: (s?: string) => void): void {
  const es = config.eventstore
  const events = es.streams * es.perStream
  const key = (what: string, system: string) => `eventstore|${what}|${system}`
  const appendRatio = ratio(m, key('append', 'store'), key('append', 'wal'), 'recordsPerSec')
  const readRatio = ratio(m, key('read', 'store'), key('read', 'sqlite'), 'p99Ms', true)
  const readP99 = med(m, key('read', 'store'), 'p99Ms')
  const openRatio = ratio(m, key('open', 'store'), key('open', 'wal'), 'openMs')
  const verdict = (ok: boolean) => (ok ? 'met' : '**not met**')
  const prep = m.get('eventstore|prepare')?.[0]?.metrics ?? {}

  p('## 6. Event store (`@waltz/eventstore`)')
  p()
  p(
    `Events of ${es.size} B (bytes serializer, type \`'e'\`); the store adds the event id and revision as headers.`,
  )
  p('The ratios against the bare WAL are costs of the store (computed within each run, then the median).')
  p()
  p('| measure | figure | target | |')
  p('|---|--:|--:|---|')
  p(
    `| \`appendToStream\` ÷ \`Wal.append\`, ${es.append.concurrency} appenders, \`'always'\`, records/s | ${fmtRatio(appendRatio)} | ≥ 0.70× | ${verdict(appendRatio >= 0.7)} |`,
  )
  p(
    `| \`readStream\` of a ${es.perStream}-event stream, p99 | ${fmt(readP99, 3)} ms | ≤ 1 ms | ${verdict(readP99 <= 1)} |`,
  )
  p(
    `| SQLite p99 ÷ \`readStream\` p99 (same streams) | ${fmtRatio(readRatio)} | ≥ 3× | ${verdict(readRatio >= 3)} |`,
  )
  p(
    `| \`EventStore.open\` (persisted index) ÷ bare \`Wal.open\`, ${bytesLabel(prep['store.bytes'] ?? Number.NaN)} store | ${fmtRatio(openRatio)} | ≤ 3× | ${verdict(openRatio <= 3)} |`,
  )
  p()

  p('### 6.1 Append with an expected revision')
  p()
  p(
    `${es.append.concurrency} appenders loop for ${es.append.durationMs} ms (after a short warm-up), each on its own stream:`,
  )
  p(
    '`appendToStream(stream, [event], { expectedRevision })` with the revision it got back from its previous append,',
  )
  p(
    "against `Wal.append` of the same payload with the stream name as `key` (no headers); both `sync: 'always'`.",
  )
  p()
  p(
    '| system | records/s | p50 ms | p99 ms | records per fdatasync | bytes on disk per record | peak RSS MB | store ÷ this |',
  )
  p('|---|--:|--:|--:|--:|--:|--:|--:|')
  for (const [system, name] of [
    ['store', '`EventStore.appendToStream`, numeric `expectedRevision`'],
    ['wal', '`Wal.append` with a `key`'],
  ] as const) {
    const k = key('append', system)
    const r = system === 'wal' ? fmtRatio(appendRatio) : ''
    p(
      `| ${name} | ${fmt(med(m, k, 'recordsPerSec'))} | ${fmt(med(m, k, 'p50Ms'), 3)} | ${fmt(med(m, k, 'p99Ms'), 3)} | ${fmt(med(m, k, 'recordsPerFsync'), 1)} | ${fmt(med(m, k, 'bytesPerRecord'), 1)} | ${fmt(rss(m, k))} | ${r} |`,
    )
  }
  p()

  p(`### 6.2 \`readStream\` of random streams (${fmt(events)} events)`)
  p()
  p(
    `${fmt(es.streams)} streams of ${es.perStream} events, written round by round (each stream's revision 1, in a shuffled`,
  )
  p(
    "order, then revision 2, ...), so a stream's events are spread over the whole log. The store was written with",
  )
  p(
    `\`appendToStream\` and \`'background'\` (${fmt(prep['store.eventsPerSec'] ?? Number.NaN)} events/s, 1024 appends in flight; ${bytesLabel(prep['store.bytes'] ?? Number.NaN)}, of which the`,
  )
  p(
    `index ${bytesLabel(prep['store.indexBytes'] ?? Number.NaN)}); SQLite holds the same events, in log order, in \`events (stream TEXT, revision INTEGER,`,
  )
  p(
    `position INTEGER, type TEXT, data BLOB, PRIMARY KEY (stream, revision))\`, WAL mode (${fmt(prep['sqlite.eventsPerSec'] ?? Number.NaN)} events/s in`,
  )
  p(
    `transactions of 10,000; ${bytesLabel(prep['sqlite.bytes'] ?? Number.NaN)}). Both read the same random streams one at a time, after ${fmt(es.read.warmup)} warm-up reads`,
  )
  p(
    `(at most ${fmt(es.read.maxMs / 4000, 1)} s), for up to ${fmt(es.read.reads)} reads or ${fmt(es.read.maxMs / 1000, 1)} s (at least ${fmt(es.read.minReads)}, unless that takes over ${fmt((3 * es.read.maxMs) / 1000, 1)} s); a read is timed from the call to its`,
  )
  p(
    'last event, and every event is checked (stream, revision, position). The page cache is warm; the store opens with',
  )
  p('its persisted index (no catch-up).')
  p()
  p('| reader | reads | p50 ms | p99 ms | streams/s | events/s | peak RSS MB | waltz ÷ this (p99) |')
  p('|---|--:|--:|--:|--:|--:|--:|--:|')
  for (const [system, name] of [
    ['store', `\`for await (const e of store.readStream(stream))\``],
    [
      'sqlite',
      '`SELECT revision, position, type, data … WHERE stream = ? ORDER BY revision`, `.raw().all()`',
    ],
  ] as const) {
    const k = key('read', system)
    const r = system === 'sqlite' ? fmtRatio(readRatio) : ''
    p(
      `| ${name} | ${fmt(med(m, k, 'reads'))} | ${fmt(med(m, k, 'p50Ms'), 3)} | ${fmt(med(m, k, 'p99Ms'), 3)} | ${fmt(med(m, k, 'readsPerSec'))} | ${fmt(med(m, k, 'eventsPerSec'))} | ${fmt(rss(m, k))} | ${r} |`,
    )
  }
  p()

  p('### 6.3 Open')
  p()
  p(
    `The ${fmt(events)}-event store after a clean close, opened ${es.opens} times in a fresh process: with its persisted index, and`,
  )
  p(
    'its WAL alone (`Wal.open` of the same directory, same serializer), in every run. The rebuild deletes `<dir>/index`',
  )
  p(
    `before each of ${es.rebuildOpens} open${es.rebuildOpens > 1 ? 's' : ''} of a copy of the store, in the first run only (it takes as long as the rest of this workload).`,
  )
  p(
    '"first" is the process\'s first open (module code loaded, JIT cold), "open" the median of the later ones (the first',
  )
  p(
    'when there is only one); RSS is `process.memoryUsage().rss` right after the first open, and its growth over the RSS',
  )
  p('just before it.')
  p()
  p(
    '| open | first ms | open ms | index catch-up ms | RSS after open MB | RSS growth MB | peak RSS MB | ÷ bare `Wal.open` |',
  )
  p('|---|--:|--:|--:|--:|--:|--:|--:|')
  for (const [system, name] of [
    ['wal', 'bare `Wal.open`'],
    ['store', '`EventStore.open`, persisted index'],
    ['rebuild', '`EventStore.open`, index deleted (full rebuild)'],
  ] as const) {
    const k = key('open', system)
    const r = system === 'wal' ? '' : fmtRatio(ratio(m, k, key('open', 'wal'), 'openMs'))
    const catchUp = system === 'wal' ? '' : fmt(med(m, k, 'catchUpMs'), 1)
    p(
      `| ${name} | ${fmt(med(m, k, 'firstMs'), 1)} | ${fmt(med(m, k, 'openMs'), 1)} | ${catchUp} | ${fmt(med(m, k, 'rssAfterOpenMB'))} | ${fmt(med(m, k, 'rssGrowthMB'))} | ${fmt(rss(m, k))} | ${r} |`,
    )
  }
  p()
}

const escapeXml = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

/** A horizontal bar chart of the ratios on a log scale, bars growing from the 1× line. */
export function renderSvg(config: BenchConfig, m: Measured): string {
  const bars = ratioBars(config, m)
  const width = 980
  const labelWidth = 400
  const x0 = labelWidth + 20
  const x1 = width - 70
  const rowH = 20
  const top = 78
  const values = bars.map((b) => b.value).filter((v) => v > 0)
  // Log domain with room for the value labels beyond the longest bars; ticks at whole decades.
  const lo = Math.log10(Math.min(0.5, ...values)) - 0.45
  const hi = Math.log10(Math.max(2, ...values)) + 0.3
  const x = (v: number) => x0 + ((Math.log10(v) - lo) / (hi - lo)) * (x1 - x0)
  const rows: string[] = []
  let y = top
  let group = ''
  for (const b of bars) {
    if (b.group !== group) {
      group = b.group
      y += 8
      rows.push(`<text x="12" y="${y + 13}" class="group">${escapeXml(group)}</text>`)
      y += rowH
    }
    const v = Math.max(b.value, 10 ** (lo + 0.3))
    const a = x(1)
    const e = x(v)
    const left = Math.min(a, e)
    const w = Math.max(1, Math.abs(e - a))
    const ahead = b.value >= 1
    rows.push(
      `<text x="${labelWidth + 8}" y="${y + 14}" class="label" text-anchor="end">${escapeXml(b.label)}</text>`,
    )
    rows.push(
      `<rect x="${left.toFixed(1)}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowH - 6}" fill="${ahead ? '#2e7d32' : '#c62828'}"/>`,
    )
    const tx = ahead ? e + 4 : e - 4
    rows.push(
      `<text x="${tx.toFixed(1)}" y="${y + 14}" class="value" text-anchor="${ahead ? 'start' : 'end'}">${escapeXml(fmtRatio(b.value))}</text>`,
    )
    y += rowH
  }
  const height = y + 44
  const ticks: string[] = []
  for (let k = Math.ceil(lo); k <= Math.floor(hi); k++) {
    const tx = x(10 ** k).toFixed(1)
    const label = k >= 0 ? `${10 ** k}×` : `${(10 ** k).toFixed(-k)}×`
    ticks.push(`<line x1="${tx}" y1="${top}" x2="${tx}" y2="${y}" class="${k === 0 ? 'one' : 'grid'}"/>`)
    ticks.push(`<text x="${tx}" y="${y + 16}" class="tick" text-anchor="middle">${label}</text>`)
  }
  const title = `waltz ÷ peer: above 1× waltz is better, below 1× behind (median of ${config.runs} run${config.runs > 1 ? 's' : ''}, log scale)`
  const subtitle = `${machineLine()}${config.quick ? ' · quick smoke run, small sizes: not for comparison' : ''}`
  return `<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-labelledby="chart-title" font-family="-apple-system, 'Segoe UI', Helvetica, Arial, sans-serif">
<title id="chart-title">${escapeXml(`${title}. ${subtitle}`)}</title>
<style>
.title { font-size: 16px; font-weight: 600; fill: #111; }
.subtitle { font-size: 12px; fill: #555; }
.group { font-size: 13px; font-weight: 600; fill: #111; }
.label { font-size: 12px; fill: #222; }
.value { font-size: 11px; fill: #111; }
.tick { font-size: 11px; fill: #555; }
.grid { stroke: #ddd; stroke-width: 1; }
.one { stroke: #111; stroke-width: 1.5; }
</style>
<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>
<text x="12" y="26" class="title">${escapeXml(title)}</text>
<text x="12" y="46" class="subtitle">${escapeXml(subtitle)}</text>
<text x="12" y="${height - 10}" class="subtitle">${escapeXml('green: waltz ahead · red: waltz behind · 1× line: parity · see RESULTS.md for the figures')}</text>
${ticks.join('\n')}
${rows.join('\n')}
</svg>
`
}

/** The figure each measurement is compared by across Nodes, the first its results have. */
const HEADLINE: Array<{ metric: string; unit: string; lowerIsBetter: boolean }> = [
  { metric: 'recordsPerSec', unit: 'records/s', lowerIsBetter: false },
  { metric: 'eventsPerSec', unit: 'events/s', lowerIsBetter: false },
  { metric: 'commandsPerSec', unit: 'commands/s', lowerIsBetter: false },
  { metric: 'openMs', unit: 'open ms', lowerIsBetter: true },
  { metric: 'warmMs', unit: 'open ms', lowerIsBetter: true },
  { metric: 'firstRecordMs', unit: 'ms to the first record', lowerIsBetter: true },
  { metric: 'putMBps', unit: 'put MB/s', lowerIsBetter: false },
]

/**
 * The section `pnpm bench --node` adds after the first Node's tables: the chart's waltz ÷ peer ratios on
 * every Node side by side, then each measurement's headline figure on every Node and how the later Nodes
 * compare with the first.
 */
export function renderNodeComparison(config: BenchConfig, nodes: NodeRun[]): string {
  const [first, ...others] = nodes
  if (first === undefined) return ''
  const out: string[] = []
  const p = (s = '') => out.push(s)
  const names = nodes.map((n) => `Node ${n.version}`)
  p(`## Node versions: ${names.join(' and ')}`)
  p()
  p(`The tables above are ${names[0]}'s. Every task also ran with its worker on ${names.slice(1).join(', ')}`)
  p('(`pnpm bench --node <path>`), right after the same task on the first Node; the data sets that replay,')
  p('recovery and the event store read were written once, by the first Node.')
  p()
  p("### waltz ÷ peer on each Node (the summary chart's ratios)")
  p()
  p(`| workload | comparison | ${names.join(' | ')} |`)
  p(`|---|---|${names.map(() => '--:').join('|')}|`)
  const bars = nodes.map((n) => ratioBars(config, n.m))
  for (const [i, bar] of bars[0]!.entries()) {
    const values = bars.map((b) => {
      const same = b[i]
      return same !== undefined && same.label === bar.label ? fmtRatio(same.value) : ''
    })
    p(`| ${bar.group} | ${bar.label} | ${values.join(' | ')} |`)
  }
  p()
  p(
    `### Each measurement on each Node (medians; the last column${others.length > 1 ? 's' : ''}: above 1× is faster than on ${names[0]})`,
  )
  p()
  const vs = others.map((n) => `Node ${n.version} ÷ ${names[0]}`)
  p(`| measurement | figure | ${names.join(' | ')} | ${vs.join(' | ')} |`)
  p(`|---|---|${names.map(() => '--:').join('|')}|${vs.map(() => '--:').join('|')}|`)
  for (const key of first.m.keys()) {
    const runs = first.m.get(key) ?? []
    const headline = HEADLINE.find((h) => runs.some((r) => r !== undefined && h.metric in r.metrics))
    if (headline === undefined) continue
    const { metric, unit, lowerIsBetter } = headline
    const base = med(first.m, key, metric)
    const figures = nodes.map((n) => fmt(med(n.m, key, metric), lowerIsBetter ? 2 : 0))
    const ratios = others.map((n) => {
      const v = med(n.m, key, metric)
      return fmtRatio(lowerIsBetter ? base / v : v / base)
    })
    // The key's own `|` would split the table cell, even inside backticks.
    p(`| ${key.split('|').join(' / ')} | ${unit} | ${figures.join(' | ')} | ${ratios.join(' | ')} |`)
  }
  p()
  return out.join('\n')
}
