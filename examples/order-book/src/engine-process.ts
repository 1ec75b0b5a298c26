// The engine as a process of its own, for the crash demo: recovers the book from --dir, runs the seeded
// flow from where the log ends, and prints `ack <command index> <seq>` on stdout for every command
// once it is durable. The demo SIGKILLs it at a random moment.
import { openEngine } from './engine.js'
import { OrderFlow } from './flow.js'
import { parseOptions } from './options.js'
import { runFlow } from './run.js'

const options = parseOptions(process.argv.slice(2))
if (options.dir === undefined) throw new Error('--dir is required')
const opened = await openEngine({
  dir: options.dir,
  serializer: options.serializer,
  snapshotEvery: options.snapshotEvery,
})
const flow = new OrderFlow({ seed: options.seed })
flow.skip(opened.engine.book.commands)
process.stdout.write(`ready ${opened.recovered.seq}\n`)
await runFlow({
  engine: opened.engine,
  flow,
  total: options.orders,
  clients: options.clients,
  // A pipe on Linux is written synchronously: a printed ack has left the process.
  onAck: (index, ack) => process.stdout.write(`ack ${index} ${ack.seq}\n`),
})
await opened.close()
process.stdout.write('done\n')
