import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { collect } from '../../../test-support/collect.js'
import { compressiblePayloadFor, payloadFor } from '../../../test-support/payload.mjs'
import { seededRandom } from '../../../test-support/random.mjs'
import { tempDir } from '../../../test-support/temp-dir.js'
import { Wal, type WalRecord } from '../src/index.js'
import { crashState, materialize, RecordingFiles, type Survival } from './power-loss.js'

/** Random variants per crash point on top of "all unsynced data lost" and "all kept". */
const RANDOM_VARIANTS = Number(process.env.WALTZ_POWER_LOSS_VARIANTS ?? 1)

interface Workload {
  ops: RecordingFiles['ops']
  blockingSyncs: number
  /** For each acknowledged seq, how many operations had completed when its append resolved. */
  ackedAt: Map<number, number>
  /** Bytes of record data appended. */
  dataBytes: number
}

/**
 * Appends singles and atomic batches from concurrent appenders, recording every op. In 'always' mode a
 * record is acknowledged when its append resolves; in 'os-cache' mode, when a later `sync()` resolves.
 */
async function recordWorkload(
  dir: string,
  seed: number,
  sync: 'always' | 'os-cache',
  blockingSync: boolean,
  compression: 'none' | 'deflate',
): Promise<Workload> {
  const payload = payloadOf(compression)
  let dataBytes = 0
  const recording = new RecordingFiles()
  const rnd = seededRandom(seed)
  const wal = await Wal.open({
    dir,
    sync,
    blockingSync,
    segmentSize: 6 * 1024,
    syncIntervalMs: 60_000,
    files: recording.files,
    compression,
  })
  const ackedAt = new Map<number, number>()
  const ack = (seq: number): void => {
    if (sync === 'always') ackedAt.set(seq, recording.ops.length)
  }
  const syncs = async (): Promise<void> => {
    const upTo = wal.lastSeq
    await wal.sync()
    for (let s = 1; s <= upTo; s++) if (!ackedAt.has(s)) ackedAt.set(s, recording.ops.length)
  }
  let nextId = 1
  const appender = async (): Promise<void> => {
    for (let i = 0; i < 12; i++) {
      if (rnd() < 0.25) {
        const count = 2 + Math.floor(rnd() * 3)
        const batch = nextId
        const records = Array.from({ length: count }, (_, k) => {
          const id = nextId++
          const size = Math.floor(rnd() * 1500)
          dataBytes += size
          return { type: `${id}:${size}:${batch}:${k}:${count}`, data: payload(id, size) }
        })
        const last = await wal.appendBatch(records)
        for (let s = last - count + 1; s <= last; s++) ack(s)
      } else {
        const id = nextId++
        const size = Math.floor(rnd() * 1500)
        dataBytes += size
        const seq = await wal.append({ type: `${id}:${size}:-:0:1`, data: payload(id, size) })
        ack(seq)
      }
      if (sync === 'os-cache' && rnd() < 0.15) await syncs()
    }
  }
  await Promise.all(Array.from({ length: 6 }, appender))
  // Retention in the middle of the run: deletes happen oldest first, each followed by a dir fsync.
  await wal.truncateBefore(Math.floor(wal.lastSeq / 3))
  await Promise.all(Array.from({ length: 3 }, appender))
  await wal.close()
  return { ops: recording.ops, ackedAt, blockingSyncs: recording.blockingSyncs, dataBytes }
}

/** The records' data: compressible when the log compresses (random bytes would be stored as they are). */
function payloadOf(compression: 'none' | 'deflate'): (id: number, size: number) => Uint8Array {
  return compression === 'none' ? payloadFor : compressiblePayloadFor
}

/** Checks one recovered log; returns how many acknowledged records it had to hold. */
function checkRecovered(
  records: WalRecord<string, Uint8Array>[],
  firstSeq: number,
  w: Workload,
  at: number,
  payload: (id: number, size: number) => Uint8Array,
): number {
  // Gap-free.
  expect(records.map((r) => r.seq)).toEqual(records.map((_, i) => firstSeq + i))
  const bySeq = new Map(records.map((r) => [r.seq, r]))
  // Never bytes that were not written: each record is exactly what some append wrote.
  for (const r of records) {
    const [id, size] = r.type.split(':').map(Number)
    expect(Buffer.from(r.data).equals(Buffer.from(payload(id!, size!)))).toBe(true)
  }
  // Every acknowledged record that retention did not remove is there.
  let required = 0
  for (const [seq, ackAt] of w.ackedAt) {
    if (ackAt > at || seq < firstSeq) continue
    required++
    expect(bySeq.has(seq), `acknowledged seq ${seq} lost (crash after op ${at})`).toBe(true)
  }
  // Atomic batches: all or nothing.
  for (const r of records) {
    const [, , batch, index, count] = r.type.split(':')
    if (batch === '-') continue
    const first = r.seq - Number(index)
    for (let s = first; s < first + Number(count); s++) {
      if (s >= firstSeq) expect(bySeq.has(s), `batch ${batch} half-present`).toBe(true)
    }
  }
  return required
}

describe('simulated power loss (ALICE-style crash states)', () => {
  it.each([
    ['always', false, 'none', 'append'],
    ['always', true, 'none', 'append'],
    ['os-cache', false, 'none', 'sync()'],
    // Compressed blocks: several records in one frame, so a torn block loses (or keeps) them together.
    ['always', false, 'deflate', 'append'],
  ] as const)(
    '%s (blockingSync %s, compression %s): every crash state recovers every record acknowledged by %s, and nothing unwritten',
    async (mode, blockingSync, compression, _acknowledgedBy) => {
      const w = await recordWorkload(tempDir(), 0x5eed, mode, blockingSync, compression)
      const syncCalls = w.ops.filter((o) => o.kind === 'fdatasync').length
      expect(syncCalls).toBeGreaterThan(10)
      // With blockingSync every fdatasync of the append path is the blocking call (segment creation
      // and directory syncs stay asynchronous).
      if (blockingSync) expect(w.blockingSyncs).toBeGreaterThan(syncCalls / 2)
      else expect(w.blockingSyncs).toBe(0)
      expect(w.ops.filter((o) => o.kind === 'syncDir').length).toBeGreaterThan(3) // rotations happened
      expect(w.ops.some((o) => o.kind === 'unlink')).toBe(true) // retention happened
      if (compression !== 'none') {
        // The records went into compressed blocks: segments got far fewer bytes than the data alone.
        const written = w.ops.reduce(
          (n, o) => n + (o.kind === 'write' && o.path.endsWith('.wal') ? o.data.length : 0),
          0,
        )
        expect(written).toBeLessThan(w.dataBytes / 2)
      }
      const root = tempDir()
      const rnd = seededRandom(42)
      let states = 0
      let acknowledgedChecked = 0
      let seekReads = 0
      for (let at = 0; at <= w.ops.length; at++) {
        const variants: Survival[] = [
          'none',
          'all',
          ...Array<Survival>(RANDOM_VARIANTS).fill('random-sectors'),
        ]
        for (const survival of variants) {
          const state = crashState(w.ops, at, survival, rnd)
          const dir = join(root, `state-${states++}`)
          materialize(state, dir)
          const wal = await Wal.open({ dir })
          const firstSeq = wal.firstSeq
          const records = wal.lastSeq >= firstSeq ? await collect(wal.records()) : []
          acknowledgedChecked += checkRecovered(records, firstSeq, w, at, payloadOf(compression))
          // Reads from a seq in the middle go through whatever seek files the state holds (written
          // without fsync: missing, empty or torn ones are not trusted).
          for (let k = 0; k < 3 && records.length > 0; k++) {
            const i = Math.floor(rnd() * records.length)
            const to = records[Math.min(records.length - 1, i + 2)]!.seq
            expect(await collect(wal.records({ from: records[i]!.seq, to }))).toEqual(records.slice(i, i + 3))
            seekReads++
          }
          // Appending continues where the recovered log ends.
          const next = await wal.append({ type: 'after', data: new Uint8Array([1]) })
          expect(next).toBe(wal.firstSeq + records.length)
          await wal.close()
        }
      }
      expect(states).toBeGreaterThan(200)
      expect(acknowledgedChecked).toBeGreaterThan(1000)
      // The workload rotated segments, so seek files were written (and are in most states).
      expect(w.ops.some((o) => o.kind === 'rename' && o.to.endsWith('.seek'))).toBe(true)
      console.info(
        `power loss (${mode}, blockingSync ${blockingSync}, compression ${compression}): ${states} crash states, ${acknowledgedChecked} acknowledged records checked, 0 lost, ${seekReads} reads from a seq in the middle`,
      )
    },
    120_000,
  )
})
