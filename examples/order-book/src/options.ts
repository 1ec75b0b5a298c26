import { parseArgs } from 'node:util'
import { engineSerializer, type SerializerName, serializers } from './serializers.js'

/** The demo's options (the crash demo's engine process takes the same ones). */
export interface DemoOptions {
  orders: number
  dir: string | undefined
  seed: number
  clients: number
  crash: boolean
  serializer: SerializerName
  snapshotEvery: number
  help: boolean
}

export const DEFAULT_ORDERS = 400_000

export const USAGE = `Usage: node examples/order-book/dist/demo.js [options]

Runs a seeded order flow through the order-book engine on a waltz WAL ('always' mode, group commit),
takes snapshots, restarts from disk and checks the recovered book is identical to the in-memory one.

  --orders N           commands in the flow (orders, cancels, a few invalid ones) (default ${DEFAULT_ORDERS.toLocaleString('en-US')})
  --dir PATH           data directory (default: a temporary one, removed at the end)
  --seed N             seed of the order flow (default 1)
  --clients N          concurrent clients submitting commands (default 64)
  --crash              run the engine in a child process, SIGKILL it mid-run, recover, check nothing
                       acknowledged was lost, then finish the flow
  --serializer NAME    ${Object.keys(serializers).join(' or ')} (default ${engineSerializer}, set in src/serializers.ts)
  --snapshot-every N   events between snapshots (default 10,000)
  -h, --help           this help`

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback
  const n = Number(value.replaceAll('_', ''))
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${value}`)
  return n
}

/** Parses `argv` (without node and the script). @throws Error with a message for the user */
export function parseOptions(argv: string[]): DemoOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      orders: { type: 'string' },
      dir: { type: 'string' },
      seed: { type: 'string' },
      clients: { type: 'string' },
      crash: { type: 'boolean', default: false },
      serializer: { type: 'string' },
      'snapshot-every': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  })
  const serializer = values.serializer ?? engineSerializer
  if (!Object.hasOwn(serializers, serializer)) {
    throw new Error(`--serializer must be one of ${Object.keys(serializers).join(', ')}, got ${serializer}`)
  }
  return {
    orders: positiveInt('orders', values.orders, DEFAULT_ORDERS),
    dir: values.dir,
    seed: positiveInt('seed', values.seed, 1),
    clients: positiveInt('clients', values.clients, 64),
    crash: values.crash,
    serializer: serializer as SerializerName,
    snapshotEvery: positiveInt('snapshot-every', values['snapshot-every'], 10_000),
    help: values.help,
  }
}
