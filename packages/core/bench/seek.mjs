// Point reads by seq: 20 random seqs from a log of 1M records of 100 bytes (10 MiB segments), read with
// recordsAt, one by one with records({ from: s, to: s }), and by plain node:fs doing the same opens and
// reads (the floor of the access pattern). With --baseline, the one-by-one reads and full replays
// (each build's in a process of its own, alternating) also run against another build of @waltz/core
// (say, the commit before the seek index) on the same log in the same run.
// Runs against the build: `npx tsc -b && node packages/core/bench/seek.mjs`.
// Options: --records N (default 1000000), --samples N (default 2000), --batch N (records per append,
// default 1), --baseline PATH (another build's dist/index.js), --dir PATH (default a temp dir; a log
// already there is reused).
import { execFileSync } from 'node:child_process'
import { close, existsSync, mkdtempSync, open, read, readdirSync, rmSync, statSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs, promisify } from 'node:util'
import { seededRandom } from '../../../test-support/random.mjs'
import { Wal } from '../dist/index.js'

const { values } = parseArgs({
  options: {
    records: { type: 'string' },
    samples: { type: 'string' },
    batch: { type: 'string' },
    baseline: { type: 'string' },
    dir: { type: 'string' },
  },
})
const N = Number(values.records ?? 1_000_000)
const SAMPLES = Number(values.samples ?? 2000)
const BATCH = Number(values.batch ?? 1)
const PER_CALL = 20
const root = values.dir ?? mkdtempSync(join(tmpdir(), 'waltz-seek-'))
const dir = join(root, 'log')
const baselineUrl = values.baseline === undefined ? undefined : pathToFileURL(resolve(values.baseline)).href
const baseline = baselineUrl === undefined ? undefined : await import(baselineUrl)

console.log(
  `node ${process.version}, ${cpus().length} x ${cpus()[0]?.model}, ${N} records of 100 bytes, ` +
    `${BATCH} per append, 10 MiB segments, ${PER_CALL} seqs per read, dir ${root}\n`,
)

// The log: concurrent appenders, so writes carry many one-record batches, as an event store's do. A
// --dir that already holds the log is reused.
if (!existsSync(dir)) {
  const wal = await Wal.open({ dir, sync: 'os-cache' })
  const data = new Uint8Array(100).fill(7)
  let next = 0
  const t = performance.now()
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < N) {
        const n = Math.min(BATCH, N - next)
        next += n
        const records = Array.from({ length: n }, (_, k) => ({ type: 'e', key: `s${next + k}`, data }))
        await wal.appendBatch(records)
      }
    }),
  )
  const m = wal.metrics()
  await wal.close()
  console.log(
    `wrote ${m.lastSeq} records, ${(m.bytes / 2 ** 20).toFixed(0)} MiB in ${m.segments} segments ` +
      `in ${Math.round(performance.now() - t)} ms`,
  )
}

const random = seededRandom(1)
const randomSeqs = () => Array.from({ length: PER_CALL }, () => 1 + Math.floor(random() * N))
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
function report(name, times) {
  const s = [...times].sort((a, b) => a - b)
  const f = (ms) => `${ms.toFixed(3)} ms`.padStart(11)
  console.log(
    `${name.padEnd(58)} p50 ${f(percentile(s, 50))}  p99 ${f(percentile(s, 99))}  max ${f(s[s.length - 1])}  (${s.length} samples)`,
  )
}
async function time(samples, read) {
  const times = []
  for (let i = 0; i < samples; i++) {
    const seqs = randomSeqs()
    const t = performance.now()
    const got = await read(seqs)
    times.push(performance.now() - t)
    for (let k = 0; k < PER_CALL; k++) {
      if (got[k].seq !== seqs[k]) throw new Error(`asked for seq ${seqs[k]}, got ${got[k].seq}`)
    }
  }
  return times
}
const oneByOne = (reader) => async (seqs) => {
  const out = []
  for (const s of seqs) for await (const r of reader.records({ from: s, to: s })) out.push(r)
  return out
}
/**
 * Full-scan records/s of a build, best of 3, in a process of its own (two builds in one process slow
 * each other): replayFrom(0) and async iteration of records().
 */
function fullScans(build) {
  const code = `const { Wal } = await import(${JSON.stringify(build)}); const best = [0, 0];
    for (let i = 0; i < 3; i++) {
      const r = await Wal.openReader({ dir: ${JSON.stringify(dir)} });
      let t = performance.now();
      const n = await r.replayFrom(0, () => {});
      best[0] = Math.max(best[0], Math.round((n / (performance.now() - t)) * 1000));
      t = performance.now();
      let m = 0;
      for await (const _ of r.records()) m++;
      best[1] = Math.max(best[1], Math.round((m / (performance.now() - t)) * 1000));
      await r.close();
    }
    console.log(JSON.stringify(best))`
  return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8' }))
}
const current = new URL('../dist/index.js', import.meta.url).href

// Every file in the page cache before anything is timed.
fullScans(current)

{
  const reader = await Wal.openReader({ dir })
  report('recordsAt, first call (no index yet)', await time(1, (seqs) => reader.recordsAt(seqs)))
  // Warm: every segment indexed to its end (one read reaching into each), then some calls.
  const t = performance.now()
  await reader.recordsAt(Array.from({ length: Math.ceil(N / 1000) }, (_, i) => Math.min(N, (i + 1) * 1000)))
  console.log(`indexing the whole log: ${Math.round(performance.now() - t)} ms`)
  await time(200, (seqs) => reader.recordsAt(seqs))
  for (let round = 0; round < 2; round++) {
    report('recordsAt (warm)', await time(SAMPLES, (seqs) => reader.recordsAt(seqs)))
    report('recordsAtRaw (warm)', await time(SAMPLES, (seqs) => reader.recordsAtRaw(seqs)))
  }
  report('records({ from: s, to: s }) per seq (warm)', await time(Math.min(SAMPLES, 200), oneByOne(reader)))
  await reader.close()
}
{
  // The floor of this access pattern with node:fs: per call, each segment holding a wanted seq opened
  // once (in parallel), one 8 KiB read per seq at a random offset in it, closed.
  const segments = readdirSync(dir)
    .filter((n) => n.endsWith('.wal'))
    .sort()
    .map((n) => ({ path: join(dir, n), firstSeq: Number(n.slice(0, 20)), size: statSync(join(dir, n)).size }))
  const segmentOf = (seq) => segments.findLast((s) => s.firstSeq <= seq)
  const fsRead = async (seqs) => {
    const groups = new Map()
    for (const seq of seqs) {
      const segment = segmentOf(seq)
      groups.set(segment, [...(groups.get(segment) ?? []), seq])
    }
    await Promise.all(
      [...groups].map(async ([segment, group]) => {
        const fd = await promisify(open)(segment.path, 'r')
        for (const _ of group) {
          const at = Math.floor(random() * (segment.size - 8192))
          await promisify(read)(fd, Buffer.allocUnsafe(8192), 0, 8192, at)
        }
        close(fd, () => {})
      }),
    )
    return seqs.map((seq) => ({ seq }))
  }
  await time(200, fsRead)
  report('node:fs: the same opens, 8 KiB reads, closes', await time(SAMPLES, fsRead))
}
if (baseline) {
  const reader = await baseline.Wal.openReader({ dir })
  await time(3, oneByOne(reader))
  report('baseline: records({ from: s, to: s }) per seq', await time(50, oneByOne(reader)))
  await reader.close()
}

// Full-scan throughput, alternating builds (and which goes first) so both see the same machine state.
const rates = { current: [], baseline: [] }
for (let round = 0; round < 6; round++) {
  const order = round % 2 === 0 ? ['current', 'baseline'] : ['baseline', 'current']
  for (const name of order) {
    if (name === 'current') rates.current.push(fullScans(current))
    else if (baseline) rates.baseline.push(fullScans(baselineUrl))
  }
}
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]
for (const [name, runs] of Object.entries(rates)) {
  if (runs.length === 0) continue
  const replays = runs.map((r) => r[0])
  const iterations = runs.map((r) => r[1])
  console.log(
    `${name}: replayFrom(0) median ${median(replays)} rec/s (${replays.join(', ')}); ` +
      `records() median ${median(iterations)} rec/s (${iterations.join(', ')})`,
  )
}
if (values.dir === undefined) rmSync(root, { recursive: true, force: true })
