// Append and replay throughput of @waltz/core for 100-byte records, against plain node:fs doing the
// same physical work in the same run. Runs against the build: `pnpm bench:core` (builds first).
// Options: --records N (default 200000), --dir PATH (default a temp dir).
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { Wal } from '../dist/index.js'

const { values } = parseArgs({ options: { records: { type: 'string' }, dir: { type: 'string' } } })
const N = Number(values.records ?? 200_000)
const root = values.dir ?? mkdtempSync(join(tmpdir(), 'waltz-bench-'))
const data = new Uint8Array(100).fill(7)
let run = 0
const fresh = () => join(root, `run-${run++}`)
const rate = (n, ms) => Math.round((n / ms) * 1000)
const rows = []
const report = (name, n, ms, extra = '') => {
  rows.push({ name, perSec: rate(n, ms), ms: Math.round(ms), extra })
  console.log(`${name.padEnd(52)} ${String(rate(n, ms)).padStart(10)} rec/s  ${extra}`)
}

async function appendSerial(sync, n) {
  const wal = await Wal.open({ dir: fresh(), sync })
  const t = performance.now()
  for (let i = 0; i < n; i++) await wal.append({ type: 'e', time: i, data })
  await wal.sync()
  const ms = performance.now() - t
  const m = wal.metrics()
  await wal.close()
  return { ms, m }
}

async function appendConcurrent(sync, n, appenders) {
  const wal = await Wal.open({ dir: fresh(), sync })
  let next = 0
  const t = performance.now()
  await Promise.all(
    Array.from({ length: appenders }, async () => {
      while (next < n) {
        next++
        await wal.append({ type: 'e', time: next, data })
      }
    }),
  )
  const ms = performance.now() - t
  const m = wal.metrics()
  await wal.close()
  return { ms, m }
}

function fsSequential(n, frameSize, syncEach) {
  const fd = openSync(join(root, `fs-${run++}`), 'w')
  const frame = Buffer.alloc(frameSize, 7)
  const chunk = Buffer.alloc(frameSize * 1024, 7)
  const t = performance.now()
  if (syncEach) {
    for (let i = 0; i < n; i++) {
      writeSync(fd, frame)
      fdatasyncSync(fd)
    }
  } else {
    for (let i = 0; i < n; i += 1024) writeSync(fd, chunk)
    fdatasyncSync(fd)
  }
  const ms = performance.now() - t
  closeSync(fd)
  return ms
}

console.log(
  `node ${process.version}, ${cpus().length} x ${cpus()[0]?.model}, ${N} records of 100 bytes, dir ${root}\n`,
)
const frameSize = 20 + 9 + 1 + 100 // frame header + bytesSerializer header + type 'e' + data

const osCache = await appendSerial('os-cache', N)
report("waltz append, 'os-cache', 1 appender (await each)", N, osCache.ms)
const background = await appendSerial('background', N)
report("waltz append, 'background', 1 appender (await each)", N, background.ms)
const burst = await appendConcurrent('os-cache', N, 256)
report("waltz append, 'os-cache', 256 concurrent appenders", N, burst.ms)
const fsBuffered = fsSequential(N, frameSize, false)
report('node:fs, pre-encoded frames in 128 KiB writes + 1 fdatasync', N, fsBuffered)
console.log(`  -> waltz 'background' / node:fs buffered: ${(fsBuffered / background.ms).toFixed(2)}`)

const durableN = Math.min(N, 5000)
const always1 = await appendSerial('always', durableN)
report("waltz append, 'always', 1 appender", durableN, always1.ms, `${always1.m.fsyncs} fsyncs`)
const fsDurable = fsSequential(durableN, frameSize, true)
report('node:fs, write + fdatasync per record', durableN, fsDurable)
console.log(
  `  -> waltz 'always' 1 appender / node:fs per-record fsync: ${(fsDurable / always1.ms).toFixed(2)}`,
)
for (const appenders of [16, 256]) {
  const n = Math.min(N, 50_000)
  const r = await appendConcurrent('always', n, appenders)
  report(`waltz append, 'always', ${appenders} concurrent appenders`, n, r.ms, `${r.m.fsyncs} fsyncs`)
}

// Replay: the log written by the serial os-cache run above holds N records.
const replayDir = join(root, 'replay')
{
  const wal = await Wal.open({ dir: replayDir, sync: 'background' })
  for (let i = 0; i < N; i += 1000) {
    await wal.appendBatch(
      Array.from({ length: Math.min(1000, N - i) }, (_, k) => ({ type: 'e', time: i + k, data })),
    )
  }
  await wal.close()
}
{
  const wal = await Wal.openReader({ dir: replayDir })
  let t = performance.now()
  let bytes = 0
  const count = await wal.replayFrom(0, (r) => {
    bytes += r.data.byteLength
  })
  report(
    'waltz replayFrom(0), decoded (bytesSerializer)',
    count,
    performance.now() - t,
    `${bytes} data bytes`,
  )
  t = performance.now()
  let n = 0
  for await (const _ of wal.records()) n++
  report('waltz records() async iteration', n, performance.now() - t)
  await wal.close()
}
if (values.dir === undefined) rmSync(root, { recursive: true, force: true })
