import { join } from 'node:path'
import { Wal, type WalRecord } from '@waltz/core'
import { expect, it } from 'vitest'
import { tempDir } from '../../../test-support/temp-dir.js'
import { type Aggregate, recover, SnapshotStore, Snapshotter } from '../src/index.js'

// The README's example, run twice against a temp directory (the second run recovers the first's state).
it('runs the README example', async () => {
  const root = tempDir()
  for (const expected of [1, 2]) {
    const counts: Aggregate<Map<string, number>, WalRecord<string, Uint8Array>> = {
      initial: () => new Map(),
      apply: (state, r) => state.set(r.type, (state.get(r.type) ?? 0) + 1),
    }
    const wal = await Wal.open({ dir: join(root, 'wal'), sync: 'always' })
    const store = await SnapshotStore.open<Map<string, number>>({ dir: join(root, 'snapshots'), keep: 3 })
    let { state, snapshotSeq } = await recover({ wal, store, aggregate: counts })
    const snapshotter = new Snapshotter({
      wal,
      store,
      everyRecords: 1,
      everyMs: 60_000,
      lastSnapshotSeq: snapshotSeq,
    })
    const seq = await wal.append({ type: 'clicked', data: new Uint8Array([1]) })
    state = counts.apply(state, { seq, type: 'clicked', time: Date.now(), data: new Uint8Array([1]) })
    snapshotter.recordApplied(seq, state)
    await snapshotter.close()
    await wal.close()
    expect(state.get('clicked')).toBe(expected)
    expect((await store.loadLatest())?.seq).toBe(expected)
  }
})
