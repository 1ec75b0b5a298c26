import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Wal } from '@waltz/core'
import { afterEach, expect } from 'vitest'
import { fold, isSnapshotError, msgpackrCodec } from '../src/index.js'
import { type Accounts, accounts, prng, randomTx } from './fixtures/accounts.mjs'

const dirs: string[] = []

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

/** A fresh temporary directory, removed after the current test. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'waltz-snapshot-'))
  dirs.push(dir)
  return dir
}

const codec = msgpackrCodec<unknown>()

/** SHA-256 (hex) of the state's default (msgpackr) encoding: equal hashes mean byte-identical states. */
export function stateHash(state: unknown): string {
  return createHash('sha256').update(codec.encode(state)).digest('hex')
}

/** Collects an async iterable into an array. */
export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const item of iterable) out.push(item)
  return out
}

/** Appends `count` pseudo-random transactions (seeded) in batches of up to 100; returns the last seq. */
export async function appendTxs(wal: Wal, count: number, seed = 1): Promise<number> {
  const random = prng(seed)
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
