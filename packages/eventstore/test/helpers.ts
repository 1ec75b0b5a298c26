import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Serializer } from '@waltz/core'
import { EventStore, type EventStoreOptions } from '../src/index.js'

/** Events of the tests: any type, JSON data. */
export type TestEvent = { type: string; data: unknown }

/** A plain JSON serializer (the store is serializer-agnostic; the serializer packages test themselves). */
export const json: Serializer<string, unknown, TestEvent> = {
  name: 'test-json/1',
  encode: (data) => Buffer.from(JSON.stringify(data)),
  decode: (bytes) =>
    JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')),
}

/** Opens a store in `dir` with the JSON serializer and small index tables (so tests exercise them). */
export function openStore(
  dir: string,
  options: Partial<EventStoreOptions<TestEvent>> = {},
): Promise<EventStore<TestEvent>> {
  return EventStore.open<TestEvent>({ dir, serializer: json, indexFlushEvents: 64, ...options })
}

/** `n` events of type `t` with data `{ i }`. */
export function events(n: number, t = 'e', start = 0): TestEvent[] {
  return Array.from({ length: n }, (_, k) => ({ type: t, data: { i: start + k } }))
}

/** Every file under `dir`, recursively, as bytes. */
export function allFiles(dir: string): { name: string; bytes: Buffer }[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => ({ name: join(e.parentPath, e.name), bytes: readFileSync(join(e.parentPath, e.name)) }))
}
