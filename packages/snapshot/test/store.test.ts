import {
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import type { WalLogger } from '@waltz/core'
import { describe, expect, it } from 'vitest'
import { tempDir } from '../../../test-support/temp-dir.js'
import {
  encodeSnapshot,
  isSnapshotError,
  type SkippedSnapshot,
  SnapshotStore,
  type StateCodec,
  snapshotFileName,
} from '../src/index.js'
import { rejectsWith } from './helpers.js'

type State = Map<string, number>

function warnings(): { logger: WalLogger; warned: string[] } {
  const warned: string[] = []
  const noop = () => {}
  return {
    warned,
    logger: { debug: noop, info: noop, error: noop, warn: (m, f) => warned.push(`${m} ${f?.file}`) },
  }
}

describe('SnapshotStore', () => {
  it('saves and loads the latest snapshot with its seq', async () => {
    const dir = tempDir()
    const store = await SnapshotStore.open<State>({ dir })
    expect(await store.loadLatest()).toBeUndefined()
    const saved = await store.save(new Map([['a', 1]]), 10)
    expect(saved).toMatchObject({ seq: 10, file: join(dir, snapshotFileName(10)), retained: [10] })
    expect(saved.size).toBe(statSync(saved.file).size)
    await store.save(new Map([['a', 2]]), 20)
    const latest = await store.loadLatest()
    expect(latest).toMatchObject({ seq: 20, state: new Map([['a', 2]]), skipped: [] })
    expect(latest!.time).toBeGreaterThan(Date.now() - 60_000)
    const reopened = await SnapshotStore.open<State>({ dir })
    expect((await reopened.loadLatest())?.state).toEqual(new Map([['a', 2]]))
  })

  it('takes a copy when saving: mutating the state right after save() does not change the snapshot', async () => {
    const store = await SnapshotStore.open<State>({ dir: tempDir() })
    const state = new Map([['a', 1]])
    const saving = store.save(state, 1)
    state.set('a', 999)
    await saving
    expect((await store.loadLatest())?.state).toEqual(new Map([['a', 1]]))
  })

  it('keeps the newest `keep` snapshots (default 3)', async () => {
    const dir = tempDir()
    const store = await SnapshotStore.open<number>({ dir })
    expect(store.keep).toBe(3)
    for (let seq = 1; seq <= 6; seq++) {
      const saved = await store.save(seq, seq * 10)
      expect(saved.retained).toEqual([10, 20, 30, 40, 50, 60].slice(Math.max(0, seq - 3), seq))
    }
    expect(readdirSync(dir).sort()).toEqual([40, 50, 60].map(snapshotFileName))
    const one = await SnapshotStore.open<number>({ dir, keep: 1 })
    await one.save(7, 70)
    expect(readdirSync(dir)).toEqual([snapshotFileName(70)])
  })

  it('serializes concurrent saves', async () => {
    const dir = tempDir()
    const store = await SnapshotStore.open<number>({ dir, keep: 2 })
    await Promise.all([1, 2, 3, 4, 5].map((n) => store.save(n, n)))
    expect((await store.list()).map((s) => s.seq)).toEqual([4, 5])
    expect((await store.loadLatest())?.state).toBe(5)
  })

  it('falls back past a corrupt newest snapshot, and reports it', async () => {
    const dir = tempDir()
    const { logger, warned } = warnings()
    const store = await SnapshotStore.open<number>({ dir, logger })
    await store.save(1, 100)
    const newest = await store.save(2, 200)
    const bytes = readFileSync(newest.file)
    bytes[bytes.length - 10]! ^= 0x40 // a flipped bit in the state
    writeFileSync(newest.file, bytes)
    const onSkip: SkippedSnapshot[] = []
    const latest = await store.loadLatest({ onSkip: (s) => onSkip.push(s) })
    expect(latest).toMatchObject({ seq: 100, state: 1 })
    expect(latest!.skipped).toEqual([
      { seq: 200, file: newest.file, code: 'SNAPSHOT_CORRUPT', reason: expect.stringMatching(/checksum/) },
    ])
    expect(onSkip).toEqual(latest!.skipped)
    expect(warned).toEqual([`snapshot skipped ${newest.file}`])
  })

  it('falls back past truncated and empty snapshots (a torn write never counts as good)', async () => {
    const dir = tempDir()
    const store = await SnapshotStore.open<string>({ dir })
    await store.save('good', 1)
    const torn = await store.save('x'.repeat(1000), 2)
    truncateSync(torn.file, 500)
    writeFileSync(join(dir, snapshotFileName(3)), '')
    const latest = await store.loadLatest()
    expect(latest?.state).toBe('good')
    expect(latest?.skipped.map((s) => [s.seq, s.code])).toEqual([
      [3, 'SNAPSHOT_CORRUPT'],
      [2, 'SNAPSHOT_CORRUPT'],
    ])
  })

  it('treats a file whose header seq differs from its name as corrupt', async () => {
    const dir = tempDir()
    const store = await SnapshotStore.open<number>({ dir })
    const saved = await store.save(5, 5)
    writeFileSync(join(dir, snapshotFileName(9)), readFileSync(saved.file))
    const latest = await store.loadLatest()
    expect(latest?.seq).toBe(5)
    expect(latest?.skipped[0]).toMatchObject({ seq: 9, code: 'SNAPSHOT_CORRUPT' })
  })

  it('returns undefined when no snapshot is valid, still reporting what it skipped', async () => {
    const dir = tempDir()
    writeFileSync(join(dir, snapshotFileName(1)), 'garbage')
    const store = await SnapshotStore.open({ dir })
    const skipped: SkippedSnapshot[] = []
    expect(await store.loadLatest({ onSkip: (s) => skipped.push(s) })).toBeUndefined()
    expect(skipped.map((s) => s.code)).toEqual(['SNAPSHOT_CORRUPT'])
  })

  it('passes over snapshots above maxSeq as SNAPSHOT_STALE', async () => {
    const store = await SnapshotStore.open<number>({ dir: tempDir() })
    await store.save(1, 10)
    await store.save(2, 20)
    const latest = await store.loadLatest({ maxSeq: 19 })
    expect(latest?.seq).toBe(10)
    expect(latest?.skipped).toMatchObject([{ seq: 20, code: 'SNAPSHOT_STALE' }])
  })

  it('never loads temp files, and deletes them when opened', async () => {
    const dir = tempDir()
    const store = await SnapshotStore.open<string>({ dir })
    await store.save('committed', 1)
    // A complete, valid snapshot at a higher seq, but still under its temp name: a save that crashed
    // before its rename. It must not be taken.
    const temp = join(dir, `${snapshotFileName(2)}.4242-deadbeef.tmp`)
    writeFileSync(temp, store.prepare('uncommitted', 2).bytes)
    expect((await store.list()).map((s) => s.seq)).toEqual([1])
    expect((await store.loadLatest())?.state).toBe('committed')
    expect(readdirSync(dir)).toContain(`${snapshotFileName(2)}.4242-deadbeef.tmp`)
    const reopened = await SnapshotStore.open<string>({ dir })
    expect(readdirSync(dir)).toEqual([snapshotFileName(1)])
    expect((await reopened.loadLatest())?.state).toBe('committed')
  })

  it('leaves no temp file behind after saves, and ignores unrelated files', async () => {
    const dir = tempDir()
    writeFileSync(join(dir, 'README'), 'not a snapshot')
    const store = await SnapshotStore.open<number>({ dir })
    await store.save(1, 1)
    expect(readdirSync(dir).sort()).toEqual(['README', snapshotFileName(1)])
  })

  it('fails with SNAPSHOT_SERIALIZER_MISMATCH for an intact snapshot of another codec', async () => {
    const dir = tempDir()
    await (await SnapshotStore.open<number>({ dir })).save(1, 1)
    const other: StateCodec<number> = {
      name: 'other/1',
      encode: (n) => new Uint8Array([n]),
      decode: (b) => b[0]!,
    }
    const store = await SnapshotStore.open({ dir, codec: other })
    await rejectsWith(store.loadLatest(), 'SNAPSHOT_SERIALIZER_MISMATCH')
  })

  it('wraps codec failures as SNAPSHOT_SERIALIZER_ERROR', async () => {
    const dir = tempDir()
    const broken: StateCodec<number> = {
      name: 'broken/1',
      encode: (n) => {
        if (n < 0) throw new RangeError('negative')
        return new Uint8Array([n])
      },
      decode: () => {
        throw new Error('cannot decode')
      },
    }
    const store = await SnapshotStore.open({ dir, codec: broken })
    await rejectsWith(store.save(-1, 1), 'SNAPSHOT_SERIALIZER_ERROR')
    expect(() => store.prepare(-1, 1)).toThrow(/SNAPSHOT_SERIALIZER_ERROR/)
    await store.save(1, 1)
    await rejectsWith(store.loadLatest(), 'SNAPSHOT_SERIALIZER_ERROR')
  })

  it('fails with SNAPSHOT_FORMAT_UNSUPPORTED rather than skipping a newer format', async () => {
    const dir = tempDir()
    const store = await SnapshotStore.open<number>({ dir })
    await store.save(1, 1)
    const bytes = Buffer.from(
      encodeSnapshot({ seq: 2, time: 0, codec: store.codec.name, state: new Uint8Array([1]) }),
    )
    bytes.writeUInt16LE(99, 8)
    bytes.writeUInt32LE(crc32(bytes.subarray(0, bytes.length - 4)), bytes.length - 4)
    writeFileSync(join(dir, snapshotFileName(2)), bytes)
    await rejectsWith(store.loadLatest(), 'SNAPSHOT_FORMAT_UNSUPPORTED')
  })

  it('reports write failures as SNAPSHOT_IO and keeps the previous snapshot', async () => {
    const dir = tempDir()
    const store = await SnapshotStore.open<number>({ dir })
    await store.save(1, 1)
    mkdirSync(join(dir, snapshotFileName(2))) // rename onto a directory fails
    await rejectsWith(store.save(2, 2), 'SNAPSHOT_IO')
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([])
    rmdirSync(join(dir, snapshotFileName(2)))
    expect((await store.loadLatest())?.state).toBe(1)
  })

  it('rejects bad options and arguments', async () => {
    await rejectsWith(SnapshotStore.open({ dir: tempDir(), keep: 0 }), 'SNAPSHOT_INVALID_ARGUMENT')
    const codec = { name: '', encode: () => new Uint8Array(), decode: () => 0 }
    await rejectsWith(SnapshotStore.open({ dir: tempDir(), codec }), 'SNAPSHOT_INVALID_ARGUMENT')
    const store = await SnapshotStore.open({ dir: tempDir() })
    await rejectsWith(store.save(1, -1), 'SNAPSHOT_INVALID_ARGUMENT')
  })

  it('sets a snapshot aside with quarantine()', async () => {
    const dir = tempDir()
    const store = await SnapshotStore.open<number>({ dir })
    const saved = await store.save(1, 1)
    expect(await store.quarantine(saved.file)).toBe(`${saved.file}.stale`)
    expect(await store.loadLatest()).toBeUndefined()
    expect(readdirSync(dir)).toEqual([`${snapshotFileName(1)}.stale`])
  })
})

it('isSnapshotError checks name and code', () => {
  expect(isSnapshotError({ name: 'SnapshotError', code: 'SNAPSHOT_IO' }, 'SNAPSHOT_IO')).toBe(true)
  expect(isSnapshotError({ name: 'SnapshotError', code: 'SNAPSHOT_IO' }, 'SNAPSHOT_CORRUPT')).toBe(false)
  expect(isSnapshotError(new Error('x'))).toBe(false)
  expect(isSnapshotError(null)).toBe(false)
})
