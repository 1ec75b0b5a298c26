/**
 * The stream index: for every stream, its summary (revision, soft delete, tombstone) and the seqs of
 * its events, so a stream is read without scanning the log. It reflects every record up to its
 * `checkpoint` seq, and only records that were acknowledged by the WAL.
 *
 * Recent records sit in an in-memory table (bounded by `flushEvery` events); full ones are written
 * as immutable checksummed table files (`index-table.ts`) in `<store>/index/`, covering consecutive
 * seq ranges, and adjacent tables are merged so that there are about log2(events / flushEvery) of
 * them. A table only ever covers records the WAL has fdatasync'ed, so a crash can never leave the
 * index ahead of the log. On open, the tables are verified whole (CRC) and anchored to the log (the
 * time, key and frame offset of each one's last covered record); whatever is missing, damaged, or does not match is
 * dropped and re-indexed from the WAL. The index is derived data: deleting the directory costs one
 * rebuild, never an answer.
 */
import { mkdir, readdir, rename, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import type { LocatedRecord, WalLogger, WalReader } from '@waltz/core'
import { EventStoreError } from './errors.js'
import { type RecordKind, type RecordMeaning, recordMeaning } from './events.js'
import { syncDir } from './files.js'
import {
  compareNames,
  type EventLocations,
  keyCrc,
  parseTableFileName,
  type StreamSummary,
  TABLE_SUFFIX,
  type TableMeta,
  TableReader,
  TableWriter,
  tableFileName,
} from './index-table.js'

/** A stream's records in a memtable. */
interface MemStream extends StreamSummary {
  /** Revision of `events.seqs[0]` (revision + 1 when there are none). */
  firstRevision: number
  /** Where the stream's events in this memtable lie, oldest first. */
  events: EventLocations
}

/** The records after the newest table, in memory. */
class Memtable {
  readonly streams = new Map<string, MemStream>()
  entries = 0
  coveredTo: number
  anchorTime = 0
  /** Key of the record at `coveredTo` (its CRC is the table's anchor). */
  anchorKey: string | undefined
  /** Frame offset of the record at `coveredTo`. */
  anchorOffset = 0

  constructor(readonly coveredFrom: number) {
    this.coveredTo = coveredFrom - 1
  }
}

/** Options of {@link StreamIndex.open}. */
export interface StreamIndexOptions {
  /** The directory of the table files. */
  dir: string
  /** The log the index reflects. */
  wal: Pick<WalReader, 'firstSeq' | 'lastSeq' | 'recordsLocated'> & { sync(): Promise<void> }
  /**
   * The seq the log starts at, counting segments only its archive holds (`wal.firstSeq` without an
   * archive): the index covers the log from there.
   */
  origin: number
  /**
   * `origin` is known to be the log's first seq (read from its archive): tables covering seqs before
   * it mean the archive lacks the log's oldest segments, which is an error, not a cut to accept.
   */
  strictOrigin: boolean
  /** Where to report dropped tables and rebuilds. */
  logger: WalLogger
  /** Events held in memory before they are written to a table. */
  flushEvery: number
  /** Stream summaries read from tables that are cached in memory. */
  cacheSize: number
}

/** Figures of the index for metrics. */
export interface StreamIndexStats {
  /** Table files in use. */
  tables: number
  /** Events held in memory, not yet in a table. */
  memtableEvents: number
  /** The last seq the index reflects. */
  checkpoint: number
  /** Records re-indexed from the WAL when the index opened. */
  caughtUp: number
  /** Milliseconds spent catching up on open. */
  catchUpMs: number
}

/** Appends to `out` where `stream`'s events with revisions `from..to` held in memtable `m` lie. */
function memLocate(m: Memtable, stream: string, from: number, to: number, out: EventLocations): void {
  const s = m.streams.get(stream)
  if (!s || s.events.seqs.length === 0) return
  const { seqs, offsets, lengths } = s.events
  const lo = Math.max(from, s.firstRevision)
  const hi = Math.min(to, s.firstRevision + seqs.length - 1)
  for (let r = lo; r <= hi; r++) {
    const i = r - s.firstRevision
    out.seqs.push(seqs[i]!)
    out.offsets.push(offsets[i]!)
    out.lengths.push(lengths[i]!)
  }
}

/** Events in memory that start a table write while catching up with the log. */
const CATCH_UP_FLUSH_EVENTS = 1 << 20

const NO_STREAM: StreamSummary = Object.freeze({
  revision: 0,
  deletedRevision: 0,
  tombstoned: false,
  lastSeq: 0,
})

/** See the module comment. */
export class StreamIndex {
  private readonly dir: string
  private readonly wal: StreamIndexOptions['wal']
  private readonly origin: number
  private readonly logger: WalLogger
  private readonly flushEvery: number
  /** Events in memory that start a table write: `flushEvery`, larger during a catch-up. */
  private flushLimit: number
  private readonly cacheSize: number
  private tables: TableReader[]
  private active: Memtable
  /** Memtables being written to tables, oldest first. */
  private readonly frozen: Memtable[] = []
  /** Summaries found in tables (null: in no table), least recently used first. */
  private readonly cache = new Map<string, StreamSummary | null>()
  private writing: Promise<void> | undefined
  private failure: Error | undefined
  private closed = false
  private caughtUp = 0
  private catchUpMs = 0

  private constructor(o: StreamIndexOptions, tables: TableReader[], checkpoint: number) {
    this.dir = o.dir
    this.wal = o.wal
    this.origin = o.origin
    this.logger = o.logger
    this.flushEvery = o.flushEvery
    this.flushLimit = o.flushEvery
    this.cacheSize = o.cacheSize
    this.tables = tables
    this.active = new Memtable(checkpoint + 1)
  }

  /**
   * Opens the index in `options.dir` and brings it up to the log's last record.
   *
   * @param options - see {@link StreamIndexOptions}
   * @returns the index, caught up with the WAL
   * @throws EventStoreError `EVENTSTORE_CORRUPT` (the log itself is not a consistent event store),
   *   `EVENTSTORE_IO`; WalError from reading the log
   */
  static async open(options: StreamIndexOptions): Promise<StreamIndex> {
    const { dir, wal, logger } = options
    try {
      await mkdir(dir, { recursive: true })
    } catch (err) {
      throw EventStoreError.IO(`creating ${dir} failed`, { file: dir, cause: err })
    }
    const tables = await loadTables(dir, wal, options.origin, logger)
    const coveredFrom = tables[0]?.meta.coveredFrom
    if (options.strictOrigin && coveredFrom !== undefined && coveredFrom < options.origin) {
      for (const t of tables) t.close()
      throw EventStoreError.CORRUPT(
        `the stream index covers the log from seq ${coveredFrom}, but the log and its archive start at ${options.origin}: the archive does not hold the log's oldest segments`,
      )
    }
    const checkpoint = tables.length > 0 ? tables.at(-1)!.meta.coveredTo : options.origin - 1
    const index = new StreamIndex(options, tables, checkpoint)
    await index.catchUp()
    return index
  }

  /** The last seq the index reflects. */
  get checkpoint(): number {
    return this.active.coveredTo
  }

  /** The last seq the index's table files cover: a restart re-indexes the log after it. */
  get flushedTo(): number {
    return this.tables.at(-1)?.meta.coveredTo ?? this.origin - 1
  }

  /**
   * A stream's acknowledged state.
   *
   * @param stream - the stream
   * @returns its summary (revision 0 when it has no records)
   */
  summary(stream: string): StreamSummary {
    const s = this.current(stream)
    // A copy: the memtable's own object changes with every record applied.
    return {
      revision: s.revision,
      deletedRevision: s.deletedRevision,
      tombstoned: s.tombstoned,
      lastSeq: s.lastSeq,
    }
  }

  /**
   * A stream's acknowledged state as the index holds it, not copied: for a check made within one
   * synchronous step (an append's), which would otherwise allocate a copy per append. The object may
   * be the index's own and change as later records are applied: take {@link summary} to keep one.
   *
   * @param stream - the stream
   * @returns its summary (revision 0 when it has no records), valid until the next record is applied
   */
  current(stream: string): Readonly<StreamSummary> {
    return this.memSummary(stream) ?? this.tableSummary(stream) ?? NO_STREAM
  }

  private memSummary(stream: string): MemStream | undefined {
    const mem = this.active.streams.get(stream)
    if (mem) return mem
    for (let i = this.frozen.length - 1; i >= 0; i--) {
      const f = this.frozen[i]!.streams.get(stream)
      if (f) return f
    }
    return undefined
  }

  /**
   * Reflects the record at `checkpoint + 1` (records must come in seq order, each exactly once).
   *
   * @param record - the record's seq, time, envelope and frame location
   * @returns what the record means to the store
   * @throws EventStoreError `EVENTSTORE_CORRUPT` when the record contradicts the stream's state
   */
  apply(
    record: Pick<LocatedRecord, 'seq' | 'time' | 'type' | 'key' | 'headers' | 'frameOffset' | 'frameLength'>,
  ): RecordMeaning {
    const meaning = recordMeaning(record)
    this.applyMeaning(
      record.seq,
      record.time,
      meaning.kind,
      meaning.stream,
      meaning.revision,
      record.frameOffset,
      record.frameLength,
    )
    return meaning
  }

  /**
   * Like {@link apply}, for a record whose meaning the caller already knows (it just wrote it).
   *
   * @param seq - the record's seq (`checkpoint + 1`)
   * @param time - the record's time
   * @param kind - event or marker
   * @param stream - the record's stream
   * @param revision - the event's revision, or the stream's at a marker
   * @param frameOffset - where the record's frame lies in its segment
   * @param frameLength - the frame's length
   * @throws EventStoreError `EVENTSTORE_CORRUPT` when the record contradicts the stream's state
   */
  applyMeaning(
    seq: number,
    time: number,
    kind: RecordKind,
    stream: string,
    revision: number,
    frameOffset: number,
    frameLength: number,
  ): void {
    const m = this.active
    if (seq !== m.coveredTo + 1) {
      throw EventStoreError.CORRUPT(`index out of step: seq ${seq} after ${m.coveredTo}`)
    }
    let mem = m.streams.get(stream)
    const prev = mem ?? this.current(stream)
    if (prev.tombstoned) {
      throw EventStoreError.CORRUPT(`seq ${seq}: a record after the tombstone of ${JSON.stringify(stream)}`, {
        stream,
      })
    }
    const want = kind === 'event' ? prev.revision + 1 : prev.revision
    if (revision !== want) {
      throw EventStoreError.CORRUPT(
        `seq ${seq}: ${kind} of ${JSON.stringify(stream)} at revision ${revision}, the stream is at ${prev.revision}`,
        { stream },
      )
    }
    if (!mem) {
      mem = {
        revision: prev.revision,
        deletedRevision: prev.deletedRevision,
        tombstoned: prev.tombstoned,
        lastSeq: prev.lastSeq,
        firstRevision: prev.revision + 1,
        events: { seqs: [], offsets: [], lengths: [] },
      }
      m.streams.set(stream, mem)
      this.cache.delete(stream)
    }
    if (kind === 'event') {
      mem.events.seqs.push(seq)
      mem.events.offsets.push(frameOffset)
      mem.events.lengths.push(frameLength)
      mem.revision = revision
      m.entries++
    } else {
      mem.deletedRevision = revision
      if (kind === 'tombstone') mem.tombstoned = true
    }
    mem.lastSeq = seq
    m.coveredTo = seq
    m.anchorTime = time
    m.anchorKey = stream
    m.anchorOffset = frameOffset
    if (m.entries >= this.flushLimit && this.frozen.length === 0) this.startFlush()
  }

  /**
   * Where a stream's events with revisions `from..to` lie, oldest first.
   *
   * @param stream - the stream
   * @param from - first revision (>= 1)
   * @param to - last revision
   * @returns their seqs and frame locations
   */
  locate(stream: string, from: number, to: number): EventLocations {
    const out: EventLocations = { seqs: [], offsets: [], lengths: [] }
    if (from > to) return out
    for (const t of this.tables) {
      const s = t.find(stream)
      if (s && s.count > 0 && s.firstRevision <= to && s.firstRevision + s.count - 1 >= from) {
        t.locate(s, from, to, out)
      }
    }
    for (const m of this.frozen) memLocate(m, stream, from, to, out)
    memLocate(this.active, stream, from, to, out)
    return out
  }

  /** Figures for metrics. */
  stats(): StreamIndexStats {
    return {
      tables: this.tables.length,
      memtableEvents: this.active.entries + this.frozen.reduce((n, m) => n + m.entries, 0),
      checkpoint: this.checkpoint,
      caughtUp: this.caughtUp,
      catchUpMs: this.catchUpMs,
    }
  }

  /** Writes the in-memory records to a table and waits for every pending table write and merge. */
  async flush(): Promise<void> {
    if (this.active.coveredTo >= this.active.coveredFrom) this.startFlush()
    while (this.writing) await this.writing
    if (this.failure) throw this.failure
  }

  /** Flushes, then closes the table files. */
  async close(): Promise<void> {
    if (this.closed) return
    try {
      await this.flush()
    } finally {
      this.closed = true
      for (const t of this.tables) t.close()
      this.tables = []
    }
  }

  /** Reads the log after the checkpoint into the index (on open). */
  private async catchUp(): Promise<void> {
    const from = this.checkpoint + 1
    const to = this.wal.lastSeq
    if (from > to) return
    const started = performance.now()
    // A long catch-up (a rebuild) writes fewer, larger tables: fewer merges, while memory stays
    // bounded (three numbers per event: seq, frame offset and length, plus one entry per stream).
    this.flushLimit = Math.max(this.flushEvery, CATCH_UP_FLUSH_EVENTS)
    try {
      for await (const r of this.wal.recordsLocated({ from, to })) {
        this.apply(r)
        this.caughtUp++
        // Bound memory: wait for the table being written before filling another.
        if (this.writing && this.active.entries >= this.flushLimit) await this.writing
      }
    } finally {
      this.flushLimit = this.flushEvery
    }
    if (this.active.entries >= this.flushEvery) this.startFlush()
    while (this.writing) await this.writing
    if (this.failure) throw this.failure
    this.catchUpMs = performance.now() - started
    this.logger.info('stream index caught up with the log', {
      records: this.caughtUp,
      ms: Math.round(this.catchUpMs),
    })
  }

  private tableSummary(stream: string): StreamSummary | undefined {
    const cached = this.cache.get(stream)
    if (cached !== undefined) {
      // Most recently used last.
      this.cache.delete(stream)
      this.cache.set(stream, cached)
      return cached ?? undefined
    }
    let found: StreamSummary | null = null
    for (let i = this.tables.length - 1; i >= 0; i--) {
      const s = this.tables[i]!.find(stream)
      if (s) {
        found = {
          revision: s.revision,
          deletedRevision: s.deletedRevision,
          tombstoned: s.tombstoned,
          lastSeq: s.lastSeq,
        }
        break
      }
    }
    if (this.cacheSize > 0) {
      if (this.cache.size >= this.cacheSize) this.cache.delete(this.cache.keys().next().value!)
      this.cache.set(stream, found)
    }
    return found ?? undefined
  }

  private startFlush(): void {
    if (this.active.coveredTo < this.active.coveredFrom) return
    this.frozen.push(this.active)
    this.active = new Memtable(this.active.coveredTo + 1)
    this.kickWriter()
  }

  private kickWriter(): void {
    if (this.writing || this.failure) return
    this.writing = this.writeTables().finally(() => {
      this.writing = undefined
      if (this.frozen.length > 0) this.kickWriter()
    })
  }

  /** Writes frozen memtables to tables, oldest first, then merges. One run at a time. */
  private async writeTables(): Promise<void> {
    try {
      while (this.frozen.length > 0) {
        const m = this.frozen[0]!
        // A table may only cover records that survive power loss.
        await this.wal.sync()
        const table = await this.writeMemtable(m)
        this.tables.push(table)
        this.frozen.shift()
        await this.mergeTables()
      }
    } catch (err) {
      this.failure = err as Error
      this.logger.error('writing the stream index failed; it stays in memory until the store reopens', {
        error: (err as Error).message,
      })
    }
  }

  private async writeMemtable(m: Memtable): Promise<TableReader> {
    const names = [...m.streams.keys()].sort(compareNames)
    return this.writeTable(
      {
        coveredFrom: m.coveredFrom,
        coveredTo: m.coveredTo,
        anchorTime: m.anchorTime,
        anchorKeyCrc: keyCrc(m.anchorKey),
        anchorOffset: m.anchorOffset,
      },
      (async function* () {
        for (const name of names) {
          const s = m.streams.get(name)!
          yield { stream: { name, ...s, count: s.events.seqs.length }, events: s.events }
        }
      })(),
    )
  }

  private async writeTable(
    meta: TableMeta,
    streams: AsyncIterable<{
      stream: StreamSummary & { name: string; firstRevision: number; count: number }
      events: Readonly<EventLocations> | readonly Buffer[]
    }>,
  ): Promise<TableReader> {
    const name = tableFileName(meta.coveredFrom, meta.coveredTo)
    const path = join(this.dir, name)
    const temp = `${path}.tmp`
    await unlink(temp).catch(() => {})
    const writer = await TableWriter.create(temp)
    try {
      for await (const { stream, events } of streams) await writer.add(stream, events)
      await writer.finish(meta)
      await rename(temp, path)
    } catch (err) {
      await writer.abort()
      await unlink(temp).catch(() => {})
      throw err instanceof EventStoreError
        ? err
        : EventStoreError.IO(`writing index table ${path} failed`, { file: path, cause: err })
    }
    await syncDir(this.dir)
    return TableReader.open(path)
  }

  /**
   * Merges the two newest tables while the newer is at least half the size of the older (so sizes
   * grow geometrically and there are O(log n) tables), or while there are more than 8.
   */
  private async mergeTables(): Promise<void> {
    for (;;) {
      const n = this.tables.length
      if (n < 2 || this.closed) return
      const a = this.tables[n - 2]!
      const b = this.tables[n - 1]!
      const weight = (t: TableReader) => t.entryCount + t.streamCount
      if (weight(b) * 2 < weight(a) && n <= 8) return
      const merged = await this.writeTable({ ...b.meta, coveredFrom: a.meta.coveredFrom }, mergeStreams(a, b))
      this.tables = [...this.tables.slice(0, n - 2), merged]
      a.close()
      b.close()
      await unlink(a.file).catch(() => {})
      await unlink(b.file).catch(() => {})
      await syncDir(this.dir)
    }
  }
}

/** The streams of two adjacent tables (a older than b), merged in name order. */
async function* mergeStreams(a: TableReader, b: TableReader) {
  const ia = a.streams()
  const ib = b.streams()
  let na = ia.next()
  let nb = ib.next()
  let yielded = 0
  while (!na.done || !nb.done) {
    const c = na.done ? 1 : nb.done ? -1 : compareNames(na.value.stream.name, nb.value.stream.name)
    if (c < 0) {
      yield { stream: na.value!.stream, events: [na.value!.entries] }
      na = ia.next()
    } else if (c > 0) {
      yield { stream: nb.value!.stream, events: [nb.value!.entries] }
      nb = ib.next()
    } else {
      const x = na.value!
      const y = nb.value!
      if (
        x.stream.count > 0 &&
        y.stream.count > 0 &&
        y.stream.firstRevision !== x.stream.firstRevision + x.stream.count
      ) {
        throw EventStoreError.CORRUPT(`index tables ${a.file} and ${b.file} disagree on ${x.stream.name}`)
      }
      yield {
        stream: {
          ...y.stream,
          firstRevision: x.stream.count > 0 ? x.stream.firstRevision : y.stream.firstRevision,
          count: x.stream.count + y.stream.count,
        },
        events: [x.entries, y.entries],
      }
      na = ia.next()
      nb = ib.next()
    }
    // Let appends and reads run during a long merge.
    if (++yielded % 4096 === 0) await new Promise((r) => setImmediate(r))
  }
}

/**
 * Opens the usable tables of `dir`: a chain of consecutive covered ranges from the start of the log,
 * each verified and anchored to the log. Everything else is removed (it is derived data, and
 * the WAL re-indexes it).
 */
async function loadTables(
  dir: string,
  wal: StreamIndexOptions['wal'],
  origin: number,
  logger: WalLogger,
): Promise<TableReader[]> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (err) {
    throw EventStoreError.IO(`listing ${dir} failed`, { file: dir, cause: err })
  }
  const drop = async (file: string, why: string) => {
    logger.warn('dropped an index table; the log re-indexes what it covered', { file, why })
    await unlink(file).catch(() => {})
  }
  const candidates = names
    .map((name) => ({ name, range: parseTableFileName(name) }))
    .filter((c) => c.range !== undefined || c.name.endsWith(`${TABLE_SUFFIX}.tmp`))
  const ranges: { name: string; coveredFrom: number; coveredTo: number }[] = []
  for (const c of candidates) {
    if (c.range) ranges.push({ name: c.name, ...c.range })
    else await unlink(join(dir, c.name)).catch(() => {})
  }
  ranges.sort((x, y) => x.coveredFrom - y.coveredFrom || y.coveredTo - x.coveredTo)
  const tables: TableReader[] = []
  let next = ranges.length > 0 && ranges[0]!.coveredFrom <= origin ? ranges[0]!.coveredFrom : -1
  for (const r of ranges) {
    const file = join(dir, r.name)
    if (next >= 0 && r.coveredTo < next) {
      // Already covered by a merged table a crash did not get to remove the parts of.
      await unlink(file).catch(() => {})
      continue
    }
    if (r.coveredFrom !== next || r.coveredTo > wal.lastSeq) {
      await drop(
        file,
        r.coveredTo > wal.lastSeq ? 'it covers records the log does not have' : 'not contiguous',
      )
      next = -1
      continue
    }
    try {
      tables.push(TableReader.open(file))
      next = r.coveredTo + 1
    } catch (err) {
      if (!(err instanceof EventStoreError) || err.code !== 'EVENTSTORE_CORRUPT') throw err
      await drop(file, err.message)
      next = -1
    }
  }
  // Every table must have been built from this log: the record at its last covered seq is the one
  // it recorded (a table copied from another store, or an index restored beside another log, fails).
  const bad = await firstUnanchored(tables, wal)
  if (bad >= 0) {
    for (const t of tables.splice(bad)) {
      t.close()
      await drop(t.file, 'its last covered record does not match the log')
    }
  }
  if (tables.length > 0 || ranges.length > 0) await syncDir(dir)
  return tables
}

/** The index of the first table whose anchor does not match the log; -1 when all match. */
async function firstUnanchored(
  tables: readonly TableReader[],
  wal: StreamIndexOptions['wal'],
): Promise<number> {
  // Tables whose records retention removed cannot be checked (and are not read through).
  for (let i = 0; i < tables.length; i++) {
    const { coveredTo, anchorTime, anchorKeyCrc, anchorOffset } = tables[i]!.meta
    if (coveredTo < wal.firstSeq) continue
    let r: LocatedRecord | undefined
    for await (const located of wal.recordsLocated({ from: coveredTo, to: coveredTo })) r = located
    // The frame's place too: segments rewritten since (another copy of the log) would leave the
    // tables' locations stale; a miss costs a read, but a store should not run on them.
    if (
      r === undefined ||
      r.time !== anchorTime ||
      keyCrc(r.key) !== anchorKeyCrc ||
      r.frameOffset !== anchorOffset
    ) {
      return i
    }
  }
  return -1
}
