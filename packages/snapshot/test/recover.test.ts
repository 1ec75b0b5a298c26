import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { type RecordShape, type Serializer, Wal, type WalRecordOf } from '@waltz/core'
import { describe, expect, it } from 'vitest'
import { collect } from '../../../test-support/collect.js'
import { tempDir } from '../../../test-support/temp-dir.js'
import { type Aggregate, fold, recover, SnapshotStore, snapshotFileName } from '../src/index.js'
import { type Accounts, accounts } from './fixtures/accounts.mjs'
import { appendTxs, fullReplay, openWal, rejectsWith, stateHash } from './helpers.js'

async function setup() {
  const root = tempDir()
  const wal = await openWal(join(root, 'wal'))
  const store = await SnapshotStore.open<Accounts>({ dir: join(root, 'snapshots') })
  return { root, wal, store }
}

describe('recover', () => {
  it('replays from zero when there is no snapshot', async () => {
    const { wal, store } = await setup()
    await appendTxs(wal, 500)
    const recovered = await recover({ wal, store, aggregate: accounts })
    expect(recovered).toMatchObject({
      seq: 500,
      snapshotSeq: 0,
      snapshotFile: undefined,
      replayed: 500,
      skipped: [],
    })
    expect(stateHash(recovered.state)).toBe(stateHash(await fullReplay(wal)))
    await wal.close()
  })

  it('on an empty WAL returns the initial state at seq 0', async () => {
    const { wal, store } = await setup()
    const recovered = await recover({ wal, store, aggregate: accounts })
    expect(recovered).toMatchObject({ seq: 0, replayed: 0 })
    expect(stateHash(recovered.state)).toBe(stateHash(accounts.initial()))
    await wal.close()
  })

  it('loads the latest snapshot and replays only the records after it, giving the full-replay state', async () => {
    const { wal, store } = await setup()
    await appendTxs(wal, 700, 1)
    await store.save(await fullReplay(wal), 700)
    await appendTxs(wal, 300, 2)
    const recovered = await recover({ wal, store, aggregate: accounts })
    expect(recovered).toMatchObject({ seq: 1000, snapshotSeq: 700, replayed: 300 })
    expect(recovered.snapshotFile).toMatch(/snapshot-00000000000000000700\.snap$/)
    expect(stateHash(recovered.state)).toBe(stateHash(await fullReplay(wal)))
    await wal.close()
  })

  it('uses a snapshot at the WAL end without replaying anything', async () => {
    const { wal, store } = await setup()
    await appendTxs(wal, 100)
    await store.save(await fullReplay(wal), 100)
    const recovered = await recover({ wal, store, aggregate: accounts })
    expect(recovered).toMatchObject({ seq: 100, snapshotSeq: 100, replayed: 0 })
    await wal.close()
  })

  it('is deterministic: the same WAL yields a byte-identical state, from any snapshot or none', async () => {
    const { root, wal, store } = await setup()
    await appendTxs(wal, 1000, 3)
    const hashes = new Set<string>()
    hashes.add(stateHash((await recover({ wal, store, aggregate: accounts })).state))
    for (const at of [1, 250, 999, 1000]) {
      const state = fold(accounts, await collect(wal.records({ from: 1, to: at })))
      const other = await SnapshotStore.open<Accounts>({ dir: join(root, `at-${at}`) })
      await other.save(state, at)
      hashes.add(stateHash((await recover({ wal, store: other, aggregate: accounts })).state))
    }
    await wal.close()
    // A fresh process: reopen and recover again.
    const reopened = await openWal(join(root, 'wal'))
    hashes.add(stateHash((await recover({ wal: reopened, store, aggregate: accounts })).state))
    expect(hashes.size).toBe(1)
    await reopened.close()
  })

  it('falls back to the previous snapshot when the newest is corrupt, with the same state', async () => {
    const { wal, store } = await setup()
    const { truncateSync } = await import('node:fs')
    await appendTxs(wal, 400, 1)
    await store.save(await fullReplay(wal), 400)
    await appendTxs(wal, 400, 2)
    const newest = await store.save(await fullReplay(wal), 800)
    await appendTxs(wal, 100, 3)
    truncateSync(newest.file, 100)
    const recovered = await recover({ wal, store, aggregate: accounts })
    expect(recovered).toMatchObject({ seq: 900, snapshotSeq: 400, replayed: 500 })
    expect(recovered.skipped).toMatchObject([{ seq: 800, code: 'SNAPSHOT_CORRUPT' }])
    expect(stateHash(recovered.state)).toBe(stateHash(await fullReplay(wal)))
    await wal.close()
  })

  it('still recovers the same state after snapshot + truncateBefore', async () => {
    const { wal, store } = await setup()
    await appendTxs(wal, 3000, 1)
    await store.save(await fullReplay(wal), 3000)
    await appendTxs(wal, 500, 2)
    const expected = stateHash(await fullReplay(wal))
    const removed = await wal.truncateBefore(3001)
    expect(removed).toBeGreaterThan(0)
    expect(wal.firstSeq).toBeGreaterThan(1)
    expect(wal.firstSeq).toBeLessThanOrEqual(3001)
    const recovered = await recover({ wal, store, aggregate: accounts })
    expect(recovered).toMatchObject({ seq: 3500, snapshotSeq: 3000 })
    expect(stateHash(recovered.state)).toBe(expected)
    await wal.close()
  })

  it('fails with SNAPSHOT_GAP when the records after the newest usable snapshot were truncated', async () => {
    const { wal, store } = await setup()
    await appendTxs(wal, 2000, 1)
    await store.save(await fullReplay(wal), 2000)
    await appendTxs(wal, 2000, 2)
    await wal.truncateBefore(4001)
    const firstSeq = wal.firstSeq
    expect(firstSeq).toBeGreaterThan(2001)
    const err = await rejectsWith(recover({ wal, store, aggregate: accounts }), 'SNAPSHOT_GAP')
    expect(String(err)).toContain(`WAL starts at seq ${firstSeq}`)
    // And with no snapshot at all.
    const empty = await SnapshotStore.open<Accounts>({ dir: join(tempDir(), 's') })
    await rejectsWith(recover({ wal, store: empty, aggregate: accounts }), 'SNAPSHOT_GAP')
    await wal.close()
  })

  it('sets a snapshot ahead of the WAL aside and falls back (the WAL lost records)', async () => {
    const { root, wal, store } = await setup()
    await appendTxs(wal, 300, 1)
    await store.save(await fullReplay(wal), 300)
    // A snapshot at seq 500 of a WAL that, after a power loss, only kept 400 records.
    await store.save(accounts.initial(), 500)
    await appendTxs(wal, 100, 2)
    const recovered = await recover({ wal, store, aggregate: accounts })
    expect(recovered).toMatchObject({ seq: 400, snapshotSeq: 300 })
    expect(recovered.skipped).toMatchObject([{ seq: 500, code: 'SNAPSHOT_STALE' }])
    expect(stateHash(recovered.state)).toBe(stateHash(await fullReplay(wal)))
    // Set aside: once new records reach seq 500 it must not be taken for their state.
    expect(readdirSync(join(root, 'snapshots'))).toContain(`${snapshotFileName(500)}.stale`)
    await appendTxs(wal, 200, 3)
    const later = await recover({ wal, store, aggregate: accounts })
    expect(later).toMatchObject({ seq: 600, snapshotSeq: 300, skipped: [] })
    expect(stateHash(later.state)).toBe(stateHash(await fullReplay(wal)))
    await wal.close()
  })

  it("with onStale: 'throw' fails with SNAPSHOT_STALE and touches nothing", async () => {
    const { root, wal, store } = await setup()
    await appendTxs(wal, 10)
    await store.save(accounts.initial(), 50)
    await rejectsWith(recover({ wal, store, aggregate: accounts, onStale: 'throw' }), 'SNAPSHOT_STALE')
    expect(readdirSync(join(root, 'snapshots'))).toEqual([snapshotFileName(50)])
    await wal.close()
  })

  it('on a WalReader passes over snapshots ahead of it without setting them aside', async () => {
    const { root, wal, store } = await setup()
    await appendTxs(wal, 100)
    await wal.sync()
    const reader = await Wal.openReader({ dir: join(root, 'wal') })
    await appendTxs(wal, 100, 2)
    await wal.sync()
    await store.save(await fullReplay(wal), 200) // the writer is ahead of the reader
    const recovered = await recover({ wal: reader, store, aggregate: accounts, onStale: 'throw' })
    expect(recovered).toMatchObject({ seq: 100, snapshotSeq: 0 })
    expect(readdirSync(join(root, 'snapshots'))).toEqual([snapshotFileName(200)])
    await reader.close()
    await wal.close()
  })

  it('works with typed WALs: the aggregate sees the record union narrowed by type, and keys', async () => {
    type Rec = RecordShape<'add', { n: number }> | RecordShape<'reset', null>
    const serializer: Serializer<Rec['type'], unknown, Rec> = {
      name: 'test-json/2',
      encode: (data) => new TextEncoder().encode(JSON.stringify(data)),
      decode: (b) => JSON.parse(new TextDecoder().decode(b)) as Rec['data'],
    }
    const sum: Aggregate<number, WalRecordOf<Rec>> = {
      initial: () => 0,
      apply: (total, r) => {
        if (r.key !== 'counter-1') return total
        return r.type === 'add' ? total + r.data.n : 0
      },
    }
    const root = tempDir()
    const wal = await Wal.open({ dir: join(root, 'wal'), serializer })
    const store = await SnapshotStore.open<number>({ dir: join(root, 'snapshots') })
    await wal.append({ type: 'add', data: { n: 5 } })
    await wal.append({ type: 'reset', data: null })
    await store.save(0, 2)
    await wal.appendBatch([
      { type: 'add', key: 'counter-1', data: { n: 2 } },
      { type: 'add', key: 'counter-2', data: { n: 100 } },
      { type: 'add', key: 'counter-1', data: { n: 3 }, headers: { by: 'test' } },
    ])
    expect(await recover({ wal, store, aggregate: sum })).toMatchObject({ state: 5, seq: 5, replayed: 3 })
    await wal.close()
  })
})
