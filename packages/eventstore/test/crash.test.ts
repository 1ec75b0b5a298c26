import type { ChildProcess } from 'node:child_process'
import { cpSync, existsSync, type FSWatcher, readdirSync, rmSync, watch, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it, onTestFailed } from 'vitest'
import { exited, onLines, requireBuilt, startNode, waitForLine } from '../../../test-support/child-process.js'
import { collect } from '../../../test-support/collect.js'
import { seededRandom } from '../../../test-support/random.mjs'
import { tempDir } from '../../../test-support/temp-dir.js'
import type { EventStore, ReadStreamOptions } from '../src/index.js'
import { parseTableFileName } from '../src/index-table.js'
import { StormLedger } from './crash-ledger.js'
import { exists, type LogTruth, readLogTruth, visibleEvents } from './crash-oracle.js'
import { eventFor } from './fixtures/events.mjs'
import { openStore, type TestEvent } from './helpers.js'

/**
 * SIGKILLs in all, two thirds at random moments of the storm and one third as an index table is
 * written: a dozen in the normal suite; `pnpm test:crash` runs 200.
 */
const KILLS = Number(process.env.WALTZ_CRASH_KILLS ?? 12)
const TABLE_KILLS = Math.max(1, Math.floor(KILLS / 3))
const STORM_KILLS = Math.max(1, KILLS - TABLE_KILLS)
const SEED = Number(process.env.WALTZ_CRASH_SEED ?? Date.now() % 1e9)
const STREAMS = 200
/** A fresh store every this many kills bounds each round's full check on long runs. */
const KILLS_PER_STORE = 5

const STORM = new URL('./fixtures/storm.mjs', import.meta.url)

interface KillStats {
  /** Kills that left a table being written (a `.tmp` in `index/`). */
  midTableWrite: number
  /** ... of which the table was a merge of existing tables. */
  midMerge: number
  /** Kills that left a merged table beside the tables it replaces. */
  mergedNotCleaned: number
}

/** Where a round's child is killed: after some acknowledged appends, or as it writes an index table. */
type KillAt = { acks: number } | { tableWrites: number }

/**
 * One storm child on `dir`: retries the ledger's appends in doubt, then runs until `killAt`, is
 * SIGKILLed, and its output is in the ledger.
 */
async function stormAndKill(
  dir: string,
  scratch: string,
  ledger: StormLedger,
  args: { seed: number; run: number; workers: number; flushEvents: number; segmentSize: number },
  killAt: KillAt,
): Promise<void> {
  requireBuilt(new URL('../dist/index.js', import.meta.url))
  const inDoubt = join(scratch, `in-doubt-${args.run}.json`)
  writeFileSync(inDoubt, JSON.stringify(ledger.inDoubt()))
  const child = startNode(STORM, [
    dir,
    String(args.seed),
    String(args.run),
    String(STREAMS),
    String(args.workers),
    String(args.flushEvents),
    String(args.segmentSize),
    inDoubt,
  ])
  // Every line the child printed is read before the round is checked (stdout closes after 'exit').
  const closed = new Promise((resolve) => child.once('close', resolve))
  onLines(child, (line) => ledger.line(line))
  let watcher: FSWatcher | undefined
  try {
    await waitForLine(child, (line) => line === 'ready')
    if ('acks' in killAt) {
      let left = killAt.acks
      await waitForLine(child, (line) => line.startsWith('ack ') && --left <= 0)
    } else {
      watcher = await tableWrite(child, join(dir, 'index'), killAt.tableWrites)
    }
  } finally {
    watcher?.close()
    child.kill('SIGKILL')
    await exited(child)
    await closed
  }
}

/** Resolves at the `n`th index table file the child starts writing (a `.tmp` appearing in `indexDir`). */
function tableWrite(child: ChildProcess, indexDir: string, n: number): Promise<FSWatcher> {
  return new Promise((resolve, reject) => {
    let left = n
    const onExit = () => reject(new Error('the storm child exited before the kill'))
    child.once('exit', onExit)
    const watcher = watch(indexDir, (_event, name) => {
      // A temp file's rename away is an event too: count the ones that are there (being written).
      if (!name?.endsWith('.wzi.tmp') || !existsSync(join(indexDir, name)) || --left > 0) return
      child.off('exit', onExit)
      resolve(watcher)
    })
  })
}

/** Table files (and temp files) in a store's `index/` after a kill, before anything opens it. */
function noteKill(dir: string, stats: KillStats): void {
  const names = readdirSync(join(dir, 'index'))
  const tables = names.flatMap((n) => parseTableFileName(n) ?? [])
  for (const name of names.filter((n) => n.endsWith('.tmp'))) {
    stats.midTableWrite++
    const range = parseTableFileName(name.slice(0, -'.tmp'.length))!
    if (tables.some((t) => t.coveredFrom === range.coveredFrom && t.coveredTo < range.coveredTo)) {
      stats.midMerge++
    }
  }
  if (
    tables.some((a) =>
      tables.some((b) => a !== b && a.coveredFrom <= b.coveredFrom && a.coveredTo >= b.coveredTo),
    )
  ) {
    stats.mergedNotCleaned++
  }
}

/** Deep equality, checked through JSON first (every stream is compared on every round). */
function sameEvents(got: unknown[], want: unknown[], what: string): void {
  if (JSON.stringify(got) !== JSON.stringify(want)) expect(got, what).toEqual(want)
}

/** The types of the markers (deletes, tombstones) of `stream` after `position` in the log. */
function markersAfter(truth: LogTruth, stream: string, position: number): Set<string> {
  const types = new Set<string>()
  for (const [at, m] of truth.markers) if (at > position && m.stream === stream) types.add(m.type)
  return types
}

/**
 * Checks every outcome the children printed against the log: acknowledged appends are there whole,
 * at their revisions and positions; acknowledged markers too; refused appends wrote nothing; every
 * batch in the log is whole and consecutive; every event in the log was sent, and is there once. A
 * retry of an append that was durable returns the original, or is refused once the stream has been
 * tombstoned since.
 */
function checkLedger(ledger: StormLedger, truth: LogTruth): void {
  expect(ledger.garbled).toEqual([])
  for (const o of ledger.ops.values()) {
    if (o.kind !== 'append') {
      if (o.outcome?.ack) {
        const marker = truth.markers.get(o.outcome.position)
        expect(marker, `acknowledged ${o.kind} ${o.op}`).toMatchObject({
          stream: o.stream,
          type: o.kind === 'delete' ? '$deleted' : '$tombstone',
        })
      }
      continue
    }
    const found = o.ids.map((id) => truth.positions.get(id)?.[0])
    const present = found.filter((p) => p !== undefined)
    expect(present.length === 0 || present.length === o.ids.length, `batch ${o.op} is torn`).toBe(true)
    if (present.length > 0) {
      expect(present, `batch ${o.op} is not consecutive`).toEqual(present.map((_, k) => present[0]! + k))
    }
    const copies = truth.positions.get(o.ids[0]!)?.length ?? 0
    if (o.outcome?.ack) {
      const { position, next } = o.outcome
      const n = o.ids.length
      const at = o.ids.map((_, k) => truth.events.get(position - n + 1 + k))
      expect(
        at.map((e) => e && { stream: e.stream, revision: e.revision, id: e.id }),
        `acknowledged append ${o.op} (expected ${o.expected}, sent ${o.sends}x)`,
      ).toEqual(o.ids.map((id, k) => ({ stream: o.stream, revision: next! - n + 1 + k, id })))
    } else if (o.outcome && o.sends === 1) {
      expect(found, `refused append ${o.op} wrote events`).toEqual(o.ids.map(() => undefined))
    }
    const outcome = o.outcome
    if (o.sends > 1 && outcome && copies === 1 && !outcome.ack) {
      expect(
        outcome.code === 'STREAM_TOMBSTONED' && markersAfter(truth, o.stream, found[0]!).has('$tombstone'),
        `retry of durable append ${o.op} (expected ${o.expected}) was refused: ${JSON.stringify(outcome)}`,
      ).toBe(true)
    }
  }
  for (const [id, positions] of truth.positions) {
    expect(positions, `event ${id} is in the log more than once`).toHaveLength(1)
  }
  for (const e of truth.events.values()) {
    const op = e.id.slice(0, e.id.lastIndexOf('.'))
    expect(ledger.ops.get(op)?.ids, `event ${e.id} at ${e.position} was never sent`).toContain(e.id)
  }
}

/** A random partial read, asked of both stores. */
function readWindow(rnd: () => number, revision: number): ReadStreamOptions {
  return {
    from: Math.floor(rnd() * (revision + 2)),
    maxCount: 1 + Math.floor(rnd() * 8),
    direction: rnd() < 0.5 ? 'backwards' : 'forwards',
  }
}

/** A recovered store's `index/` right after open: no temp file, tables a chain of consecutive ranges. */
function checkIndexDir(dir: string, position: number): void {
  const names = readdirSync(join(dir, 'index'))
  expect(
    names.filter((n) => n.endsWith('.tmp')),
    'temp files left after open',
  ).toEqual([])
  const ranges = names
    .flatMap((n) => parseTableFileName(n) ?? [])
    .sort((a, b) => a.coveredFrom - b.coveredFrom)
  let next = 1
  for (const r of ranges) {
    expect(r.coveredFrom, `index tables ${JSON.stringify(ranges)}`).toBe(next)
    next = r.coveredTo + 1
  }
  expect(next - 1).toBeLessThanOrEqual(position)
}

/**
 * Opens the killed store (the directory itself, or a copy so the next child recovers the crash state
 * itself) and a copy without `index/` (a rebuild from the WAL), and checks both against the log and
 * the ledger; then appends a probe to every stream at the revision the log says it has.
 */
async function verify(
  dir: string,
  ledger: StormLedger,
  round: number,
  rnd: () => number,
  options: { onOriginal: boolean; segmentSize: number },
): Promise<void> {
  const { onOriginal, segmentSize } = options
  const rebuiltDir = tempDir()
  cpSync(dir, rebuiltDir, { recursive: true, filter: (src) => src !== join(dir, 'index') })
  let recoveredDir = dir
  if (!onOriginal) {
    recoveredDir = tempDir()
    cpSync(dir, recoveredDir, { recursive: true })
  }
  const flushEvents = [8, 64, 65_536][Math.floor(rnd() * 3)]!
  let recovered: EventStore<TestEvent> | undefined
  let rebuilt: EventStore<TestEvent> | undefined
  try {
    recovered = await openStore(recoveredDir, { sync: 'always', segmentSize, indexFlushEvents: flushEvents })
    checkIndexDir(recoveredDir, recovered.position)
    rebuilt = await openStore(rebuiltDir, { sync: 'always', segmentSize })
    const truth = await readLogTruth(rebuilt)
    checkLedger(ledger, truth)
    expect(recovered.position, 'recovered position').toBe(truth.lastPosition)
    expect(rebuilt.position, 'rebuilt position').toBe(truth.lastPosition)

    const names = new Set([...Array.from({ length: STREAMS }, (_, i) => `s-${i}`), ...truth.streams.keys()])
    for (const stream of names) {
      const s = truth.streams.get(stream)
      const want = visibleEvents(s)
      sameEvents(await collect(recovered.readStream(stream)), want, `readStream(${stream}) after recovery`)
      sameEvents(await collect(rebuilt.readStream(stream)), want, `readStream(${stream}) rebuilt`)
      expect(await recovered.streamExists(stream), `streamExists(${stream})`).toBe(exists(s))
      expect(await rebuilt.streamExists(stream), `streamExists(${stream}) rebuilt`).toBe(exists(s))
      const w = readWindow(rnd, s?.revision ?? 0)
      sameEvents(
        await collect(recovered.readStream(stream, w)),
        await collect(rebuilt.readStream(stream, w)),
        `readStream(${stream}, ${JSON.stringify(w)})`,
      )
    }

    // Every event was read where the index said it lies (recovered tables, catch-up and rebuild alike).
    for (const [name, store] of [
      ['recovered', recovered],
      ['rebuilt', rebuilt],
    ] as const) {
      const { hits, misses } = store.metrics().wal.locatedReads
      expect(misses, `${name}: reads the index's locations missed`).toBe(0)
      if (truth.events.size > 0) expect(hits, `${name}: reads by location`).toBeGreaterThan(0)
    }

    // The summaries: the next revision is what the log says, and a wrong one is refused.
    const probes = [...names].map(async (stream) => {
      const s = truth.streams.get(stream)
      const revision = s?.revision ?? 0
      const wrongIds = [`probe-${round}-wrong.${stream}.0`]
      const ids = [`probe-${round}.${stream}.0`]
      const wrong = await recovered!
        .appendToStream(stream, wrongIds.map(eventFor), { expectedRevision: revision + 1 })
        .then(
          () => 'written',
          (err: { code?: string; actual?: number }) => `${err.code} ${err.actual ?? '-'}`,
        )
      expect(wrong, `append to ${stream} expecting ${revision + 1}`).toBe(
        s?.tombstoned ? 'STREAM_TOMBSTONED -' : `WRONG_EXPECTED_REVISION ${revision}`,
      )
      const right = await recovered!
        .appendToStream(stream, ids.map(eventFor), { expectedRevision: revision })
        .then(
          (r) => r,
          (err: { code?: string }) => err.code,
        )
      if (s?.tombstoned) {
        expect(right, `append to tombstoned ${stream}`).toBe('STREAM_TOMBSTONED')
      } else {
        expect(right, `append to ${stream} expecting ${revision}`).toMatchObject({
          nextExpectedRevision: revision + 1,
          created: !exists(s),
        })
        const [last] = await collect(recovered!.readStream(stream, { direction: 'backwards', maxCount: 1 }))
        expect(last, `the probe of ${stream}`).toMatchObject({ revision: revision + 1, id: ids[0] })
      }
      if (onOriginal) {
        const base = { kind: 'append' as const, stream, expected: revision }
        ledger.record({
          ...base,
          op: `probe-${round}-wrong.${stream}`,
          expected: revision + 1,
          ids: wrongIds,
          outcome: { ack: false, code: 'refused', actual: undefined },
        })
        ledger.record({
          ...base,
          op: `probe-${round}.${stream}`,
          ids,
          outcome:
            typeof right === 'object'
              ? { ack: true, position: right.position, next: right.nextExpectedRevision }
              : { ack: false, code: String(right), actual: undefined },
        })
      }
    })
    await Promise.all(probes)
  } finally {
    await recovered?.close()
    await rebuilt?.close()
    rmSync(rebuiltDir, { recursive: true, force: true })
    if (!onOriginal) rmSync(recoveredDir, { recursive: true, force: true })
  }
}

/**
 * Small segments: the log rotates during the storm, and reading one event (the store reads a stream
 * event by event) scans a small segment, not the whole log.
 */
function segmentSizeFor(rnd: () => number): number {
  return [8, 16, 32][Math.floor(rnd() * 3)]! * 1024
}

async function crashRounds(kills: number, seed: number, mode: 'acks' | 'tables'): Promise<void> {
  const rnd = seededRandom(seed)
  const scratch = tempDir()
  const stats: KillStats = { midTableWrite: 0, midMerge: 0, mergedNotCleaned: 0 }
  let dir = tempDir()
  let ledger = new StormLedger()
  let segmentSize = segmentSizeFor(rnd)
  let acked = 0
  let inDoubt = 0
  const started = performance.now()
  let round = 0
  // A kill as a table is written can land just after it: a few extra rounds make sure one lands inside.
  const more = () => mode === 'tables' && stats.midTableWrite === 0 && round < kills + 10
  for (; round < kills || more(); round++) {
    if (round > 0 && round % KILLS_PER_STORE === 0) {
      acked += ledger.acked
      dir = tempDir()
      ledger = new StormLedger()
      segmentSize = segmentSizeFor(rnd)
    }
    const flushEvents = mode === 'tables' ? 8 : [8, 16, 64, 256][Math.floor(rnd() * 4)]!
    const killAt: KillAt =
      mode === 'tables' ? { tableWrites: 1 + Math.floor(rnd() * 12) } : { acks: 20 + Math.floor(rnd() * 280) }
    const workers = 4 + Math.floor(rnd() * 45)
    inDoubt += ledger.inDoubt().length
    await stormAndKill(
      dir,
      scratch,
      ledger,
      { seed: seed + round, run: round, workers, flushEvents, segmentSize },
      killAt,
    )
    noteKill(dir, stats)
    await verify(dir, ledger, round, rnd, { onOriginal: rnd() < 0.5, segmentSize })
  }
  acked += ledger.acked
  const seconds = ((performance.now() - started) / 1000).toFixed(1)
  console.info(
    `eventstore crash ${mode} (seed ${seed}): kills ${round}, acknowledged ops checked ${acked}, ` +
      `appends in doubt retried ${inDoubt}, kills mid table write ${stats.midTableWrite} ` +
      `(mid merge ${stats.midMerge}), merged tables left beside their parts ${stats.mergedNotCleaned}, ${seconds} s`,
  )
  expect(acked).toBeGreaterThanOrEqual(mode === 'acks' ? round * 20 : round)
  if (mode === 'tables') expect(stats.midTableWrite).toBeGreaterThan(0)
}

describe('event store crash safety (real SIGKILL)', () => {
  it(`acknowledged appends survive ${STORM_KILLS} SIGKILLs of an append storm; the recovered index equals a rebuild`, async () => {
    onTestFailed(() => console.error(`eventstore crash: reproduce with WALTZ_CRASH_SEED=${SEED}`))
    await crashRounds(STORM_KILLS, SEED, 'acks')
  }, 1_200_000)

  it(`${TABLE_KILLS} SIGKILLs while index tables are written and merged (indexFlushEvents 8) leave no wrong answer`, async () => {
    onTestFailed(() => console.error(`eventstore crash: reproduce with WALTZ_CRASH_SEED=${SEED}`))
    await crashRounds(TABLE_KILLS, SEED + 1, 'tables')
  }, 1_200_000)
})
