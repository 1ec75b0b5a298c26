/**
 * Shared by the index damage, index power-loss and model tests: copying a store's directory as a
 * crash would leave it, a logger that records, and the observable answers of a store (what every
 * read and every append decision says), to compare a store whose index was damaged with one that
 * rebuilt its index from the WAL.
 */
import { copyFileSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import type { WalLogger } from '@waltz/core'
import { collect } from '../../../test-support/collect.js'
import { fileTempDir } from '../../../test-support/temp-dir.js'
import { type EventStore, type EventStoreOptions, isEventStoreError, type StoredEvent } from '../src/index.js'
import { openStore, type TestEvent } from './helpers.js'

/** One logged line. */
export interface LogLine {
  level: 'debug' | 'info' | 'warn' | 'error'
  message: string
  fields: Record<string, unknown> | undefined
}

/** A logger that keeps every line, and the lines at `warn` or above. */
export function recordingLogger(): { logger: WalLogger; lines: LogLine[]; warnings: () => LogLine[] } {
  const lines: LogLine[] = []
  const at =
    (level: LogLine['level']) =>
    (message: string, fields?: Record<string, unknown>): void => {
      lines.push({ level, message, fields })
    }
  return {
    logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') },
    lines,
    warnings: () => lines.filter((l) => l.level === 'warn' || l.level === 'error'),
  }
}

/**
 * Copies a store's directory (recursively) as a process crash would leave it: synchronously, so the
 * store's background index writer cannot move between two files of the copy (it may be in the middle
 * of a file, as a crash would find it). The WAL's `LOCK` is left out: its owner (this process) is
 * alive, and after a real crash it would be taken over. A file that disappears while the copy runs
 * (a merged table's source) is skipped.
 *
 * @param from - the store's directory (open or closed)
 * @param to - where to copy it (created)
 */
export function copyStoreDir(from: string, to: string): void {
  mkdirSync(to, { recursive: true })
  for (const name of readdirSync(from)) {
    if (name === 'LOCK') continue
    const src = join(from, name)
    try {
      if (statSync(src).isDirectory()) copyStoreDir(src, join(to, name))
      else copyFileSync(src, join(to, name))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
  }
}

/** An event as compared between stores (everything but `time`, which is checked to be a number). */
export interface EventView {
  stream: string
  revision: number
  position: number
  id: string
  type: string
  data: unknown
  metadata: Record<string, string>
}

/** Reduces a stored event to what the comparisons look at. */
export function eventView(e: StoredEvent<TestEvent>): EventView {
  if (typeof e.time !== 'number') throw new Error(`event at ${e.position} has no time`)
  return {
    stream: e.stream,
    revision: e.revision,
    position: e.position,
    id: e.id,
    type: e.type,
    data: e.data,
    metadata: { ...e.metadata },
  }
}

/** What a store answers about one stream. */
export interface StreamAnswers {
  exists: boolean
  revision: number
  /** Its events, read by `aggregateStream`. */
  events: EventView[]
  /** `readStream` backwards, and forwards from the middle (two events each). */
  lastTwo: EventView[]
  fromMiddle: EventView[]
}

/** What a store answers about every stream of a list, and about the whole log. */
export interface StoreAnswers {
  position: number
  streams: Record<string, StreamAnswers>
  all: number[]
}

/**
 * Reads everything a store says about `streams` (through the index) and the positions of the whole
 * log (through the WAL).
 */
export async function answersOf(
  store: EventStore<TestEvent>,
  streams: readonly string[],
): Promise<StoreAnswers> {
  const out: StoreAnswers = { position: store.position, streams: {}, all: [] }
  for (const stream of streams) {
    const agg = await store.aggregateStream(stream, {
      initialState: (): EventView[] => [],
      evolve: (seen, e) => [...seen, eventView(e)],
    })
    const middle = agg.state[agg.state.length >>> 1]?.revision ?? 1
    const exists = await store.streamExists(stream)
    if (exists !== agg.exists) throw new Error(`streamExists and aggregateStream disagree on ${stream}`)
    out.streams[stream] = {
      exists,
      revision: agg.revision,
      events: agg.state,
      lastTwo: (await collect(store.readStream(stream, { direction: 'backwards', maxCount: 2 }))).map(
        eventView,
      ),
      fromMiddle: (await collect(store.readStream(stream, { from: middle, maxCount: 2 }))).map(eventView),
    }
  }
  for await (const e of store.readAll()) out.all.push(e.position)
  return out
}

/** The outcome of one append, as compared between stores. */
export type AppendOutcome = { nextExpectedRevision: number; created: boolean; position: number } | string

/**
 * Appends one event to every stream with `expectedRevision: 'any'` and one with `'no_stream'`, and
 * returns what the store decided (its result or error code): the appends depend on each stream's
 * summary in the index (revision, soft delete, tombstone).
 */
export async function appendOutcomes(
  store: EventStore<TestEvent>,
  streams: readonly string[],
): Promise<Record<string, AppendOutcome[]>> {
  const out: Record<string, AppendOutcome[]> = {}
  for (const stream of streams) {
    const outcomes: AppendOutcome[] = []
    for (const expectedRevision of ['no_stream', 'any'] as const) {
      try {
        const probe = { type: 'probe', data: { stream }, id: `probe-${expectedRevision}-${stream}` }
        const r = await store.appendToStream(stream, [probe], {
          expectedRevision,
        })
        outcomes.push({
          nextExpectedRevision: r.nextExpectedRevision,
          created: r.created,
          position: r.position,
        })
      } catch (err) {
        if (!isEventStoreError(err)) throw err
        outcomes.push(err.code)
      }
    }
    out[stream] = outcomes
  }
  return out
}

/** A store's answers, then its append decisions, then its answers again after a reopen. */
export interface FullAnswers {
  before: StoreAnswers
  appends: Record<string, AppendOutcome[]>
  after: StoreAnswers
}

/** {@link FullAnswers}, and the warnings each of the two opens logged. */
export interface Checked {
  answers: FullAnswers
  /** Warnings (and errors) logged by the first open and everything until it closed. */
  warnings: LogLine[]
  /** Warnings logged by the reopen: none once the first open repaired the index. */
  laterWarnings: LogLine[]
}

/**
 * Opens the store in `dir`, reads all its answers, appends to every stream, closes it, reopens it
 * (from the index it wrote) and reads all its answers again.
 *
 * @param dir - the store (changed: the appends are written)
 * @param streams - the streams to ask about
 * @param options - store options
 */
export async function fullAnswers(
  dir: string,
  streams: readonly string[],
  options: Partial<EventStoreOptions<TestEvent>> = {},
): Promise<Checked> {
  const first = recordingLogger()
  let store = await openStore(dir, { ...options, logger: first.logger })
  let before: StoreAnswers
  let appends: Record<string, AppendOutcome[]>
  try {
    before = await answersOf(store, streams)
    appends = await appendOutcomes(store, streams)
  } finally {
    await store.close()
  }
  const second = recordingLogger()
  store = await openStore(dir, { ...options, logger: second.logger })
  try {
    const after = await answersOf(store, streams)
    return {
      answers: { before, appends, after },
      warnings: first.warnings(),
      laterWarnings: second.warnings(),
    }
  } finally {
    await store.close()
  }
}

/**
 * The answers of a copy of `dir` whose index was deleted: the store rebuilds it from the WAL alone.
 *
 * @param dir - the store (not changed)
 * @param streams - the streams to ask about
 * @param options - store options
 */
export async function rebuiltAnswers(
  dir: string,
  streams: readonly string[],
  options: Partial<EventStoreOptions<TestEvent>> = {},
): Promise<FullAnswers> {
  const copy = join(fileTempDir(), 'rebuilt')
  copyStoreDir(dir, copy)
  rmSync(join(copy, 'index'), { recursive: true, force: true })
  const checked = await fullAnswers(copy, streams, options)
  if (checked.warnings.length > 0 || checked.laterWarnings.length > 0) {
    throw new Error(`a rebuild from the WAL logged warnings: ${JSON.stringify(checked.warnings)}`)
  }
  return checked.answers
}

/** The table files of a store's index, oldest range first. */
export function tableFiles(dir: string): string[] {
  return readdirSync(join(dir, 'index'))
    .filter((n) => n.endsWith('.wzi'))
    .sort()
}
