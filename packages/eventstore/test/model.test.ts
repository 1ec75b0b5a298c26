/**
 * Model-based test of the event store, one suite for both backends: the embedded store
 * (`EventStore.open`) and the store on a real nats-server (`EventStore.connect`). fast-check generates sequences of commands (appends with every
 * kind of expected revision, with and without ids, exact retries, concurrent appends, identical
 * appends racing each other, deletes, tombstones, reads, reopens, index rebuilds, and crashes back to
 * a copy of the directory), runs each against a real store and against the in-memory model of
 * `model-store.ts`, and checks that they agree at every step. Each run picks a small `indexFlushEvents` (so the store writes and merges index tables all
 * along), the size of the summary cache, the `idempotencyWindow` and the sync policy.
 *
 * On NATS a position is one per append (the JetStream message), the model counts them so; crashes
 * (directory copies) and concurrent appends to several streams (whose order only the embedded store
 * fixes at the call) are embedded-only, and a reopen is a new connection.
 *
 * `WALTZ_MODEL_RUNS` sets the number of runs (default 25; `WALTZ_MODEL_NATS_RUNS`, default 25, on
 * NATS), `WALTZ_MODEL_SEED` the seed; a failure prints the seed and the shrunk command list.
 */
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { collect } from '../../../test-support/collect.js'
import { tempDir } from '../../../test-support/temp-dir.js'
import { type NatsGroup, NO_NATS_SERVER, startServer } from '../../replicate-nats/test/nats.js'
import {
  type AppendResult,
  EVENTSTORE_DEFAULTS,
  type EventInput,
  EventStore,
  type EventStoreApi,
  type EventStoreOptions,
  type ExpectedRevision,
  isEventStoreError,
  type ReadAllOptions,
  type ReadStreamOptions,
} from '../src/index.js'
import { copyStoreDir, eventView } from './damage-support.js'
import { json, openStore, type TestEvent } from './helpers.js'
import { type ModelEvent, type ModelInput, ModelState } from './model-store.js'

const RUNS = Number(process.env.WALTZ_MODEL_RUNS ?? 25)
const NATS_RUNS = Number(process.env.WALTZ_MODEL_NATS_RUNS ?? 25)
const SEED = Number(process.env.WALTZ_MODEL_SEED ?? 20261201)

const STREAMS = ['a-1', 'a-2', 'b-1', 'b-10'] as const
const TYPES = ['x', 'y', 'z'] as const
const PREFIXES = ['a-', 'a-2', 'b-1', 'b-', 'c'] as const

/** The model: the store's state, plus what outlives a crash (the client's record of its appends). */
interface Model {
  state: ModelState
  /** Appends sent with ids (retried by `Retry`), whatever became of them. */
  sent: { stream: string; expected: ExpectedRevision; inputs: ModelInput[] }[]
  nextId: number
  nextData: number
  snapshot: { dir: string; state: ModelState } | undefined
}

/** Where a real store lives: a directory (embedded), or a JetStream stream of a nats-server. */
interface Backend {
  name: 'embedded' | 'nats'
  /** Opens the store (again) where `real` says. */
  open(real: Real): Promise<EventStoreApi<TestEvent>>
}

const embedded: Backend = {
  name: 'embedded',
  open: (real) => openStore(real.dir, real.options),
}

/** The real store and where it lives. */
interface Real {
  backend: Backend
  root: string
  dir: string
  store: EventStoreApi<TestEvent>
  options: Partial<EventStoreOptions<TestEvent>>
  dirs: number
}

/** The real store as the embedded `EventStore` (the commands that only it runs). */
function embeddedStore(r: Real): EventStore<TestEvent> {
  if (r.backend.name !== 'embedded') throw new Error(`${r.backend.name} has no directory`)
  return r.store as EventStore<TestEvent>
}

type Cmd = fc.AsyncCommand<Model, Real>

/** How a command picks its expected revision; `current` is the stream's revision plus an offset. */
type ExpectedSpec = 'any' | 'no_stream' | 'stream_exists' | { offset: number }

function resolveExpected(spec: ExpectedSpec, m: Model, stream: string): ExpectedRevision {
  if (typeof spec === 'string') return spec
  return Math.max(0, m.state.stream(stream).revision + spec.offset)
}

function newDir(r: Real): string {
  return join(r.root, `store-${r.dirs++}`)
}

/** The outcome of an append, caught as soon as it settles. */
type Settled = { ok: AppendResult } | { err: unknown }

function start(r: Real, stream: string, expected: ExpectedRevision, inputs: ModelInput[]): Promise<Settled> {
  return r.store
    .appendToStream(stream, inputs as EventInput<TestEvent>[], { expectedRevision: expected })
    .then(
      (ok) => ({ ok }),
      (err: unknown) => ({ err }),
    )
}

/** Appends for real and checks the outcome against the model's verdict; applies it to the model. */
async function append(
  m: Model,
  r: Real,
  stream: string,
  expected: ExpectedRevision,
  inputs: ModelInput[],
): Promise<string> {
  return settle(m, r, stream, expected, inputs, await start(r, stream, expected, inputs))
}

/** Checks the outcome of an append against the model's verdict, and applies it to the model. */
async function settle(
  m: Model,
  r: Real,
  stream: string,
  expected: ExpectedRevision,
  inputs: ModelInput[],
  got: Settled,
): Promise<string> {
  const verdict = m.state.decideAppend(stream, expected, inputs)
  let outcome: string
  if ('ok' in got) {
    outcome = JSON.stringify(got.ok)
    if (verdict.kind === 'error') throw new Error(`expected ${verdict.code}, the append returned ${outcome}`)
    expect(got.ok).toEqual(verdict.result)
  } else {
    const err = got.err
    if (!isEventStoreError(err)) throw err
    outcome = err.code
    if (verdict.kind !== 'error') throw new Error(`expected ${verdict.kind}, got ${err.message}`)
    expect(err.code).toBe(verdict.code)
    expect(err.stream).toBe(stream)
    if (verdict.code === 'WRONG_EXPECTED_REVISION') {
      expect(err.expected).toBe(expected)
      expect(err.actual).toBe(verdict.actual)
    }
  }
  if (verdict.kind === 'written') {
    const first = verdict.result.nextExpectedRevision - inputs.length + 1
    const written = await collect(r.store.readStream(stream, { from: first, maxCount: inputs.length }))
    m.state.applyAppend(
      stream,
      inputs,
      verdict.result,
      written.map((e) => e.id),
    )
    if (inputs.some((e, k) => e.id !== undefined && e.id !== written[k]!.id)) throw new Error('ids not kept')
  }
  return outcome
}

/**
 * The store acknowledged exactly what the model wrote: a failed or retried append wrote nothing. (A
 * connected store's `position` is the last one this client saw, never past the model's.)
 */
function checkPosition(m: Model, r: Real): void {
  if (r.backend.name === 'embedded') expect(r.store.position).toBe(m.state.position)
  else expect(r.store.position).toBeLessThanOrEqual(m.state.position)
}

class Append implements Cmd {
  private detail = ''
  constructor(
    readonly stream: string,
    readonly events: readonly { type: string; meta: string | undefined }[],
    readonly expected: ExpectedSpec,
    readonly withIds: boolean,
  ) {}
  check = (): boolean => true
  async run(m: Model, r: Real): Promise<void> {
    const expected = resolveExpected(this.expected, m, this.stream)
    const inputs = this.events.map(({ type, meta }) => {
      const e: ModelInput = { type, data: { i: m.nextData++, note: NOTE } }
      if (this.withIds) e.id = `id-${m.nextId++}`
      if (meta !== undefined) e.metadata = { k: meta }
      return e
    })
    if (this.withIds) m.sent.push({ stream: this.stream, expected, inputs })
    this.detail = `${JSON.stringify(expected)} -> ${await append(m, r, this.stream, expected, inputs)}`
    checkPosition(m, r)
  }
  toString = (): string =>
    `append(${this.stream}, ${this.events.length}, ${JSON.stringify(this.expected)}, ids=${this.withIds}) ${this.detail}`
}

/**
 * Starts appends (without ids) to streams without waiting in between: the check of the expected
 * revision and the reservation are one synchronous step, so they take effect in call order, as if
 * run one after the other; each expected revision is resolved before any of them runs.
 */
class Concurrent implements Cmd {
  private detail = ''
  constructor(readonly appends: readonly { stream: string; expected: ExpectedSpec; type: string }[]) {}
  check = (): boolean => true
  async run(m: Model, r: Real): Promise<void> {
    const calls = this.appends.map(({ stream, expected, type }) => ({
      stream,
      expected: resolveExpected(expected, m, stream),
      inputs: [{ type, data: { i: m.nextData++, note: NOTE } }] as ModelInput[],
    }))
    const settled = await Promise.allSettled(
      calls.map((c) =>
        r.store.appendToStream(c.stream, c.inputs as EventInput<TestEvent>[], {
          expectedRevision: c.expected,
        }),
      ),
    )
    const outcomes: string[] = []
    for (const [k, c] of calls.entries()) {
      const verdict = m.state.decideAppend(c.stream, c.expected, c.inputs)
      const got = settled[k]!
      if (got.status === 'fulfilled') {
        outcomes.push(JSON.stringify(got.value))
        expect(verdict.kind, `${c.stream} ${JSON.stringify(got.value)}`).toBe('written')
        expect(got.value).toEqual(verdict.kind === 'written' ? verdict.result : undefined)
        const [stored] = await collect(r.store.readAll({ from: got.value.position, maxCount: 1 }))
        m.state.applyAppend(c.stream, c.inputs, got.value, [stored!.id])
      } else {
        const err = got.reason as unknown
        if (!isEventStoreError(err)) throw err
        outcomes.push(err.code)
        expect(verdict.kind === 'error' ? verdict.code : verdict.kind).toBe(err.code)
        if (verdict.kind === 'error' && verdict.code === 'WRONG_EXPECTED_REVISION') {
          expect(err.actual).toBe(verdict.actual)
        }
      }
    }
    this.detail = calls
      .map((c, k) => `${c.stream} ${JSON.stringify(c.expected)} -> ${outcomes[k]}`)
      .join('; ')
    checkPosition(m, r)
  }
  toString = (): string => `concurrent(${this.appends.length}) ${this.detail}`
}

/** Sends one of the earlier appends with ids again, exactly (or with `'any'`). */
class Retry implements Cmd {
  private detail = ''
  constructor(
    readonly pick: number,
    readonly asAny: boolean,
  ) {}
  check = (m: Readonly<Model>): boolean => m.sent.length > 0
  async run(m: Model, r: Real): Promise<void> {
    const sent = m.sent[this.pick % m.sent.length]!
    const expected = this.asAny ? 'any' : sent.expected
    const outcome = await append(m, r, sent.stream, expected, sent.inputs)
    this.detail = `${sent.stream} ${sent.inputs.map((e) => e.id).join(',')} ${JSON.stringify(expected)} -> ${outcome}`
    checkPosition(m, r)
  }
  toString = (): string => `retry(${this.pick}, any=${this.asAny}) ${this.detail}`
}

/**
 * Sends the same new append (with ids) two or three times at once, as a client retrying before its
 * first reply: the events are stored once, and every call returns what the first would alone.
 */
class Race implements Cmd {
  private detail = ''
  constructor(
    readonly stream: string,
    readonly events: number,
    readonly expected: ExpectedSpec,
    readonly copies: number,
  ) {}
  check = (): boolean => true
  async run(m: Model, r: Real): Promise<void> {
    const expected = resolveExpected(this.expected, m, this.stream)
    const inputs = Array.from(
      { length: this.events },
      (): ModelInput => ({
        type: 'x',
        data: { i: m.nextData++, note: NOTE },
        id: `id-${m.nextId++}`,
      }),
    )
    m.sent.push({ stream: this.stream, expected, inputs })
    const calls = Array.from({ length: this.copies }, () => start(r, this.stream, expected, inputs))
    const outcomes: string[] = []
    for (const call of calls) outcomes.push(await settle(m, r, this.stream, expected, inputs, await call))
    this.detail = `${JSON.stringify(expected)} -> ${outcomes.join(' | ')}`
    checkPosition(m, r)
  }
  toString = (): string =>
    `race(${this.stream}, ${this.events}, ${JSON.stringify(this.expected)}, x${this.copies}) ${this.detail}`
}

class Delete implements Cmd {
  private detail = ''
  constructor(
    readonly stream: string,
    readonly expected: ExpectedSpec,
    readonly tombstone: boolean,
  ) {}
  check = (): boolean => true
  async run(m: Model, r: Real): Promise<void> {
    const expected = resolveExpected(this.expected, m, this.stream)
    const verdict = m.state.decideDelete(this.stream, expected)
    const call = this.tombstone
      ? r.store.tombstoneStream(this.stream, { expectedRevision: expected })
      : r.store.deleteStream(this.stream, { expectedRevision: expected })
    try {
      const { position } = await call
      if (verdict.kind === 'error') throw new Error(`expected ${verdict.code}, the delete succeeded`)
      expect(position).toBe(verdict.position)
      m.state.applyDelete(this.stream, this.tombstone)
      this.detail = `${JSON.stringify(expected)} -> ${position}`
    } catch (err) {
      if (!isEventStoreError(err)) throw err
      this.detail = `${JSON.stringify(expected)} -> ${err.code}`
      if (verdict.kind !== 'error') throw new Error(`expected the delete to succeed, got ${err.message}`)
      expect(err.code).toBe(verdict.code)
      if (verdict.code === 'WRONG_EXPECTED_REVISION') expect(err.actual).toBe(verdict.actual)
    }
    checkPosition(m, r)
  }
  toString = (): string =>
    `${this.tombstone ? 'tombstone' : 'delete'}(${this.stream}, ${JSON.stringify(this.expected)}) ${this.detail}`
}

function viewOf(e: ModelEvent) {
  const { batch: _b, batchSize: _n, ...view } = e
  return view
}

class ReadStream implements Cmd {
  constructor(
    readonly stream: string,
    readonly options: ReadStreamOptions,
  ) {}
  check = (): boolean => true
  async run(m: Model, r: Real): Promise<void> {
    const visible = m.state.visible(this.stream)
    const { from, maxCount } = this.options
    const take = maxCount ?? Number.POSITIVE_INFINITY
    const want =
      this.options.direction === 'backwards'
        ? visible
            .filter((e) => from === undefined || e.revision <= from)
            .reverse()
            .slice(0, take)
        : visible.filter((e) => from === undefined || e.revision >= from).slice(0, take)
    const got = (await collect(r.store.readStream(this.stream, this.options))).map(eventView)
    expect(got).toEqual(want.map(viewOf))
  }
  toString = (): string => `readStream(${this.stream}, ${JSON.stringify(this.options)})`
}

class ReadAll implements Cmd {
  constructor(readonly options: ReadAllOptions) {}
  check = (): boolean => true
  async run(m: Model, r: Real): Promise<void> {
    const { from, maxCount, filter } = this.options
    const types = filter?.types ? new Set(filter.types) : undefined
    const accepted = m.state.log.filter(
      (e) =>
        (filter?.streamPrefix === undefined || e.stream.startsWith(filter.streamPrefix)) &&
        (types === undefined || types.has(e.type)),
    )
    const take = maxCount ?? Number.POSITIVE_INFINITY
    const want =
      this.options.direction === 'backwards'
        ? accepted
            .filter((e) => from === undefined || e.position <= from)
            .reverse()
            .slice(0, take)
        : accepted.filter((e) => from === undefined || e.position >= from).slice(0, take)
    const got = (await collect(r.store.readAll(this.options))).map(eventView)
    expect(got).toEqual(want.map(viewOf))
  }
  toString = (): string => `readAll(${JSON.stringify(this.options)})`
}

class Inspect implements Cmd {
  constructor(readonly stream: string) {}
  check = (): boolean => true
  async run(m: Model, r: Real): Promise<void> {
    await checkStream(m, r, this.stream)
  }
  toString = (): string => `inspect(${this.stream})`
}

/** `streamExists`, `aggregateStream` and a full read of one stream agree with the model. */
async function checkStream(m: Model, r: Real, stream: string): Promise<void> {
  expect(await r.store.streamExists(stream)).toBe(m.state.exists(stream))
  const agg = await r.store.aggregateStream(stream, {
    initialState: (): number[] => [],
    evolve: (seen, e) => [...seen, (e.data as { i: number }).i],
  })
  expect(agg).toEqual({
    state: m.state.visible(stream).map((e) => e.data.i),
    revision: m.state.stream(stream).revision,
    exists: m.state.exists(stream),
  })
}

/** Every stream and the whole log agree with the model (after a reopen). */
async function checkAll(m: Model, r: Real): Promise<void> {
  checkPosition(m, r)
  for (const stream of STREAMS) {
    await checkStream(m, r, stream)
    const got = (await collect(r.store.readStream(stream))).map(eventView)
    expect(got).toEqual(m.state.visible(stream).map(viewOf))
  }
  const all = (await collect(r.store.readAll())).map((e) => e.position)
  expect(all).toEqual(m.state.log.map((e) => e.position))
  // Every event was read where the index said it lies.
  if (r.backend.name === 'embedded') expect(embeddedStore(r).metrics().wal.locatedReads.misses).toBe(0)
}

/** Closes the store and opens it again: the index comes from its tables (and the WAL after them). */
class Reopen implements Cmd {
  constructor(readonly dropIndex: boolean) {}
  check = (): boolean => true
  async run(m: Model, r: Real): Promise<void> {
    await r.store.close()
    if (this.dropIndex) rmSync(join(r.dir, 'index'), { recursive: true, force: true })
    r.store = await r.backend.open(r)
    await checkAll(m, r)
  }
  toString = (): string => (this.dropIndex ? 'reopen without index' : 'reopen')
}

/**
 * Copies the directory of the open store after a sync, as a process crash at this point would leave
 * it (the index writer may be in the middle of a table or a merge). Everything acknowledged so far
 * is in the copy.
 */
class Snapshot implements Cmd {
  check = (): boolean => true
  async run(m: Model, r: Real): Promise<void> {
    await embeddedStore(r).wal.sync()
    const dir = newDir(r)
    copyStoreDir(r.dir, dir)
    m.snapshot = { dir, state: m.state.clone() }
  }
  toString = (): string => 'snapshot'
}

/** Abandons the store and carries on from (a copy of) the last snapshot: what a crash then leaves. */
class Crash implements Cmd {
  check = (m: Readonly<Model>): boolean => m.snapshot !== undefined
  async run(m: Model, r: Real): Promise<void> {
    const snapshot = m.snapshot!
    await r.store.close()
    r.dir = newDir(r)
    copyStoreDir(snapshot.dir, r.dir)
    r.store = await r.backend.open(r)
    m.state = snapshot.state.clone()
    await checkAll(m, r)
  }
  toString = (): string => 'crash to snapshot'
}

const streamArb = fc.constantFrom(...STREAMS)
const expectedArb: fc.Arbitrary<ExpectedSpec> = fc.oneof(
  fc.constantFrom<ExpectedSpec>('any', 'no_stream', 'stream_exists'),
  fc
    .oneof(
      { weight: 3, arbitrary: fc.constant(0) },
      { weight: 2, arbitrary: fc.integer({ min: -3, max: 2 }) },
    )
    .map((offset): ExpectedSpec => ({ offset })),
)
const eventArb = fc.record({
  type: fc.constantFrom(...TYPES),
  meta: fc.option(fc.constantFrom('m', 'ü'), { nil: undefined }),
})

function optional<K extends string, V>(key: K, arb: fc.Arbitrary<V>): fc.Arbitrary<{ [k in K]?: V }> {
  return fc
    .option(arb, { nil: undefined })
    .map((v) => (v === undefined ? {} : ({ [key]: v } as { [k in K]?: V })))
}

const readStreamOptionsArb: fc.Arbitrary<ReadStreamOptions> = fc
  .tuple(
    optional('from', fc.nat(10)),
    optional('maxCount', fc.nat(4)),
    optional('direction', fc.constantFrom('forwards' as const, 'backwards' as const)),
  )
  .map(([a, b, c]) => ({ ...a, ...b, ...c }))

const readAllOptionsArb: fc.Arbitrary<ReadAllOptions> = fc
  .tuple(
    optional('from', fc.nat(30)),
    optional('maxCount', fc.nat(6)),
    optional('direction', fc.constantFrom('forwards' as const, 'backwards' as const)),
    optional(
      'filter',
      fc
        .tuple(
          optional('streamPrefix', fc.constantFrom(...PREFIXES)),
          optional('types', fc.subarray([...TYPES])),
        )
        .map(([a, b]) => ({ ...a, ...b })),
    ),
  )
  .map(([a, b, c, d]) => ({ ...a, ...b, ...c, ...d }))

const concurrentArb: fc.Arbitrary<Cmd> = fc
  .array(fc.record({ stream: streamArb, expected: expectedArb, type: fc.constantFrom(...TYPES) }), {
    minLength: 2,
    maxLength: 4,
  })
  .map((appends) => new Concurrent(appends))
const snapshotArb: fc.Arbitrary<Cmd> = fc.constant(new Snapshot())

const commandArbs: fc.Arbitrary<Cmd>[] = [
  fc
    .tuple(streamArb, fc.array(eventArb, { minLength: 1, maxLength: 3 }), expectedArb, fc.boolean())
    .map(([s, e, x, ids]) => new Append(s, e, x, ids)),
  fc
    .tuple(streamArb, fc.array(eventArb, { minLength: 1, maxLength: 3 }), expectedArb, fc.boolean())
    .map(([s, e, x, ids]) => new Append(s, e, x, ids)),
  fc.tuple(fc.nat(), fc.boolean()).map(([p, any]) => new Retry(p, any)),
  fc.tuple(fc.nat(), fc.boolean()).map(([p, any]) => new Retry(p, any)),
  fc
    .tuple(streamArb, fc.integer({ min: 1, max: 3 }), expectedArb, fc.integer({ min: 2, max: 3 }))
    .map(([s, n, x, copies]) => new Race(s, n, x, copies)),
  concurrentArb,
  fc
    .tuple(streamArb, expectedArb, fc.constantFrom(false, false, false, true))
    .map(([s, x, tomb]) => new Delete(s, x, tomb)),
  fc.tuple(streamArb, readStreamOptionsArb).map(([s, o]) => new ReadStream(s, o)),
  readAllOptionsArb.map((o) => new ReadAll(o)),
  streamArb.map((s) => new Inspect(s)),
  fc.boolean().map((drop) => new Reopen(drop)),
  snapshotArb,
  fc.constant(new Crash()),
]

/** The commands on NATS: no directory to copy, and no call order across streams. */
const natsCommandArbs: fc.Arbitrary<Cmd>[] = commandArbs.filter(
  (a) => a !== concurrentArb && a !== snapshotArb,
)

/** Text in every event's data: an append of two events or more is then big enough to compress. */
const NOTE = 'a note long enough that two events of it are worth compressing together, '.repeat(2)

/** Runs commands against a fresh store and a fresh model (fast-check skips those whose check fails). */
async function runCommands(
  options: Partial<EventStoreOptions<TestEvent>>,
  cmds: Iterable<Cmd>,
  backend: Backend = embedded,
): Promise<void> {
  const window = options.idempotencyWindow ?? EVENTSTORE_DEFAULTS.idempotencyWindow
  const root = tempDir()
  const real: Real = { backend, root, dir: join(root, 'store'), options, dirs: 0, store: undefined as never }
  try {
    await fc.asyncModelRun(async () => {
      real.store = await backend.open(real)
      const model: Model = {
        state: new ModelState(window, backend.name === 'embedded', backend.name === 'nats'),
        sent: [],
        nextId: 0,
        nextData: 0,
        snapshot: undefined,
      }
      return { model, real }
    }, cmds)
  } finally {
    await real.store?.close().catch(() => {})
    rmSync(root, { recursive: true, force: true })
  }
}

test('the store agrees with the model', async () => {
  const setupArb = fc.record({
    indexFlushEvents: fc.constantFrom(4, 8, 16),
    indexCacheStreams: fc.constantFrom(0, 2, 1000),
    idempotencyWindow: fc.constantFrom(1, 2, 32),
    sync: fc.constantFrom('os-cache' as const, 'background' as const, 'always' as const),
    // Appends of two events or more become compressed blocks (see NOTE).
    compression: fc.constantFrom('none' as const, 'deflate' as const),
  })
  await fc.assert(
    fc.asyncProperty(setupArb, fc.commands(commandArbs, { maxCommands: 80, size: 'max' }), (o, c) =>
      runCommands(o, c),
    ),
    { numRuns: RUNS, seed: SEED },
  )
}, 600_000)

const one = [{ type: 'x', meta: undefined }]
const two = [...one, { type: 'y', meta: 'm' }]

/** Scenarios the random runs reach rarely, through the same commands and model. */
test.each<[string, () => Cmd[]]>([
  [
    'a retry after later deletes returns the original result, created included',
    () => [
      new Append('b-1', one, 'any', false),
      new Delete('b-1', 'any', false),
      new Append('b-1', two, { offset: 0 }, true), // sent 0: re-creates the stream
      new Delete('b-1', 'any', false),
      new Retry(0, false), // expected 1: the events right after it, deleted
      new Retry(0, true), // 'any': the window holds deleted events too
      new Append('b-1', one, 'stream_exists', false),
      new Retry(0, false),
      new Reopen(true),
      new Retry(0, true),
    ],
  ],
  [
    "'no_stream' retries",
    () => [
      new Append('a-1', two, 'no_stream', true), // sent 0: creates the stream
      new Retry(0, false), // the stream exists: the original created it, so this is a retry
      new Append('a-1', one, 'any', true), // sent 1
      new Retry(1, false),
      new Delete('a-1', { offset: 0 }, false),
      new Retry(0, false), // deleted since: still the original
      new Append('a-1', one, 'no_stream', true), // sent 2: re-creates the stream
      new Retry(0, false),
      new Retry(2, false),
      new Retry(1, true),
      new Reopen(false),
      new Retry(0, false),
      new Delete('a-1', 'any', true),
      new Retry(0, false),
    ],
  ],
  [
    'a crash keeps what was acknowledged before the copy, and a retry writes what it lost',
    () => [
      new Append('a-2', two, 'no_stream', true), // sent 0
      new Snapshot(),
      new Append('a-2', one, { offset: 0 }, true), // sent 1: lost by the crash
      new Delete('a-1', 'any', true),
      new Crash(),
      new Retry(0, false),
      new Retry(1, false), // written again, at the same revision
      new Inspect('a-2'),
      new Crash(),
      new Retry(1, true),
      new Inspect('a-2'),
    ],
  ],
])('%s', async (_, cmds) => {
  await runCommands({ indexFlushEvents: 4 }, cmds())
})

describe.skipIf(NO_NATS_SERVER)('on NATS JetStream', () => {
  let group: NatsGroup
  let runs = 0
  beforeAll(async () => {
    group = await startServer()
  }, 60_000)
  afterAll(async () => {
    await group?.stop()
  })
  /** Each run (and each test) a fresh JetStream stream; a reopen connects to the same one again. */
  const nats = (): Backend => {
    const stream = `MODEL${++runs}`
    return {
      name: 'nats',
      open: (real) =>
        EventStore.connect<TestEvent>({
          servers: group.urls,
          stream,
          serializer: json,
          ...(real.options.idempotencyWindow !== undefined && {
            idempotencyWindow: real.options.idempotencyWindow,
          }),
        }),
    }
  }

  test('the store agrees with the model', async () => {
    const setupArb = fc.record({ idempotencyWindow: fc.constantFrom(1, 2, 32) })
    await fc.assert(
      fc.asyncProperty(
        setupArb,
        fc.commands(natsCommandArbs, { maxCommands: 60, size: 'max' }),
        (options, cmds) => runCommands(options, cmds, nats()),
      ),
      { numRuns: NATS_RUNS, seed: SEED },
    )
  }, 600_000)

  test.each<[string, () => Cmd[]]>([
    [
      'a retry after later deletes returns the original result, created included',
      () => [
        new Append('b-1', one, 'any', false),
        new Delete('b-1', 'any', false),
        new Append('b-1', two, { offset: 0 }, true),
        new Delete('b-1', 'any', false),
        new Retry(0, false),
        new Retry(0, true),
        new Append('b-1', one, 'stream_exists', false),
        new Retry(0, false),
        new Reopen(false),
        new Retry(0, true),
      ],
    ],
    [
      "'no_stream' retries",
      () => [
        new Append('a-1', two, 'no_stream', true),
        new Retry(0, false),
        new Append('a-1', one, 'any', true),
        new Retry(1, false),
        new Delete('a-1', { offset: 0 }, false),
        new Retry(0, false),
        new Append('a-1', one, 'no_stream', true),
        new Retry(0, false),
        new Retry(2, false),
        new Retry(1, true),
        new Reopen(false),
        new Retry(0, false),
        new Delete('a-1', 'any', true),
        new Retry(0, false),
      ],
    ],
  ])('%s', async (_, cmds) => {
    await runCommands({}, cmds(), nats())
  })
})
