/**
 * Simulated power loss while the stream index writes and merges its table files.
 *
 * The index writes its tables with node:fs directly (not core's `Files`), so its operations cannot be
 * recorded and replayed as core's power-loss tests do. Instead, a real store runs a scripted history
 * with tiny memtables (so tables are written and merged all along), and after every acknowledged
 * record the test copies the WAL and the index directory synchronously (the index writer cannot move
 * during the copy). From those observations it builds, by hand, the directories a power cut could
 * leave, and checks that each opens and answers exactly as a store that rebuilt its index from the
 * same WAL (every stream's events, revision and existence, the append decisions, the whole log):
 *
 * - every index state observed, with the WAL as it was then;
 * - the same index with the WAL cut back to the last record its tables cover (a power cut loses the
 *   WAL's unsynced tail, but the index syncs the WAL before it writes a table);
 * - the newest table missing (its rename reached the disk, the directory entry did not);
 * - a merged table together with its sources, or with one of them (the crash came after the merged
 *   table's rename and before the unlinks of its sources were synced);
 * - a merged table missing while its sources are present (the merge's rename was lost);
 * - the next table torn under its temp name (at several lengths), and torn under its final name (a
 *   file system that persisted the rename before the data: damage, which must be logged).
 *
 * What it cannot cover: the order of the index's real fs calls (nothing checks that a table is
 * fdatasync'ed before its rename, or the directory fsync'ed before the sources are unlinked; a
 * missing fsync would not show here), torn writes inside a table that was fdatasync'ed (impossible),
 * the WAL's own torn tail (core's power-loss tests), and states in the middle of a single
 * synchronous step of the writer.
 */
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, test } from 'vitest'
import { fileTempDir } from '../../../test-support/temp-dir.js'
import {
  type AppendOutcome,
  answersOf,
  appendOutcomes,
  recordingLogger,
  type StoreAnswers,
} from './damage-support.js'
import { openStore } from './helpers.js'

/** The history writes a table every 4 events; the checks append a few and write one table at close. */
const OPTIONS = { indexFlushEvents: 4 }
const CHECK_OPTIONS = { indexFlushEvents: 1000 }
const STREAMS = ['p-0', 'p-1', 'p-2', 'p-3', 'p-4', 'never']

type Files = Map<string, Buffer>

/** What the test saw after record `seq` was acknowledged. */
interface Observation {
  seq: number
  wal: Files
  index: Files
}

interface Range {
  name: string
  from: number
  to: number
}

/** A directory a power cut could leave: the WAL of `walSeq` and these index files. */
interface CrashState {
  label: string
  walSeq: number
  index: Files
  /** Whether the open must log a warning (a table under its final name is damaged). */
  warns: boolean
}

const observations: Observation[] = []
/** Every complete table ever seen (tables are immutable: a name always has the same bytes). */
const tables = new Map<string, Buffer>()

function readFiles(dir: string, keep: (name: string) => boolean): Files {
  const out: Files = new Map()
  for (const name of readdirSync(dir)) {
    if (!keep(name)) continue
    try {
      if (statSync(join(dir, name)).isFile()) out.set(name, readFileSync(join(dir, name)))
    } catch (err) {
      // Renamed or unlinked by the index writer between the listing and the read.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
  }
  return out
}

function rangeOf(name: string): Range | undefined {
  const m = /^(\d{16})-(\d{16})\.wzi$/.exec(name)
  return m ? { name, from: Number(m[1]), to: Number(m[2]) } : undefined
}

function rangesOf(index: Files): Range[] {
  return [...index.keys()]
    .map(rangeOf)
    .filter((r): r is Range => r !== undefined)
    .sort((a, b) => a.from - b.from || a.to - b.to)
}

function observe(dir: string, seq: number): void {
  const wal = readFiles(dir, (n) => n !== 'LOCK')
  const index = readFiles(join(dir, 'index'), () => true)
  for (const [name, bytes] of index) {
    if (!rangeOf(name)) continue
    const seen = tables.get(name)
    if (seen && !seen.equals(bytes)) throw new Error(`table ${name} changed`)
    tables.set(name, bytes)
  }
  observations.push({ seq, wal, index })
}

/** The scripted history: one record per step, so record `k` is step `k`. */
async function runHistory(dir: string): Promise<void> {
  const store = await openStore(dir, OPTIONS)
  let seq = 0
  for (let i = 0; i < 64; i++) {
    const stream = `p-${(i * 3) % 5}`
    if (i === 20) await store.deleteStream('p-2')
    else if (i === 33) await store.tombstoneStream('p-4')
    else if (i === 47) await store.deleteStream('p-1', { expectedRevision: 'stream_exists' })
    else {
      const target = i > 33 && stream === 'p-4' ? 'p-3' : stream
      await store.appendToStream(target, [
        { type: i % 2 ? 'odd' : 'even', data: { i }, metadata: { i: String(i) } },
      ])
    }
    seq++
    expect(store.position).toBe(seq)
    observe(dir, seq)
  }
  await store.close()
  observe(dir, seq)
}

beforeAll(async () => {
  const dir = join(fileTempDir(), 'history')
  await runHistory(dir)
  // The history must have written tables and merged some of them.
  const ranges = [...tables.keys()].map(rangeOf)
  expect(ranges.length).toBeGreaterThan(4)
  expect(ranges.some((r) => ranges.some((s) => s !== r && s!.from === r!.from && s!.to < r!.to))).toBe(true)
}, 60_000)

function walAt(seq: number): Files {
  // The first observation of a seq is the WAL right after its record was acknowledged.
  return observations.find((o) => o.seq === seq)!.wal
}

/** Distinct index states, each with the first step it was seen at. */
function distinctStates(): Observation[] {
  const out: Observation[] = []
  const key = (o: Observation) => [...o.index.keys()].sort().join(',')
  const seen = new Set<string>()
  for (const o of observations) {
    const k = key(o)
    if (seen.has(k)) continue
    seen.add(k)
    out.push(o)
  }
  return out
}

/** Tables seen whose ranges lie inside `r` (the sources of a merge, and theirs). */
function sourcesOf(r: Range): Range[] {
  return [...tables.keys()]
    .map(rangeOf)
    .filter((s): s is Range => s !== undefined && s.name !== r.name && s.from >= r.from && s.to <= r.to)
}

/** The table written after the newest one of `index` (the smallest seen that starts right after it). */
function nextTable(index: Files): Range | undefined {
  const from = (rangesOf(index).at(-1)?.to ?? 0) + 1
  return [...tables.keys()]
    .map(rangeOf)
    .filter((r): r is Range => r !== undefined && r.from === from)
    .sort((a, b) => a.to - b.to)[0]
}

function withFiles(index: Files, add: [string, Buffer][], remove: string[] = []): Files {
  const out: Files = new Map(index)
  for (const name of remove) out.delete(name)
  for (const [name, bytes] of add) out.set(name, bytes)
  return out
}

function crashStates(): Record<string, CrashState[]> {
  const groups: Record<string, CrashState[]> = {
    observed: [],
    'WAL cut back to the index': [],
    'newest table lost': [],
    'merge sources survive': [],
    'merge rename lost': [],
    'torn next table': [],
  }
  const merged = new Set<string>()
  const torn = new Set<string>()
  for (const o of distinctStates()) {
    const ranges = rangesOf(o.index)
    const covered = ranges.at(-1)?.to ?? 0
    const at = `after record ${o.seq} (${ranges.map((r) => `${r.from}-${r.to}`).join(' ') || 'no tables'})`
    groups.observed!.push({ label: at, walSeq: o.seq, index: o.index, warns: false })
    if (covered > 0 && covered < o.seq) {
      groups['WAL cut back to the index']!.push({ label: at, walSeq: covered, index: o.index, warns: false })
    }
    const newest = ranges.at(-1)
    if (newest) {
      groups['newest table lost']!.push({
        label: at,
        walSeq: o.seq,
        index: withFiles(o.index, [], [newest.name]),
        warns: false,
      })
    }
    // A merge's crash states, once: in the first state that holds the merged table.
    for (const r of ranges) {
      const sources = sourcesOf(r)
      if (sources.length === 0 || merged.has(r.name)) continue
      merged.add(r.name)
      const source = (s: Range): [string, Buffer] => [s.name, tables.get(s.name)!]
      const show = (rs: Range[]) => rs.map((s) => `${s.from}-${s.to}`).join(' ')
      groups['merge sources survive']!.push({
        label: `${at}: ${r.from}-${r.to} with ${show(sources)}`,
        walSeq: o.seq,
        index: withFiles(o.index, sources.map(source)),
        warns: false,
      })
      // The sources that make up `r` exactly: the state just before the merge's rename.
      const direct = sources.filter((s) => !sources.some((t) => t !== s && t.from <= s.from && t.to >= s.to))
      for (const s of direct) {
        groups['merge sources survive']!.push({
          label: `${at}: ${r.from}-${r.to} with ${show([s])}`,
          walSeq: o.seq,
          index: withFiles(o.index, [source(s)]),
          warns: false,
        })
      }
      const exact = direct.every((s, k) => s.from === (k === 0 ? r.from : direct[k - 1]!.to + 1))
      if (exact && direct.at(-1)!.to === r.to) {
        groups['merge rename lost']!.push({
          label: `${at}: ${r.from}-${r.to} replaced by ${show(direct)}`,
          walSeq: o.seq,
          index: withFiles(o.index, direct.map(source), [r.name]),
          warns: false,
        })
      }
    }
    // The next table torn, once per table: in the last state before it appeared.
    const next = nextTable(o.index)
    if (next && next.to <= o.seq && !torn.has(next.name)) {
      torn.add(next.name)
      const bytes = tables.get(next.name)!
      for (const cut of [bytes.length >>> 1, bytes.length]) {
        groups['torn next table']!.push({
          label: `${at}: ${next.name}.tmp of ${cut} bytes`,
          walSeq: o.seq,
          index: withFiles(o.index, [[`${next.name}.tmp`, bytes.subarray(0, cut)]]),
          warns: false,
        })
      }
      groups['torn next table']!.push({
        label: `${at}: ${next.name} cut to half under its final name`,
        walSeq: o.seq,
        index: withFiles(o.index, [[next.name, bytes.subarray(0, bytes.length >>> 1)]]),
        warns: true,
      })
    }
  }
  return groups
}

function materialize(state: { walSeq: number; index: Files }): string {
  const dir = join(fileTempDir(), 'crash')
  mkdirSync(join(dir, 'index'), { recursive: true })
  for (const [name, bytes] of walAt(state.walSeq)) writeFileSync(join(dir, name), bytes)
  for (const [name, bytes] of state.index) writeFileSync(join(dir, 'index', name), bytes)
  return dir
}

interface Answers {
  answers: StoreAnswers
  appends: Record<string, AppendOutcome[]>
}

async function answersIn(dir: string): Promise<Answers & { warnings: string[] }> {
  const log = recordingLogger()
  const store = await openStore(dir, { ...CHECK_OPTIONS, logger: log.logger })
  try {
    const answers = await answersOf(store, STREAMS)
    const appends = await appendOutcomes(store, STREAMS)
    return { answers, appends, warnings: log.warnings().map((w) => w.message) }
  } finally {
    await store.close()
  }
}

const rebuilt = new Map<number, Promise<Answers>>()

/** The answers of the WAL of `walSeq` with no index at all (computed once per WAL). */
function reference(walSeq: number): Promise<Answers> {
  let r = rebuilt.get(walSeq)
  if (!r) {
    r = answersIn(materialize({ walSeq, index: new Map() })).then(({ answers, appends, warnings }) => {
      expect(warnings).toEqual([])
      return { answers, appends }
    })
    rebuilt.set(walSeq, r)
  }
  return r
}

describe.concurrent('a power cut during index writes and merges', () => {
  // Built at collection time from names only; the states themselves are made after beforeAll.
  const GROUPS = [
    'observed',
    'WAL cut back to the index',
    'newest table lost',
    'merge sources survive',
    'merge rename lost',
    'torn next table',
  ]
  test.each(GROUPS)(
    '%s',
    async (group) => {
      const states = crashStates()[group]!
      expect(states.length).toBeGreaterThan(0)
      for (const state of states) {
        const want = await reference(state.walSeq)
        const got = await answersIn(materialize(state))
        expect({ answers: got.answers, appends: got.appends }, state.label).toEqual(want)
        if (state.warns) expect(got.warnings, state.label).not.toEqual([])
      }
    },
    300_000,
  )
})
