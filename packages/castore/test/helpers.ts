import type { Serializer } from '@waltz/core'
import { EventStore, type EventStoreOptions } from '@waltz/eventstore'
import { afterEach } from 'vitest'
import { tempDir } from '../../../test-support/temp-dir.js'

export { rejection } from '../../../test-support/rejection.js'

/** Events of the tests: any type, JSON data (`undefined` kept apart from `null`). */
export type TestEvent = { type: string; data: unknown }

/** A plain JSON serializer: castore payloads are JSON; an absent payload is stored as no bytes. */
export const json: Serializer<string, unknown, TestEvent> = {
  name: 'test-json/1',
  encode: (data) => (data === undefined ? new Uint8Array(0) : Buffer.from(JSON.stringify(data))),
  decode: (bytes) =>
    bytes.byteLength === 0
      ? undefined
      : JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')),
}

const open: EventStore<TestEvent>[] = []
afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((s) => s.close()))
})

/**
 * Opens a store (closed after the test) in a fresh temporary directory, or in `dir`. `sync: 'always'`
 * keeps appends in flight until their fdatasync, long enough for concurrent callers to meet them.
 */
export async function openStore(
  dir = tempDir(),
  options: Pick<EventStoreOptions<TestEvent>, 'sync' | 'encryption'> = {},
): Promise<EventStore<TestEvent>> {
  const store = await EventStore.open<TestEvent>({ dir, serializer: json, indexFlushEvents: 64, ...options })
  open.push(store)
  return store
}
