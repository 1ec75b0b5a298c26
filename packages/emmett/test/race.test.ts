import {
  ExpectedVersionConflictError,
  isExpectedVersionConflictError,
  STREAM_DOES_NOT_EXIST,
} from '@event-driven-io/emmett'
import { expect, test } from 'vitest'
import { tempDir } from '../../../test-support/temp-dir.js'
import { added, openStores } from './helpers.js'

test("of two appends with the same expected version exactly one wins, the second decided while the first waits for its fdatasync (sync 'always')", async () => {
  // An fdatasync off the event loop (core's default, pinned here): appends are decided while it runs.
  const { waltz, eventStore } = await openStores(tempDir(), { sync: 'always', blockingSync: false })
  const rounds = 40
  let expected: bigint | typeof STREAM_DOES_NOT_EXIST = STREAM_DOES_NOT_EXIST
  let version = 0n
  const noise = Array.from({ length: 8 }, (_, i) => eventStore.appendToStream(`noise-${i}`, [added()]))
  await Promise.all(noise)
  const before = waltz.wal.metrics()
  for (let round = 0; round < rounds; round++) {
    const a = { ...added(), metadata: { writer: 'a', round } }
    const b = { ...added(), metadata: { writer: 'b', round } }
    let settled = 0
    const done = () => void settled++
    const pa = eventStore.appendToStream('cart', [a], { expectedStreamVersion: expected })
    pa.then(done, done)
    const pn = eventStore.appendToStream(`noise-${round % 8}`, [added()])
    // Every other round the second append comes a turn of the event loop later, with the first one's
    // write and fdatasync under way.
    if (round % 2 === 1) await new Promise((resolve) => setImmediate(resolve))
    const pb = eventStore.appendToStream('cart', [b, b], { expectedStreamVersion: expected })
    pb.then(done, done)
    // Both are submitted and neither has settled: under 'always' an append settles after its batch's
    // fdatasync, and the WAL holds appended records that no fdatasync covers yet.
    expect(settled).toBe(0)
    const inFlight = waltz.wal.metrics()
    expect(inFlight.durableSeq).toBeLessThan(inFlight.lastSeq)
    const settledAll = await Promise.allSettled([pa, pb, pn])
    const [first, second] = settledAll
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
  const after = waltz.wal.metrics()
  // Every batch written was fdatasync'ed; each round waited for at least one fdatasync of its own
  // (rounds run one after another), and a batch carries one append or more (2 appends won per round).
  const fsyncs = after.fsyncs - before.fsyncs
  expect(fsyncs).toBe(after.batchesWritten - before.batchesWritten)
  expect(fsyncs).toBeGreaterThanOrEqual(rounds)
  expect(fsyncs).toBeLessThanOrEqual(2 * rounds)
  expect(after.durableSeq).toBe(after.lastSeq)
  const { events, currentStreamVersion } = await eventStore.readStream('cart')
  expect(currentStreamVersion).toBe(version)
  expect(BigInt(events.length)).toBe(version)
  // One winner per round, in round order, and no loser's event anywhere.
  const rounds_ = events.map((e) => (e.metadata as unknown as { round: number }).round)
  expect([...new Set(rounds_)]).toEqual(Array.from({ length: rounds }, (_, i) => i))
})
