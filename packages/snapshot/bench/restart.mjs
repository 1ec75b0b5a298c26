// Restart time with and without a snapshot: writes N small records (default 1,000,000), saves a
// snapshot `tail` records before the end (default 10,000), then times a cold restart (fresh Wal.open,
// SnapshotStore.open, recover) from that snapshot vs. a replay from zero. Runs against the build:
//   pnpm exec tsc -b packages/snapshot && node packages/snapshot/bench/restart.mjs [records] [tail] [segmentMiB]
// Both restarts also pay for Wal.open (it scans the newest segment), and replayFrom reads the segment
// holding the snapshot's seq from its start: the bound is `segmentSize` plus the records after the
// snapshot, never the whole log.
import { createHash } from 'node:crypto'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const snapshotDist = new URL('../dist/index.js', import.meta.url)
const coreDist = new URL('../../core/dist/index.js', import.meta.url)
if (!existsSync(snapshotDist) || !existsSync(coreDist)) throw new Error('run `pnpm build` first')
const { Wal } = await import(coreDist.href)
const { msgpackrCodec, recover, SnapshotStore } = await import(snapshotDist.href)

const total = Number(process.argv[2] ?? 1_000_000)
const tail = Number(process.argv[3] ?? 10_000)
const segmentSize = Number(process.argv[4] ?? 10) * 1024 * 1024
const ACCOUNTS = 10_000
const RUNS = 3

// Balances per account; data = account u16, amount i32 (LE).
const aggregate = {
  initial: () => new Map(),
  apply(state, record) {
    const view = new DataView(record.data.buffer, record.data.byteOffset, record.data.byteLength)
    const account = view.getUint16(0, true)
    state.set(account, (state.get(account) ?? 0) + view.getInt32(2, true))
    return state
  },
}

function record(i) {
  const data = new Uint8Array(6)
  const view = new DataView(data.buffer)
  view.setUint16(0, (i * 7919) % ACCOUNTS, true)
  view.setInt32(2, (i % 201) - 100, true)
  return { type: 'tx', data }
}

const root = mkdtempSync(join(tmpdir(), 'waltz-restart-bench-'))
const walDir = join(root, 'wal')
try {
  const t = performance.now()
  const wal = await Wal.open({ dir: walDir, sync: 'background', segmentSize })
  const store = await SnapshotStore.open({ dir: join(root, 'snapshots') })
  let state = aggregate.initial()
  const CHUNK = 1000
  for (let done = 0; done < total; done += CHUNK) {
    const batch = Array.from({ length: Math.min(CHUNK, total - done) }, (_, j) => record(done + j))
    const last = await wal.appendBatch(batch)
    batch.forEach((r, j) => {
      state = aggregate.apply(state, { ...r, seq: last - batch.length + 1 + j, time: 0 })
    })
    if (last === total - tail) {
      await wal.sync()
      await store.save(state, last)
    }
  }
  await wal.close()
  console.log(
    `wrote ${total.toLocaleString('en')} records (segments of ${segmentSize / 1024 / 1024} MiB) in ${((performance.now() - t) / 1000).toFixed(1)} s`,
  )

  const hash = (s) => createHash('sha256').update(msgpackrCodec().encode(s)).digest('hex').slice(0, 16)
  async function restart(snapshotDir) {
    const start = performance.now()
    const wal = await Wal.open({ dir: walDir, segmentSize })
    const openMs = performance.now() - start
    const store = await SnapshotStore.open({ dir: snapshotDir })
    const recovered = await recover({ wal, store, aggregate })
    const ms = performance.now() - start
    await wal.close()
    return { ms, openMs, recovered }
  }
  const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]
  const timed = async (dir) => {
    const runs = []
    for (let i = 0; i < RUNS; i++) runs.push(await restart(dir))
    const ms = median(runs.map((r) => r.ms))
    return { ms, openMs: median(runs.map((r) => r.openMs)), recovered: runs[0].recovered }
  }

  const withSnapshot = await timed(join(root, 'snapshots'))
  const fromZero = await timed(join(root, 'no-snapshots'))
  if (
    hash(withSnapshot.recovered.state) !== hash(fromZero.recovered.state) ||
    hash(state) !== hash(fromZero.recovered.state)
  ) {
    throw new Error('states differ')
  }
  const r = withSnapshot.recovered
  console.log(
    `restart with a snapshot at seq ${r.snapshotSeq.toLocaleString('en')} (${r.replayed.toLocaleString('en')} records replayed): ${withSnapshot.ms.toFixed(1)} ms (Wal.open ${withSnapshot.openMs.toFixed(1)} ms)`,
  )
  console.log(
    `restart replaying all ${fromZero.recovered.replayed.toLocaleString('en')} records from zero: ${fromZero.ms.toFixed(1)} ms (Wal.open ${fromZero.openMs.toFixed(1)} ms)`,
  )
  console.log(
    `ratio: ${(fromZero.ms / withSnapshot.ms).toFixed(1)}x faster with the snapshot (median of ${RUNS} runs each; same state hash ${hash(state)})`,
  )
} finally {
  rmSync(root, { recursive: true, force: true })
}
