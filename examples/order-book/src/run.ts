import { applyEvent, type Book, emptyBook } from './book.js'
import { decide } from './decide.js'
import type { Ack, Engine } from './engine.js'
import type { OrderFlow } from './flow.js'
import { Latencies } from './stats.js'

/** Options of {@link runFlow}. */
export interface RunOptions {
  engine: Engine
  /** Drawn from in decision order; commands already drawn count towards `total`. */
  flow: OrderFlow
  /** Stop once this many commands of the flow were submitted. */
  total: number
  /** Concurrent clients, each submitting one command at a time. */
  clients: number
  /** Called for each acknowledged command with its index in the flow. */
  onAck?: (index: number, ack: Ack) => void
}

/** What a run did. */
export interface RunResult {
  acked: number
  elapsedMs: number
  /** Submit → durable acknowledgement, per command. */
  latencies: Latencies
}

/**
 * Runs `clients` concurrent clients: each draws the next command and submits it in one synchronous
 * step (so the decision order is the flow's order), awaits the acknowledgement, and repeats.
 *
 * @throws the first submit failure (the engine has then stopped)
 */
export async function runFlow(options: RunOptions): Promise<RunResult> {
  const { engine, flow, total, onAck } = options
  const latencies = new Latencies()
  let acked = 0
  const started = performance.now()
  const client = async (): Promise<void> => {
    while (flow.drawn < total && engine.stopped === undefined) {
      const index = flow.drawn
      const command = flow.next()
      const sent = performance.now()
      const ack = await engine.submit(command)
      latencies.add(performance.now() - sent)
      acked++
      onAck?.(index, ack)
    }
  }
  await Promise.all(Array.from({ length: options.clients }, client))
  return { acked, elapsedMs: performance.now() - started, latencies }
}

/**
 * The book the first `total` commands of a flow give without any WAL: decide + apply in memory. The
 * reference a durable run, crashed or not, must end up identical to.
 */
export function simulateFlow(flow: OrderFlow, total: number): Book {
  const book = emptyBook()
  while (flow.drawn < total) for (const event of decide(book, flow.next())) applyEvent(book, event)
  return book
}
