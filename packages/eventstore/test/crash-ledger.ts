import type { ExpectedRevision } from '../src/index.js'

/** What a storm child did with one operation, as it printed it. */
export interface StormOp {
  op: string
  kind: 'append' | 'delete' | 'tombstone'
  stream: string
  expected: ExpectedRevision
  ids: string[]
  /** Times it was handed to the store: more than once when a later run retried it. */
  sends: number
  outcome: Acked | Refused | undefined
}

/** The store acknowledged the operation. */
export interface Acked {
  ack: true
  position: number
  /** The stream's next expected revision (appends only). */
  next: number | undefined
}

/** The store refused the operation: nothing was written. */
export interface Refused {
  ack: false
  code: string
  actual: number | undefined
}

function parseExpected(s: string): ExpectedRevision {
  return /^\d+$/.test(s) ? Number(s) : (s as ExpectedRevision)
}

/**
 * Every operation the storm children of one store directory sent, and the outcomes they printed
 * (`fixtures/storm.mjs` describes the lines).
 */
export class StormLedger {
  readonly ops = new Map<string, StormOp>()
  /** Lines that made no sense (a test asserts there are none). */
  readonly garbled: string[] = []
  /** Outcomes the children printed. */
  acked = 0
  refused = 0

  /** Reads one line of a child's stdout. */
  line(line: string): void {
    const f = line.split(' ')
    if (f[0] === 'send' && f.length === 6) {
      const known = this.ops.get(f[1]!)
      if (known) {
        known.sends++
        return
      }
      const ids = f[5] === '-' ? [] : f[5]!.split(',')
      const kind = f[2] as StormOp['kind']
      this.ops.set(f[1]!, {
        op: f[1]!,
        kind,
        stream: f[3]!,
        expected: parseExpected(f[4]!),
        ids,
        sends: 1,
        outcome: undefined,
      })
    } else if (f[0] === 'ack' && f.length === 5) {
      this.settle(f[1]!, { ack: true, position: Number(f[2]), next: f[3] === '-' ? undefined : Number(f[3]) })
    } else if (f[0] === 'refused' && f.length === 4) {
      this.settle(f[1]!, { ack: false, code: f[2]!, actual: f[3] === '-' ? undefined : Number(f[3]) })
    } else if (line !== 'ready') {
      this.garbled.push(line)
    }
  }

  /** Records an operation the test itself performed (not counted in `acked` and `refused`). */
  record(op: Omit<StormOp, 'sends'>): void {
    this.ops.set(op.op, { ...op, sends: 1 })
  }

  /** Appends sent without an outcome (the child was killed first): the next run retries them. */
  inDoubt(): StormOp[] {
    return [...this.ops.values()].filter((o) => o.outcome === undefined && o.kind === 'append')
  }

  private settle(op: string, outcome: Acked | Refused): void {
    const o = this.ops.get(op)
    if (!o || o.outcome) {
      this.garbled.push(`${o ? 'second outcome' : 'outcome without send'} of ${op}`)
      return
    }
    o.outcome = outcome
    if (outcome.ack) this.acked++
    else this.refused++
  }
}
