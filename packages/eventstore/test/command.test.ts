import { afterEach, expect, test } from 'vitest'
import { collect } from '../../../test-support/collect.js'
import { tempDir } from '../../../test-support/temp-dir.js'
import { type EventStore, handleCommand, type StoredEvent } from '../src/index.js'
import { decider } from '../src/testing.js'
import { openStore, type TestEvent } from './helpers.js'

const open: EventStore<TestEvent>[] = []
afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((s) => s.close()))
})

type Counter = { value: number; closed: boolean }
const initialState = (): Counter => ({ value: 0, closed: false })
const evolve = (s: Counter, e: { type: string; data: unknown }): Counter =>
  e.type === 'added'
    ? { ...s, value: s.value + (e.data as number) }
    : e.type === 'closed'
      ? { ...s, closed: true }
      : s
const evolveStored = (s: Counter, e: StoredEvent<TestEvent>) => evolve(s, e)

class Closed extends Error {}
type Command = { type: 'add'; n: number } | { type: 'close' }
function decide(c: Command, s: Counter): TestEvent[] {
  if (s.closed) throw new Closed('closed')
  if (c.type === 'close') return [{ type: 'closed', data: null }]
  return c.n === 0 ? [] : [{ type: 'added', data: c.n }]
}

test('handleCommand reads, decides and appends with the revision it read', async () => {
  const s = await openStore(tempDir())
  open.push(s)
  const r1 = await handleCommand(s, 'c', (st) => decide({ type: 'add', n: 2 }, st), {
    initialState,
    evolve: evolveStored,
  })
  expect(r1).toMatchObject({ nextExpectedRevision: 1, created: true, state: { value: 0 } })
  const r2 = await handleCommand(s, 'c', (st) => decide({ type: 'add', n: 3 }, st), {
    initialState,
    evolve: evolveStored,
  })
  expect(r2).toMatchObject({ nextExpectedRevision: 2, created: false, state: { value: 2 } })
  const none = await handleCommand(s, 'c', (st) => decide({ type: 'add', n: 0 }, st), {
    initialState,
    evolve: evolveStored,
  })
  expect(none).toMatchObject({ nextExpectedRevision: 2, newEvents: [] })
  await handleCommand(s, 'c', (st) => decide({ type: 'close' }, st), { initialState, evolve: evolveStored })
  await expect(
    handleCommand(s, 'c', (st) => decide({ type: 'add', n: 1 }, st), { initialState, evolve: evolveStored }),
  ).rejects.toBeInstanceOf(Closed)
  expect((await collect(s.readStream('c'))).map((e) => e.type)).toEqual(['added', 'added', 'closed'])
})

test('concurrent commands on one stream all land through retries, none lost', async () => {
  const s = await openStore(tempDir(), { sync: 'always' })
  open.push(s)
  const results = await Promise.all(
    Array.from({ length: 20 }, () =>
      handleCommand(s, 'c', (st) => decide({ type: 'add', n: 1 }, st), {
        initialState,
        evolve: evolveStored,
        retries: 50,
      }),
    ),
  )
  expect(new Set(results.map((r) => r.nextExpectedRevision)).size).toBe(20)
  const { state } = await s.aggregateStream('c', { initialState, evolve: evolveStored })
  expect(state.value).toBe(20)
})

test('a command that keeps conflicting fails with COMMAND_RETRIES_EXHAUSTED', async () => {
  const s = await openStore(tempDir())
  open.push(s)
  let n = 0
  const err = await handleCommand(
    s,
    'c',
    async () => {
      // Another writer always gets in between the read and the append.
      await s.appendToStream('c', [{ type: 'added', data: 1 }])
      n++
      return [{ type: 'added', data: 1 }]
    },
    { initialState, evolve: evolveStored, retries: 2 },
  ).catch((e: unknown) => e)
  expect(err).toMatchObject({ code: 'COMMAND_RETRIES_EXHAUSTED', stream: 'c' })
  expect((err as Error).cause).toMatchObject({ code: 'WRONG_EXPECTED_REVISION' })
  expect(n).toBe(3)
})

test('decider given/when/then passes and fails as it should', () => {
  const spec = decider({ decide, evolve, initialState })
  spec
    .given([])
    .when({ type: 'add', n: 2 })
    .then([{ type: 'added', data: 2 }])
  spec
    .given([{ type: 'closed', data: null }])
    .when({ type: 'add', n: 2 })
    .thenThrows(Closed)
  spec
    .given([{ type: 'closed', data: null }])
    .when({ type: 'close' })
    .thenThrows((e) => e instanceof Closed)
  spec
    .given([{ type: 'closed', data: null }])
    .when({ type: 'close' })
    .thenThrows()
  expect(() =>
    spec
      .given([])
      .when({ type: 'add', n: 2 })
      .then([{ type: 'added', data: 3 }]),
  ).toThrow()
  expect(() => spec.given([]).when({ type: 'add', n: 2 }).thenThrows()).toThrow(
    /expected the command to be rejected/,
  )
  expect(() =>
    spec
      .given([{ type: 'closed', data: null }])
      .when({ type: 'close' })
      .thenThrows(TypeError),
  ).toThrow(/TypeError/)
})

test('an expectedRevision pins the decision: a conflict rejects at once; decide sees the revision', async () => {
  const s = await openStore(tempDir())
  open.push(s)
  await s.appendToStream('c', [{ type: 'added', data: 1 }])
  const contexts: unknown[] = []
  const ok = await handleCommand(
    s,
    'c',
    (st, ctx) => {
      contexts.push(ctx)
      return decide({ type: 'add', n: 2 }, st)
    },
    { initialState, evolve: evolveStored, expectedRevision: 1 },
  )
  expect(ok.nextExpectedRevision).toBe(2)
  expect(contexts).toEqual([{ revision: 1, exists: true, attempt: 0 }])
  await expect(
    handleCommand(s, 'c', (st) => decide({ type: 'add', n: 2 }, st), {
      initialState,
      evolve: evolveStored,
      expectedRevision: 1,
    }),
  ).rejects.toMatchObject({ code: 'WRONG_EXPECTED_REVISION', expected: 1, actual: 2 })
})
