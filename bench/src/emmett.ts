/**
 * Workload 7: the emmett adapter (`@waltz/emmett`) against emmett's own SQLite store
 * (`@event-driven-io/emmett-sqlite`), both driven by emmett's `CommandHandler`: each command aggregates
 * its stream, decides one event and appends it with the version it read as the expected one. Commands
 * go round-robin over `streams` streams until each holds `perStream` events, so both stores do the same
 * work on streams of the same lengths. Both are durable per command: waltz `sync: 'always'` (the append
 * resolves after its fdatasync) and SQLite as emmett-sqlite configures it, WAL journal with the default
 * `synchronous=FULL` (a WAL sync on every commit), which the task reads back from the connection it
 * measured and reports.
 */
import { join } from 'node:path'
import { CommandHandler, type EventStore as EmmettEventStore, type Event } from '@event-driven-io/emmett'
import { getSQLiteEventStore, sqliteConnection } from '@event-driven-io/emmett-sqlite'
import { getWaltzEventStore } from '@waltz/emmett'
import { EventStore } from '@waltz/eventstore'
import { jsonSerializer } from '@waltz/serializer-json'
import { z } from 'zod'
import { MAX_LATENCIES, type Metrics, num, type Params, quantile, str } from './common.js'

type ItemAdded = Event<'ItemAdded', { productId: string; quantity: number; price: number }>
type Cart = { items: number; total: number }

const evolve = (cart: Cart, { data }: ItemAdded): Cart => ({
  items: cart.items + data.quantity,
  total: cart.total + data.quantity * data.price,
})
const initialState = (): Cart => ({ items: 0, total: 0 })
// No retry: streams are never written by two commands at once here, so a conflict would be a bug.
const handle = CommandHandler<Cart, ItemAdded>({ evolve, initialState })
const quantityOf = (command: number) => 1 + (command % 5)
/** Every item's price: the final check expects a cart's total to be its items times this. */
const PRICE = 10
const decide =
  (command: number) =>
  (_cart: Cart): ItemAdded => ({
    type: 'ItemAdded',
    data: { productId: `p-${command & 15}`, quantity: quantityOf(command), price: PRICE },
  })

const schemas = {
  ItemAdded: z.object({ productId: z.string(), quantity: z.int().positive(), price: z.number() }),
}

interface System {
  store: EmmettEventStore
  close: () => Promise<void>
  metrics: () => Metrics
  /** Settings of the measured store to report, read before it closes. */
  settings: () => Promise<Metrics>
}

async function openSystem(dir: string, system: string): Promise<System> {
  if (system === 'waltz' || system === 'waltz-concurrent') {
    const waltz = await EventStore.open({
      dir: join(dir, 'waltz'),
      serializer: jsonSerializer({ schemas }),
      sync: 'always',
    })
    return {
      store: getWaltzEventStore({ eventStore: waltz }),
      close: () => waltz.close(),
      metrics: () => ({ fsyncs: waltz.wal.metrics().fsyncs }),
      settings: async () => ({}),
    }
  }
  if (system === 'sqlite') {
    // One connection for the whole run, through emmett-sqlite's `singleton` option (safe: commands run
    // one at a time). Its default for a file, a connection per operation (`getSQLiteEventStore({
    // fileName })`), is slower and hit an uncaught `SQLITE_BUSY: cannot commit transaction - SQL
    // statements in progress` during development (emmett-sqlite 0.42.4).
    const fileName = join(dir, 'events.sqlite')
    const connection = sqliteConnection({ fileName })
    // emmett-sqlite issues `PRAGMA journal_mode = WAL` without waiting for it, and a statement racing it
    // can make it fail silently (the store then runs with a rollback journal: seen in about one run of
    // six here). Set it again and wait, so every run measures the configuration emmett-sqlite intends.
    await connection.querySingle('PRAGMA journal_mode = WAL')
    const store = getSQLiteEventStore({ fileName, connectionOptions: { singleton: true, connection } })
    return {
      store,
      close: async () => connection.close(),
      metrics: () => ({}),
      settings: async () => ({ sqliteSynchronous: await sqliteSynchronous(connection) }),
    }
  }
  throw new Error(`unknown emmett system ${system}`)
}

/** SQLite's `synchronous` setting on the connection the run used (2 = FULL); checks WAL mode too. */
async function sqliteSynchronous(connection: ReturnType<typeof sqliteConnection>): Promise<number> {
  const row = await connection.querySingle<{ synchronous: number }>('PRAGMA synchronous')
  const mode = await connection.querySingle<{ journal_mode: string }>('PRAGMA journal_mode')
  if (mode?.journal_mode !== 'wal') throw new Error(`emmett-sqlite journal mode is ${mode?.journal_mode}`)
  return row?.synchronous ?? Number.NaN
}

/** Task `emmett-commands`: one system's run of the command workload. */
export async function emmettCommands(dir: string, p: Params): Promise<Metrics> {
  const system = str(p, 'system')
  const streams = num(p, 'streams')
  const perStream = num(p, 'perStream')
  const warmup = num(p, 'warmup')
  const concurrency = system === 'waltz-concurrent' ? num(p, 'concurrency') : 1
  if (concurrency > streams) throw new Error('concurrency above the stream count would race on a stream')
  const { store, close, metrics, settings } = await openSystem(dir, system)
  // Untimed: the same commands on other streams (JIT, SQLite schema creation, file creation).
  for (let i = 0; i < warmup; i++) await handle(store, `warm-${i % 4}`, decide(i))
  const total = streams * perStream
  const latencies = new Float64Array(Math.min(total, MAX_LATENCIES))
  const before = metrics()
  let next = 0
  const start = performance.now()
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      // Command i goes to stream i % streams: `concurrency` loops never share a stream at once.
      for (let i = next++; i < total; i = next++) {
        const t = performance.now()
        const result = await handle(store, `cart-${i % streams}`, decide(i))
        latencies[i] = performance.now() - t
        if (result.nextExpectedStreamVersion !== BigInt(Math.floor(i / streams) + 1)) {
          throw new Error(`${system}: command ${i} got version ${result.nextExpectedStreamVersion}`)
        }
      }
    }),
  )
  const ms = performance.now() - start
  const after = metrics()
  // Every stream must hold exactly its commands' events, in a state both stores agree on.
  for (let s = 0; s < streams; s++) {
    const { state, currentStreamVersion } = await store.aggregateStream<Cart, ItemAdded>(`cart-${s}`, {
      evolve,
      initialState,
    })
    let items = 0
    for (let k = 0; k < perStream; k++) items += quantityOf(s + k * streams)
    if (
      currentStreamVersion !== BigInt(perStream) ||
      state.items !== items ||
      state.total !== items * PRICE
    ) {
      throw new Error(`${system}: cart-${s} is at ${currentStreamVersion} with ${state.items} items`)
    }
  }
  const configured = await settings()
  await close()
  const out: Metrics = {
    ...configured,
    commands: total,
    ms,
    commandsPerSec: (total / ms) * 1000,
    p50Ms: quantile(latencies, total, 0.5),
    p99Ms: quantile(latencies, total, 0.99),
  }
  if (after.fsyncs !== undefined && before.fsyncs !== undefined) {
    out.commandsPerFsync = total / (after.fsyncs - before.fsyncs)
  }
  return out
}
