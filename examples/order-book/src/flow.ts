// A seeded, reproducible order flow. It never looks at the book: the same seed always gives the same
// commands in the same order, and the engine decides them in the order they are drawn, so a run is
// reproducible down to the book's hash, whatever the timing of the WAL or of the clients.
import { BUY, type Command, SELL, type Side } from './events.js'

/** mulberry32: a small, fast 32-bit PRNG; plenty for a synthetic order flow. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Knobs of the flow, as probabilities per command. */
export interface FlowOptions {
  seed: number
  /** Share of cancels (default 0.28). */
  cancel?: number
  /** Share of market orders (default 0.06). */
  market?: number
  /** Share of limit orders priced through the opposite side (default 0.12). */
  aggressive?: number
  /** Share of invalid commands: bad prices and quantities (default 0.005). */
  invalid?: number
  /** Starting mid price in ticks (default 10,000). */
  mid?: number
  /** Accounts the orders come from (default 250). */
  accounts?: number
}

/**
 * An endless stream of commands: passive limit orders a few ticks either side of a random-walking mid,
 * some aggressive limits and market orders that trade, cancels of recent orders (some of which have
 * already filled: rejected as unknown, as in a real market), and a few invalid commands.
 *
 * Order ids are predictable without the book: the engine numbers accepted orders 1, 2, 3… in decision
 * order, and the flow knows which of its orders are invalid.
 */
export class OrderFlow {
  private readonly random: () => number
  private readonly options: Required<FlowOptions>
  private mid: number
  private nextOrderId = 1
  /** Recent accepted limit orders that may still rest: cancel candidates. */
  private readonly recent: string[] = []
  /** Commands drawn so far. */
  drawn = 0

  constructor(options: FlowOptions) {
    this.options = {
      cancel: 0.28,
      market: 0.06,
      aggressive: 0.12,
      invalid: 0.005,
      mid: 10_000,
      accounts: 250,
      ...options,
    }
    this.random = prng(options.seed)
    this.mid = this.options.mid
  }

  /** Draws `count` commands and drops them (to resume a flow after the commands already applied). */
  skip(count: number): void {
    for (let i = 0; i < count; i++) this.next()
  }

  /** The next command. */
  next(): Command {
    this.drawn++
    const r = this.random
    const o = this.options
    // A random walk with a pull back to the start, so a long run stays in a sane range.
    if (r() < 0.2)
      this.mid = Math.max(100, this.mid + Math.round((r() - 0.5 + (o.mid - this.mid) / 2000) * 6))
    const accountId = `acct-${1 + Math.floor(r() * o.accounts)}`
    const side: Side = r() < 0.5 ? BUY : SELL
    const sign = side === BUY ? -1 : 1
    let u = r()
    if (u < o.cancel && this.recent.length === 0) u = 1 // nothing to cancel yet: a passive order
    if (u < o.cancel) {
      const i = Math.floor(r() * this.recent.length)
      const orderId = this.recent[i]!
      this.recent[i] = this.recent[this.recent.length - 1]!
      this.recent.pop()
      return { kind: 'cancel', accountId, orderId }
    }
    const quantity = 1 + Math.floor(-Math.log(1 - r()) * 25)
    if (u < o.cancel + o.invalid) {
      return r() < 0.5
        ? { kind: 'limit', accountId, side, price: r() < 0.5 ? 0 : this.mid + 0.5, quantity }
        : { kind: 'limit', accountId, side, price: this.mid, quantity: r() < 0.5 ? 0 : -quantity }
    }
    const orderId = String(this.nextOrderId++)
    if (u < o.cancel + o.invalid + o.market) return { kind: 'market', accountId, side, quantity }
    const aggressive = u < o.cancel + o.invalid + o.market + o.aggressive
    // Passive orders: 1..~30 ticks behind the mid, denser near it; aggressive ones: up to 4 ticks through.
    const offset = aggressive ? -Math.floor(r() * 5) : 1 + Math.floor(r() * r() * 30)
    const price = Math.max(1, this.mid + sign * offset)
    this.recent.push(orderId)
    if (this.recent.length > 4000) this.recent.splice(0, 1000)
    return { kind: 'limit', accountId, side, price, quantity }
  }
}
