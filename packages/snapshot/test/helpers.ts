import { createHash } from 'node:crypto'
import { Wal } from '@waltz/core'
import { expect } from 'vitest'
import { collect } from '../../../test-support/collect.js'
import { seededRandom } from '../../../test-support/random.mjs'
import { fold, isSnapshotError, msgpackrCodec } from '../src/index.js'
import { type Accounts, accounts, randomTx } from './fixtures/accounts.mjs'

const codec = msgpackrCodec<unknown>()

/** SHA-256 (hex) of the state's default (msgpackr) encoding: equal hashes mean byte-identical states. */
export function stateHash(state: unknown): string {
  return createHash('sha256').update(codec.encode(state)).digest('hex')
}

/** Appends `count` pseudo-random transactions (seeded) in batches of up to 100; returns the last seq. */
export async function appendTxs(wal: Wal, count: number, seed = 1): Promise<number> {
  const random = seededRandom(seed)
  let last = wal.lastSeq
  for (let done = 0; done < count; ) {
    const n = Math.min(100, count - done)
    last = await wal.appendBatch(Array.from({ length: n }, () => randomTx(random)))
    done += n
  }
  return last
}

/** The state a replay of the whole WAL from zero gives. */
export async function fullReplay(wal: Wal): Promise<Accounts> {
  return fold(accounts, await collect(wal.records({ from: 1 })))
}

/** Opens a WAL in `dir` with small segments, so that `truncateBefore` has segments to delete. */
export function openWal(dir: string): Promise<Wal> {
  return Wal.open({ dir, segmentSize: 16 * 1024 })
}

/** Awaits `promise`, expects it to reject with a SnapshotError of `code`, and returns the error. */
export async function rejectsWith(promise: Promise<unknown>, code: string): Promise<unknown> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(isSnapshotError(err) ? err.code : err).toBe(code)
  return err
}
