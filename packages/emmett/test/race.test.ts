import {
  ExpectedVersionConflictError,
  isExpectedVersionConflictError,
  STREAM_DOES_NOT_EXIST,
} from '@event-driven-io/emmett'
import { expect, test } from 'vitest'
import { tempDir } from '../../../test-support/temp-dir.js'
import { added, openStores } from './helpers.js'

test("of two appends with the same expected version exactly one wins, while fsyncs are in flight (sync 'always')", async () => {
  const { waltz, eventStore } = await openStores(tempDir(), { sync: 'always' })
  const rounds = 40
  let expected: bigint | typeof STREAM_DOES_NOT_EXIST = STREAM_DOES_NOT_EXIST
  let version = 0n
  // Other streams keep the WAL busy, so both appends of a round are decided while batches are
  // still waiting for their fdatasync.
  const noise = Array.from({ length: 8 }, (_, i) => eventStore.appendToStream(`noise-${i}`, [added()]))
  for (let round = 0; round < rounds; round++) {
    const a = { ...added(), metadata: { writer: 'a', round } }
    const b = { ...added(), metadata: { writer: 'b', round } }
    const pa = eventStore.appendToStream('cart', [a], { expectedStreamVersion: expected })
    const pn = eventStore.appendToStream(`noise-${round % 8}`, [added()])
    // Every other round the second append comes a turn of the event loop later, with the first one's
    // write and fdatasync under way.
    if (round % 2 === 1) await new Promise((resolve) => setImmediate(resolve))
    const pb = eventStore.appendToStream('cart', [b, b], { expectedStreamVersion: expected })
    const settled = await Promise.allSettled([pa, pb, pn])
    const [first, second] = settled
    const won = [first, second].filter((s) => s!.status === 'fulfilled')
    const lost = [first, second].filter((s) => s!.status === 'rejected') as PromiseRejectedResult[]
    expect(won).toHaveLength(1)
    expect(lost).toHaveLength(1)
    expect(lost[0]!.reason).toBeInstanceOf(ExpectedVersionConflictError)
    expect(isExpectedVersionConflictError(lost[0]!.reason)).toBe(true)
    const next = (won[0] as PromiseFulfilledResult<{ nextExpectedStreamVersion: bigint }>).value
    expect(next.nextExpectedStreamVersion).toBe(version + (first!.status === 'fulfilled' ? 1n : 2n))
    version = next.nextExpectedStreamVersion
    expected = version
  }
  await Promise.all(noise)
  const { events, currentStreamVersion } = await eventStore.readStream('cart')
  expect(currentStreamVersion).toBe(version)
  expect(BigInt(events.length)).toBe(version)
  // One winner per round, in round order, and no loser's event anywhere.
  const rounds_ = events.map((e) => (e.metadata as unknown as { round: number }).round)
  expect([...new Set(rounds_)]).toEqual(Array.from({ length: rounds }, (_, i) => i))
  expect(waltz.wal.metrics().fsyncs).toBeGreaterThan(0)
})
