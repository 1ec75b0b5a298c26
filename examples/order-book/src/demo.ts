// The order-book demo: a seeded order flow from 64 concurrent clients through the engine on a WAL in
// 'always' mode (group commit), snapshots along the way, then a restart from disk, from the newest
// snapshot and from zero, both checked to give the very book the engine held in memory.
// With --crash the engine first runs in a child process that is SIGKILLed mid-run.
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { Wal } from '@waltz/core'
import { recover, SnapshotStore } from '@waltz/snapshot'
import { applyEvent, type Book, emptyBook, hashBook, orderBook } from './book.js'
import { dataDirs, type OpenedEngine, openEngine } from './engine.js'
import { REJECT_BAD_PRICE, REJECT_BAD_QUANTITY, REJECT_UNKNOWN_ORDER } from './events.js'
import { OrderFlow, prng } from './flow.js'
import { checkBook } from './invariants.js'
import { type DemoOptions, parseOptions, USAGE } from './options.js'
import { Progress } from './progress.js'
import { runFlow, simulateFlow } from './run.js'
import { type OrderRecord, serializers } from './serializers.js'
import { bytes, duration, int } from './stats.js'

let options: DemoOptions
try {
  options = parseOptions(process.argv.slice(2))
} catch (err) {
  console.error(`${(err as Error).message}\n\n${USAGE}`)
  process.exit(2)
}
if (options.help) {
  console.log(USAGE)
  process.exit(0)
}

const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'waltz-order-book-'))
const dirs = dataDirs(dir)
let ok = true

/** Prints a result line; a failed check makes the demo exit with 1. */
function check(passed: boolean, line: string): void {
  if (!passed) ok = false
  console.log(`${passed ? '✔' : '✘'} ${line}`)
}

/** The size of the WAL's files. */
function walBytes(): number {
  let sum = 0
  for (const name of readdirSync(dirs.wal)) sum += statSync(join(dirs.wal, name)).size
  return sum
}

/**
 * The crash demo: the engine runs in a child process, printing an ack per durable command; it is
 * SIGKILLed after a random number of acks. The book is then recovered here and checked to hold every
 * acknowledged command.
 */
async function crashRun(): Promise<OpenedEngine> {
  const script = fileURLToPath(new URL('./engine-process.js', import.meta.url))
  if (!existsSync(script)) throw new Error(`${script} is missing: run \`pnpm build\` first`)
  const killAt = Math.floor(options.orders * (0.2 + prng(options.seed ^ 0x5eed)() * 0.5))
  const args = ['--dir', dir, '--orders', String(options.orders), '--seed', String(options.seed)]
  args.push('--clients', String(options.clients), '--serializer', options.serializer)
  args.push('--snapshot-every', String(options.snapshotEvery))
  const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.once('exit', (code, signal) => resolve([code, signal])),
  )
  let acked = 0
  let lastIndex = -1
  let lastSeq = 0
  let inOrder = true
  let killedAfter = 0
  const progress = new Progress('engine process', options.orders, () => acked)
  for await (const line of createInterface({ input: child.stdout })) {
    const [word, a, b] = line.split(' ')
    if (word !== 'ack') continue
    const index = Number(a)
    const seq = Number(b)
    inOrder &&= index === lastIndex + 1 && seq > lastSeq
    acked++
    lastIndex = index
    lastSeq = seq
    if (killedAfter === 0 && acked >= killAt) {
      child.kill('SIGKILL')
      killedAfter = acked
    }
  }
  const [code, signal] = await exited
  progress.stop()
  console.log(
    `crash      engine process (pid ${child.pid}) SIGKILLed after ${int(killedAfter)} acks; ${int(acked)} commands acknowledged in all, the last at seq ${int(lastSeq)}`,
  )
  if (signal !== 'SIGKILL')
    throw new Error(`the engine process was not killed (exit code ${code}, ${signal})`)

  const opened = await openEngine({
    dir,
    serializer: options.serializer,
    snapshotEvery: options.snapshotEvery,
  })
  const { recovered, wal } = opened
  const book = opened.engine.book
  const cut = wal.recovery.truncatedBytes
  console.log(
    `recovered  seq ${int(recovered.seq)} in ${duration(recovered.durationMs)}: snapshot at seq ${int(recovered.snapshotSeq)} + ${int(recovered.replayed)} events${cut > 0 ? `; a torn tail of ${int(cut)} bytes was cut` : '; no torn tail'}`,
  )
  check(inOrder, 'acknowledgements arrived in decision order (command i acked after i-1, seqs ascending)')
  check(
    recovered.seq >= lastSeq && book.commands >= acked,
    `every acknowledged command survived: ${int(acked)} acked ≤ ${int(book.commands)} recovered (${int(book.commands - acked)} more were durable but not yet acknowledged when killed)`,
  )
  const problems = checkBook(book)
  check(
    problems.length === 0,
    `recovered book is sound${problems.length > 0 ? `: ${problems.join('; ')}` : ''}`,
  )
  return opened
}

/** Runs the flow to `options.orders` commands on an engine in this process; returns the book's hash. */
async function mainRun(opened: OpenedEngine): Promise<{ hash: string; book: Book }> {
  const { engine, wal } = opened
  const from = engine.book.commands
  const flow = new OrderFlow({ seed: options.seed })
  flow.skip(from)
  const before = { ...engine.book.totals }
  const progress = new Progress(
    from > 0 ? 'resuming    ' : 'running',
    options.orders - from,
    () => flow.drawn - from,
  )
  const rejects = [0, 0, 0, 0] // by OrderRejected.code
  let result: Awaited<ReturnType<typeof runFlow>>
  try {
    result = await runFlow({
      engine,
      flow,
      total: options.orders,
      clients: options.clients,
      onAck: (_, ack) => {
        const first = ack.events[0]!
        if (first.type === 'OrderRejected') rejects[first.data.code]!++
      },
    })
  } finally {
    progress.stop()
  }
  const book = engine.book
  const hash = hashBook(book)
  const m = wal.metrics()
  await opened.close()
  const seconds = result.elapsedMs / 1000
  const t = book.totals
  const started = from > 0 ? ` (resumed at command ${int(from)})` : ''
  console.log(
    `run        ${int(result.acked)} commands${started} from ${options.clients} clients in ${seconds.toFixed(2)} s: ${int(result.acked / seconds)} orders/s`,
  )
  console.log(
    `trades     ${int(t.trades - before.trades)} (${int(t.traded - before.traded)} lots); ${int(t.rejected - before.rejected)} commands rejected: ${int(rejects[REJECT_UNKNOWN_ORDER]!)} cancels of orders already gone, ${int(rejects[REJECT_BAD_PRICE]! + rejects[REJECT_BAD_QUANTITY]!)} bad prices or quantities`,
  )
  console.log(
    `book       ${int(book.orders.size)} resting orders on ${book.bids.length} bid and ${book.asks.length} ask levels, best bid ${book.bids[0]?.price ?? '-'}, best ask ${book.asks[0]?.price ?? '-'}`,
  )
  console.log(
    `latency    submit → durable ack p50 ${duration(result.latencies.percentile(50))}, p99 ${duration(result.latencies.percentile(99))} (fdatasync p50 ${duration(m.fsyncLatencyMs.p50)}, p99 ${duration(m.fsyncLatencyMs.p99)})`,
  )
  console.log(
    `WAL        ${int(m.lastSeq)} events, ${bytes(walBytes())} in ${m.segments} segment${m.segments === 1 ? '' : 's'}; ${int(m.fsyncs)} fdatasyncs for ${int(result.acked)} acknowledged batches (group commit: ${(result.acked / Math.max(1, m.fsyncs)).toFixed(1)} per fsync)`,
  )
  const snapshots = readdirSync(dirs.snapshots).filter((f) => f.endsWith('.snap')).length
  console.log(
    `snapshots  ${engine.snapshotsStarted} taken (every ${int(options.snapshotEvery)} events), ${snapshots} kept${snapshots > 0 ? `, newest at seq ${int(opened.snapshotter.lastSnapshotSeq)}` : ''}`,
  )
  const problems = checkBook(book)
  check(problems.length === 0, `book invariants hold${problems.length > 0 ? `: ${problems.join('; ')}` : ''}`)
  return { hash, book }
}

/** Records read back by {@link busiestRecentOrder}. */
const RECENT_RECORDS = 1000

/**
 * The order with the most events among the last records, and those events: a read-only `WalReader`
 * (no lock, nothing changed on disk) groups them by record key, the id of the order each command was
 * about.
 */
async function busiestRecentOrder(): Promise<string> {
  const reader = await Wal.openReader({ dir: dirs.wal, serializer: serializers[options.serializer]() })
  const byKey = new Map<string, string[]>()
  try {
    const from = Math.max(reader.firstSeq, reader.lastSeq - RECENT_RECORDS + 1)
    for await (const record of reader.records({ from })) {
      if (record.key === undefined) continue // a rejected new order: it never got an id
      const types = byKey.get(record.key) ?? []
      types.push(record.type)
      byKey.set(record.key, types)
    }
  } finally {
    await reader.close()
  }
  let busiest: [string, string[]] | undefined
  for (const entry of byKey) if (busiest === undefined || entry[1].length > busiest[1].length) busiest = entry
  if (busiest === undefined) return 'no keyed records'
  const [key, types] = busiest
  const runs: string[] = []
  for (let i = 0; i < types.length; ) {
    let n = 1
    while (types[i + n] === types[i]) n++
    runs.push(n > 1 ? `${types[i]} ×${n}` : types[i]!)
    i += n
  }
  return `order ${key}: ${runs.join(', ')} (its records among the last ${int(RECENT_RECORDS)}, by record key, read with Wal.openReader)`
}

/** Cold restarts: from the newest snapshot plus the WAL after it, and from zero. */
async function restarts(inMemory: string): Promise<void> {
  const serializer = serializers[options.serializer]
  let started = performance.now()
  const wal = await Wal.open({ dir: dirs.wal, serializer: serializer() })
  const store = await SnapshotStore.open<Book>({ dir: dirs.snapshots })
  const fromSnapshot = await recover<OrderRecord, Book>({ wal, store, aggregate: orderBook })
  const snapshotMs = performance.now() - started
  await wal.close()
  const snapshotHash = hashBook(fromSnapshot.state)

  started = performance.now()
  const wal2 = await Wal.open({ dir: dirs.wal, serializer: serializer() })
  const book = emptyBook()
  const replayed = await wal2.replayFrom(0, (record) => {
    applyEvent(book, record)
  })
  const zeroMs = performance.now() - started
  await wal2.close()
  const zeroHash = hashBook(book)

  const speedup = fromSnapshot.snapshotSeq > 0 ? `: ${(zeroMs / snapshotMs).toFixed(1)}× faster` : ''
  console.log(
    `restart    from snapshot ${duration(snapshotMs)} (${fromSnapshot.snapshotSeq > 0 ? `snapshot at seq ${int(fromSnapshot.snapshotSeq)}` : 'no snapshot yet'} + ${int(fromSnapshot.replayed)} events) vs from zero ${duration(zeroMs)} (${int(replayed)} events)${speedup}`,
  )
  console.log(`by key     ${await busiestRecentOrder()}`)
  const reference = hashBook(simulateFlow(new OrderFlow({ seed: options.seed }), options.orders))
  check(
    snapshotHash === inMemory && zeroHash === inMemory,
    `recovered book identical to the in-memory one: sha256 ${inMemory.slice(0, 16)}… (snapshot restart ${snapshotHash === inMemory ? '=' : `≠ ${snapshotHash.slice(0, 16)}…`}, replay from zero ${zeroHash === inMemory ? '=' : `≠ ${zeroHash.slice(0, 16)}…`})`,
  )
  check(
    reference === inMemory,
    `same book as the flow decided in memory without a WAL (seed ${options.seed}: reproducible)${options.crash ? ', so the crash lost and duplicated nothing' : ''}`,
  )
}

try {
  console.log(
    `order-book demo: ${int(options.orders)} commands, seed ${options.seed}, ${options.clients} clients, serializer ${serializers[options.serializer]().name}, WAL sync 'always'${options.dir === undefined ? '' : `, data in ${dir}`}`,
  )
  const opened = options.crash ? await crashRun() : await openEngine({ ...options, dir })
  const { hash } = await mainRun(opened)
  await restarts(hash)
} catch (err) {
  ok = false
  console.error(err)
} finally {
  if (options.dir === undefined) rmSync(dir, { recursive: true, force: true })
}
process.exitCode = ok ? 0 : 1
