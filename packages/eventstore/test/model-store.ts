/**
 * The in-memory model of an event store for `model.test.ts`: streams (revision, soft delete,
 * tombstone, every event ever appended) and the log of events in position order. It decides every
 * append and delete from the documented rules alone, independently of the store's code.
 */
import type { AppendResult, ExpectedRevision } from '../src/index.js'
import type { EventView } from './damage-support.js'

/** An event of the model, with the result of the append that wrote it. */
export interface ModelEvent extends EventView {
  data: { i: number; note?: string }
  /** What `appendToStream` returned for the whole batch this event was written in. */
  batch: AppendResult
  /** How many events that batch had. */
  batchSize: number
}

/** A stream of the model. */
export interface ModelStream {
  revision: number
  deletedRevision: number
  tombstoned: boolean
  /** Every event ever appended, revision 1 first (deleted ones too: they stay stored). */
  events: ModelEvent[]
}

/** An event to append, as the test builds it. */
export interface ModelInput {
  type: string
  data: { i: number; note?: string }
  id?: string
  metadata?: Record<string, string>
}

/** What the model says an append must do. */
export type AppendVerdict =
  | { kind: 'written'; result: AppendResult }
  | { kind: 'retry'; result: AppendResult }
  | { kind: 'error'; code: 'WRONG_EXPECTED_REVISION' | 'STREAM_TOMBSTONED'; actual: number }

/** What the model says a delete or tombstone must do. */
export type DeleteVerdict =
  | { kind: 'written'; position: number }
  | { kind: 'error'; code: 'WRONG_EXPECTED_REVISION' | 'STREAM_TOMBSTONED'; actual: number }

const EMPTY: ModelStream = Object.freeze({
  revision: 0,
  deletedRevision: 0,
  tombstoned: false,
  events: [],
})

/** The state a store holds: cloned at a snapshot, restored by a crash. */
export class ModelState {
  readonly streams = new Map<string, ModelStream>()
  /** Events (not markers) in position order. */
  readonly log: ModelEvent[] = []
  /** The last position written (events and markers). */
  position = 0

  /**
   * @param window - the store's `idempotencyWindow` (at least 1)
   * @param positionPerEvent - true for the embedded store (each event and marker takes a position),
   *   false for the store on NATS (each append and marker takes one, shared by its events)
   * @param messageIds - the store on NATS: an append whose expected revision holds and whose ids are
   *   exactly those of an earlier append to the stream is a retry of it (the server's message-id
   *   de-duplication, whatever `window` says; the tests run within its duplicate window)
   */
  constructor(
    readonly window: number,
    readonly positionPerEvent = true,
    readonly messageIds = false,
  ) {}

  clone(): ModelState {
    const c = new ModelState(this.window, this.positionPerEvent, this.messageIds)
    for (const [name, s] of this.streams) c.streams.set(name, { ...s, events: [...s.events] })
    c.log.push(...this.log)
    c.position = this.position
    return c
  }

  stream(name: string): ModelStream {
    return this.streams.get(name) ?? EMPTY
  }

  /** Events a read of the stream sees: none when tombstoned, else those after the soft delete. */
  visible(name: string): ModelEvent[] {
    const s = this.stream(name)
    return s.tombstoned ? [] : s.events.filter((e) => e.revision > s.deletedRevision)
  }

  exists(name: string): boolean {
    const s = this.stream(name)
    return !s.tombstoned && s.revision > s.deletedRevision
  }

  /**
   * Decides an append. The rules: a tombstoned stream refuses it. An append whose events all carry
   * ids equal to stored events (soft-deleted ones included: the append they came from did happen) is
   * a retry, and returns the original result without writing: for a numeric expected revision, the
   * events right after it; for `'any'` and `'stream_exists'`, consecutive events among the last
   * `window` revisions (or as many as the append has events); for `'no_stream'`, the same, but the
   * original append must have created the stream. Otherwise the expected revision
   * must hold, and the events are written.
   */
  decideAppend(name: string, expected: ExpectedRevision, inputs: readonly ModelInput[]): AppendVerdict {
    const s = this.stream(name)
    if (s.tombstoned) return { kind: 'error', code: 'STREAM_TOMBSTONED', actual: s.revision }
    const holds = this.matches(name, expected)
    if (inputs.every((e) => e.id !== undefined)) {
      const original = this.findOriginal(
        s,
        expected,
        inputs.map((e) => e.id!),
      )
      if (original) {
        const last = original.at(-1)!
        if (original[0]!.batch !== last.batch || original.length !== last.batchSize) {
          throw new Error('the model only retries whole batches')
        }
        return { kind: 'retry', result: last.batch }
      }
    }
    if (!holds) return { kind: 'error', code: 'WRONG_EXPECTED_REVISION', actual: s.revision }
    if (this.messageIds && inputs.every((e) => e.id !== undefined)) {
      const ids = inputs.map((e) => e.id).join(',')
      const original = s.events.find(
        (e, k) =>
          e.batchSize === inputs.length &&
          (k === 0 || s.events[k - 1]!.batch !== e.batch) &&
          s.events
            .slice(k, k + inputs.length)
            .map((x) => x.id)
            .join(',') === ids,
      )
      if (original) return { kind: 'retry', result: original.batch }
    }
    const n = inputs.length
    return {
      kind: 'written',
      result: {
        nextExpectedRevision: s.revision + n,
        position: this.position + (this.positionPerEvent ? n : 1),
        created: !this.exists(name),
      },
    }
  }

  /** Applies a written append (`decideAppend` said `written`). */
  applyAppend(
    name: string,
    inputs: readonly ModelInput[],
    result: AppendResult,
    ids: readonly string[],
  ): void {
    const s = { ...this.stream(name), events: [...this.stream(name).events] }
    if (!this.positionPerEvent) this.position++
    inputs.forEach((input, k) => {
      if (this.positionPerEvent) this.position++
      const e: ModelEvent = {
        stream: name,
        revision: s.revision + 1,
        position: this.position,
        id: ids[k]!,
        type: input.type,
        data: input.data,
        metadata: { ...input.metadata },
        batch: result,
        batchSize: inputs.length,
      }
      s.revision++
      s.events.push(e)
      this.log.push(e)
    })
    this.streams.set(name, s)
  }

  /** Decides a soft delete or a tombstone. */
  decideDelete(name: string, expected: ExpectedRevision): DeleteVerdict {
    const s = this.stream(name)
    if (s.tombstoned) return { kind: 'error', code: 'STREAM_TOMBSTONED', actual: s.revision }
    if (!this.matches(name, expected))
      return { kind: 'error', code: 'WRONG_EXPECTED_REVISION', actual: s.revision }
    return { kind: 'written', position: this.position + 1 }
  }

  /** Applies a written delete. */
  applyDelete(name: string, tombstone: boolean): void {
    const s = this.stream(name)
    this.position++
    this.streams.set(name, {
      ...s,
      deletedRevision: s.revision,
      tombstoned: tombstone,
      events: [...s.events],
    })
  }

  private matches(name: string, expected: ExpectedRevision): boolean {
    if (expected === 'any') return true
    if (expected === 'no_stream') return !this.exists(name)
    if (expected === 'stream_exists') return this.exists(name)
    return this.stream(name).revision === expected
  }

  private findOriginal(
    s: ModelStream,
    expected: ExpectedRevision,
    ids: readonly string[],
  ): ModelEvent[] | undefined {
    const n = ids.length
    const same = (run: readonly ModelEvent[]) => run.length === n && run.every((e, k) => e.id === ids[k])
    if (typeof expected === 'number') {
      const run = s.events.slice(expected, expected + n)
      return same(run) ? run : undefined
    }
    const window = Math.max(this.window, n)
    const span = s.events.slice(Math.max(0, s.revision - window))
    for (let i = 0; i + n <= span.length; i++) {
      const run = span.slice(i, i + n)
      if (!same(run)) continue
      if (expected === 'no_stream' && !run[0]!.batch.created) continue
      return run
    }
    return undefined
  }
}
