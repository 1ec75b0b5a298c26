import { join } from 'node:path'
import { Wal, type WalLogger } from '@waltz/core'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { seededRandom } from '../../../test-support/random.mjs'
import { tempDir } from '../../../test-support/temp-dir.js'
import { isSnapshotError, recover, SnapshotStore, Snapshotter, type SnapshotterWal } from '../src/index.js'
import { type Accounts, accounts, randomTx } from './fixtures/accounts.mjs'
import { openWal, stateHash } from './helpers.js'

/**
 * Appends 30 batches of 50 random transactions, applies each record to `state` (telling the
 * snapshotter) and to `reference` (the full-replay state, kept aside), and returns the new reference.
 */
async function appendAndApply(
  wal: Wal,
  snapshotter: Snapshotter<Accounts>,
  state: Accounts,
  reference: Accounts,
  random: () => number,
): Promise<Accounts> {
  for (let i = 0; i < 30; i++) {
    const batch = Array.from({ length: 50 }, () => randomTx(random))
    const last = await wal.appendBatch(batch)
    batch.forEach((r, j) => {
      const record = { ...r, seq: last - batch.length + 1 + j, time: 0 }
      state = accounts.apply(state, record)
      reference = accounts.apply(reference, record)
    })
    snapshotter.recordApplied(last, state)
  }
  return reference
}

/** A stand-in WAL that records the calls the snapshotter makes, in order. */
function fakeWal(events: string[]): SnapshotterWal {
  return {
    async sync() {
      events.push('sync')
    },
    async truncateBefore(seq) {
      events.push(`truncateBefore ${seq}`)
      return 0
    },
  }
}

function eventLogger(events: string[]): WalLogger {
  const noop = () => {}
  return {
    debug: (m, f) => events.push(`${m} ${f?.seq ?? f?.before}`),
    info: noop,
    warn: noop,
    error: (m) => events.push(m),
  }
}

afterEach(() => {
  vi.useRealTimers()
})

describe('Snapshotter', () => {
  it('takes a snapshot every N records, syncing the WAL before writing it', async () => {
    const events: string[] = []
    const store = await SnapshotStore.open<number>({ dir: tempDir() })
    const snapshotter = new Snapshotter({
      wal: fakeWal(events),
      store,
      everyRecords: 10,
      everyMs: Number.POSITIVE_INFINITY,
      logger: eventLogger(events),
    })
    const started: number[] = []
    for (let seq = 1; seq <= 35; seq++) {
      if (snapshotter.recordApplied(seq, seq * 100)) started.push(seq)
      await snapshotter.idle()
    }
    await snapshotter.close()
    expect(started).toEqual([10, 20, 30])
    expect(events).toEqual(
      [10, 20, 30].flatMap((s) => [`snapshot start ${s}`, 'sync', `snapshot saved ${s}`]),
    )
    expect((await store.list()).map((s) => s.seq)).toEqual([10, 20, 30])
    expect((await store.loadLatest())?.state).toBe(3000)
  })

  it('takes a snapshot after T ms once records were applied', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const store = await SnapshotStore.open<number>({ dir: tempDir() })
    const snapshotter = new Snapshotter({ wal: fakeWal([]), store, everyRecords: 1000, everyMs: 5000 })
    expect(snapshotter.recordApplied(1, 1)).toBe(false)
    vi.advanceTimersByTime(4999)
    expect(snapshotter.recordApplied(2, 2)).toBe(false)
    vi.advanceTimersByTime(1)
    expect(snapshotter.recordApplied(3, 3)).toBe(true)
    await snapshotter.close()
    expect((await store.loadLatest())?.seq).toBe(3)
  })

  it('with `current`, a timer takes the T-ms snapshot while no records arrive', async () => {
    const store = await SnapshotStore.open<number>({ dir: tempDir() })
    let seq = 0
    const snapshotter = new Snapshotter({
      wal: fakeWal([]),
      store,
      everyRecords: 1000,
      everyMs: 20,
      current: () => ({ state: seq * 2, seq }),
    })
    seq = 7
    await vi.waitFor(async () => expect((await store.loadLatest())?.seq).toBe(7), {
      timeout: 2000,
      interval: 10,
    })
    await snapshotter.close()
    expect((await store.loadLatest())?.state).toBe(14)
  })

  it('copies the state when the snapshot starts: later mutations are not in it', async () => {
    const store = await SnapshotStore.open<Map<string, number>>({ dir: tempDir() })
    const snapshotter = new Snapshotter({ wal: fakeWal([]), store, everyRecords: 1 })
    const state = new Map([['a', 1]])
    expect(snapshotter.recordApplied(1, state)).toBe(true)
    state.set('a', 2)
    state.set('b', 3)
    await snapshotter.close()
    expect((await store.loadLatest())?.state).toEqual(new Map([['a', 1]]))
  })

  it('keeps one snapshot in flight at a time; close() waits for it', async () => {
    const events: string[] = []
    let release: () => void = () => {}
    const wal: SnapshotterWal = {
      sync: () => {
        events.push('sync')
        return new Promise<void>((resolve) => {
          release = resolve
        })
      },
      truncateBefore: async () => 0,
    }
    const store = await SnapshotStore.open<number>({ dir: tempDir() })
    const snapshotter = new Snapshotter({ wal, store, everyRecords: 1 })
    expect(snapshotter.recordApplied(1, 1)).toBe(true)
    expect(snapshotter.busy).toBe(true)
    expect(snapshotter.recordApplied(2, 2)).toBe(false)
    expect(snapshotter.recordApplied(3, 3)).toBe(false)
    const closing = snapshotter.close()
    await new Promise((r) => setTimeout(r, 20))
    expect(await store.list()).toEqual([])
    release()
    await closing
    expect(snapshotter.busy).toBe(false)
    expect((await store.list()).map((s) => s.seq)).toEqual([1])
    expect(events).toEqual(['sync'])
    expect(() => snapshotter.recordApplied(4, 4)).toThrow(/SNAPSHOT_CLOSED/)
    await expect(snapshotter.snapshot(4, 4)).rejects.toThrow(/SNAPSHOT_CLOSED/)
  })

  it('snapshot() takes one now, after the one in flight', async () => {
    const store = await SnapshotStore.open<number>({ dir: tempDir() })
    const snapshotter = new Snapshotter({ wal: fakeWal([]), store, everyRecords: 1 })
    snapshotter.recordApplied(1, 1)
    const saved = await snapshotter.snapshot(2, 2)
    expect(saved.seq).toBe(2)
    expect(snapshotter.lastSnapshotSeq).toBe(2)
    expect((await store.list()).map((s) => s.seq)).toEqual([1, 2])
    await snapshotter.close()
  })

  it('reports failures to onError and tries again when due again', async () => {
    const errors: unknown[] = []
    let failSync = true
    const wal: SnapshotterWal = {
      sync: async () => {
        if (failSync) throw new Error('disk gone')
      },
      truncateBefore: async () => 0,
    }
    const store = await SnapshotStore.open<number>({ dir: tempDir() })
    const snapshotter = new Snapshotter({ wal, store, everyRecords: 2, onError: (e) => errors.push(e) })
    snapshotter.recordApplied(2, 2)
    await snapshotter.idle()
    expect(errors).toHaveLength(1)
    expect(await store.list()).toEqual([])
    failSync = false
    expect(snapshotter.recordApplied(3, 3)).toBe(false) // not due again yet
    expect(snapshotter.recordApplied(4, 4)).toBe(true)
    await snapshotter.close()
    expect((await store.list()).map((s) => s.seq)).toEqual([4])
  })

  it('reports an encoding failure to onError without throwing from recordApplied', async () => {
    const errors: unknown[] = []
    const codec = {
      name: 'picky/1',
      encode: (n: number) => {
        if (n === 13) throw new Error('unlucky')
        return new Uint8Array([n])
      },
      decode: (b: Uint8Array) => b[0]!,
    }
    const store = await SnapshotStore.open({ dir: tempDir(), codec })
    const snapshotter = new Snapshotter({
      wal: fakeWal([]),
      store,
      everyRecords: 1,
      onError: (e) => errors.push(e),
    })
    expect(snapshotter.recordApplied(1, 13)).toBe(true)
    expect(isSnapshotError(errors[0], 'SNAPSHOT_SERIALIZER_ERROR')).toBe(true)
    await snapshotter.close()
  })

  it('with truncate, drops the WAL segments before the oldest retained snapshot', async () => {
    const events: string[] = []
    const store = await SnapshotStore.open<number>({ dir: tempDir(), keep: 2 })
    const snapshotter = new Snapshotter({ wal: fakeWal(events), store, everyRecords: 10, truncate: true })
    for (let seq = 1; seq <= 30; seq++) {
      snapshotter.recordApplied(seq, seq)
      await snapshotter.idle()
    }
    await snapshotter.close()
    expect(events).toEqual([
      'sync',
      'truncateBefore 11',
      'sync',
      'truncateBefore 11',
      'sync',
      'truncateBefore 21',
    ])
  })

  it('does not truncate by default', async () => {
    const events: string[] = []
    const store = await SnapshotStore.open<number>({ dir: tempDir() })
    const snapshotter = new Snapshotter({ wal: fakeWal(events), store, everyRecords: 1 })
    snapshotter.recordApplied(1, 1)
    await snapshotter.close()
    expect(events).toEqual(['sync'])
  })

  it('rejects non-positive intervals', async () => {
    const store = await SnapshotStore.open<number>({ dir: tempDir() })
    expect(() => new Snapshotter({ wal: fakeWal([]), store, everyRecords: 0 })).toThrow(
      /SNAPSHOT_INVALID_ARGUMENT/,
    )
    expect(() => new Snapshotter({ wal: fakeWal([]), store, everyMs: -1 })).toThrow(
      /SNAPSHOT_INVALID_ARGUMENT/,
    )
  })

  it('end to end on a real WAL with truncation: restarts recover the full-replay state', async () => {
    const root = tempDir()
    const random = seededRandom(11)
    let reference = accounts.initial() // the full-replay state, kept aside since the WAL gets truncated
    for (let run = 0; run < 3; run++) {
      const wal = await openWal(join(root, 'wal'))
      const store = await SnapshotStore.open<Accounts>({ dir: join(root, 'snapshots'), keep: 2 })
      const recovered = await recover({ wal, store, aggregate: accounts })
      expect(stateHash(recovered.state)).toBe(stateHash(reference))
      const snapshotter = new Snapshotter({
        wal,
        store,
        everyRecords: 700,
        truncate: true,
        lastSnapshotSeq: recovered.snapshotSeq,
      })
      reference = await appendAndApply(wal, snapshotter, recovered.state, reference, random)
      await snapshotter.close()
      expect(wal.firstSeq).toBeGreaterThan(1) // truncated: a replay from zero is no longer possible
      await wal.close()
    }
  })

  it("keepFrom() as the WAL's retention floor: size-based retention never removes what recovery needs", async () => {
    const root = tempDir()
    const random = seededRandom(12)
    let reference = accounts.initial()
    for (let run = 0; run < 3; run++) {
      let snapshotter: Snapshotter<Accounts> | undefined
      // A tiny maxBytes: without the floor, retention would remove all but the newest segment.
      const wal = await Wal.open({
        dir: join(root, 'wal'),
        segmentSize: 8 * 1024,
        retention: { maxBytes: 8 * 1024, keepFrom: () => snapshotter?.keepFrom() ?? 0, intervalMs: 5 },
      })
      const store = await SnapshotStore.open<Accounts>({ dir: join(root, 'snapshots'), keep: 2 })
      const recovered = await recover({ wal, store, aggregate: accounts })
      expect(stateHash(recovered.state)).toBe(stateHash(reference))
      snapshotter = new Snapshotter({ wal, store, everyRecords: 600, lastSnapshotSeq: recovered.snapshotSeq })
      expect(snapshotter.keepFrom()).toBe(0) // nothing saved by this snapshotter yet: keep everything
      reference = await appendAndApply(wal, snapshotter, recovered.state, reference, random)
      await snapshotter.idle()
      const floor = snapshotter.keepFrom()
      expect(floor).toBeGreaterThan(1)
      await new Promise((r) => setTimeout(r, 50))
      // Retention removed segments, but none holding a record at or after the floor.
      expect(wal.firstSeq).toBeGreaterThan(1)
      expect(wal.firstSeq).toBeLessThanOrEqual(floor)
      await snapshotter.close()
      await wal.close()
    }
  })
})
