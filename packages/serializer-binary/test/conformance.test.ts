import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { EncodableRecord } from '@waltz/core'
import fc from 'fast-check'
import { afterAll } from 'vitest'
import { serializerConformance } from '../../../test-support/serializer-conformance.js'
import { binarySerializer } from '../src/index.js'

type Rec = EncodableRecord<string, unknown>

const samples: Rec[] = [
  {
    type: 'OrderPlaced',
    time: 1_700_000_000_000,
    data: { orderId: 'o-1', price: 1999, quantity: 3, side: 'buy' },
  },
  { type: 'OrderCancelled', time: 1_700_000_000_001, data: { orderId: 'o-1', reason: null } },
  {
    type: 'Numbers',
    time: 1,
    data: { int: 42, neg: -7, float: 0.1, big: 2n ** 100n, small: 5n, nan: Number.NaN },
  },
  { type: 'Dates', time: 2, data: { at: new Date(1_700_000_000_123), invalid: new Date(Number.NaN) } },
  {
    type: 'Collections',
    time: 3,
    data: {
      list: [1, 'two', [3], { four: 4 }],
      map: new Map<unknown, unknown>([
        ['a', 1],
        [2, { b: true }],
      ]),
      set: new Set([1, 'x']),
      bytes: new Uint8Array([0, 1, 255]),
      floats: new Float64Array([1.5, -2]),
    },
  },
  { type: 'Nested', time: 4, data: { a: { b: { c: { d: [{ e: 1 }, { e: 2 }, { e: 3 }] } } } } },
  { type: 'Scalar', time: 5, data: 'just a string' },
  { type: 'Null', time: 6, data: null },
  { type: 'Bool', time: 7, data: false },
]

/** What both modes share: the samples and how text and time are carried. */
const common = {
  samples,
  empty: { type: 'Empty', time: 0, data: {} },
  text: {
    make: (text: string): Rec => ({ type: 'Text', time: 1, data: { text } }),
    read: (r: Rec): string => (r.data as { text: string }).text,
  },
  withTime: (time: number): Rec => ({ type: 'Timed', time, data: { ok: true } }),
  loneSurrogates: 'replaced' as const,
}

serializerConformance<Rec>('binarySerializer', {
  ...common,
  create: () => binarySerializer(),
  large: (bytes) => ({ type: 'Blob', time: 1, data: { blob: 'b'.repeat(bytes), note: 'x'.repeat(1000) } }),
  arbitrary: fc.record({
    type: fc.string({ minLength: 1, maxLength: 20 }),
    time: fc.double({ noNaN: true, noDefaultInfinity: true }).filter((t) => !Object.is(t, -0)),
    data: fc.jsonValue().filter((v) => !containsNegativeZero(v)),
  }),
})

serializerConformance<Rec>('binarySerializer with structuresPath', {
  ...common,
  create: () => binarySerializer({ structuresPath: sharedPath() }),
  large: (bytes) => ({ type: 'Blob', time: 1, data: { blob: 'b'.repeat(bytes) } }),
  arbitrary: fc.record({
    type: fc.constantFrom('A', 'B'),
    time: fc.integer(),
    data: fc.record({ id: fc.string(), qty: fc.integer(), tags: fc.array(fc.string(), { maxLength: 3 }) }),
  }),
})

// msgpackr writes -0 as the integer 0 (documented), so generated values avoid it.
function containsNegativeZero(value: unknown): boolean {
  if (typeof value === 'number') return Object.is(value, -0)
  if (Array.isArray(value)) return value.some(containsNegativeZero)
  if (typeof value === 'object' && value !== null) return Object.values(value).some(containsNegativeZero)
  return false
}

let sharedDir: string | undefined
function sharedPath(): string {
  sharedDir ??= mkdtempSync(join(tmpdir(), 'waltz-binary-conf-'))
  return join(sharedDir, 'structures.mp')
}
afterAll(() => {
  if (sharedDir !== undefined) rmSync(sharedDir, { recursive: true, force: true })
})
