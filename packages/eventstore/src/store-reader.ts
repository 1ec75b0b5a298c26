/**
 * A read-only view of an event store that another process may be writing: streams, their events,
 * the global log and the durable consumers' checkpoints, for inspection tools (`waltz ui`).
 *
 * It never takes the writer lock and never writes: the log is opened with `Wal.openReader`, the
 * stream index is read from the writer's immutable table files (`<dir>/index/*.wzi`), and the records
 * after the newest table (at most the writer's `indexFlushEvents`, plus what arrives while it runs)
 * are held in a small in-memory overlay, kept current by a tail of the log. The writer merges and
 * deletes tables while the view is open: a table already open stays readable after its deletion
 * (POSIX), and the view re-lists the directory at most once a second.
 */
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  type EncryptionOptions,
  type FrameLocations,
  isWalError,
  type RawRecord,
  silentLogger,
  Wal,
  type WalLogger,
  type WalReader,
} from '@waltz/core'
import { checkConsumerName, decodeCheckpoint } from './checkpoint-file.js'
import { EventStoreError } from './errors.js'
import {
  DELETED_TYPE,
  type EventMetadata,
  ID_HEADER,
  metadataOf,
  REVISION_HEADER,
  TOMBSTONE_TYPE,
} from './events.js'
import {
  compareNames,
  type EventLocations,
  parseTableFileName,
  TableReader,
  type TableStream,
} from './index-table.js'

/** Options of {@link EventStoreReader.open}. */
export interface EventStoreReaderOptions {
  /** The store's directory (the one given to `EventStore.open`). */
  dir: string
  /** Where to report problems met while following the log (default: silent). */
  logger?: WalLogger
  /**
   * An encrypted store's master key (`localKeyring` from `@waltz/core`): events then carry their
   * data, or `shredded: true`. Without it an encrypted event carries its sealed bytes and
   * `encrypted: true`; everything else (streams, types, ids, metadata) reads the same.
   */
  encryption?: Pick<EncryptionOptions, 'keyring'>
}

/** A stream as the index knows it. */
export interface StreamInfo {
  /** The stream name. */
  name: string
  /** Events ever appended to it. */
  revision: number
  /** Events at or below this revision are hidden (soft delete); 0 when never deleted. */
  deletedRevision: number
  /** Whether it was tombstoned (nothing of it is readable, and nothing can be appended). */
  tombstoned: boolean
  /** Position of its newest record (event or marker). */
  lastPosition: number
}

/** A stream with the time of its newest record, as {@link EventStoreReader.listStreams} returns it. */
export interface StreamListing extends StreamInfo {
  /** When its newest record was appended (ms since the epoch); undefined when retention removed it. */
  lastTime: number | undefined
}

/** Options of {@link EventStoreReader.listStreams}. */
export interface ListStreamsOptions {
  /** Only streams whose name starts with this. Default: all. */
  prefix?: string | undefined
  /** Start after this name (the `next` of the previous page). */
  after?: string | undefined
  /** Streams per page: 1 to 1000, default 50. */
  limit?: number | undefined
}

/** One page of {@link EventStoreReader.listStreams}. */
export interface StreamPage {
  /** The streams, in name order (UTF-16 code units). */
  streams: StreamListing[]
  /** Pass as `after` for the next page; undefined on the last page. */
  next: string | undefined
}

/** What a stored record is to the store. `other`: a record not written by an event store. */
export type StoreRecordKind = 'event' | 'deleted' | 'tombstone' | 'other'

/** A stored record read back as an event, its data left as the stored bytes. */
export interface StoreRecord {
  /** Event, marker, or a record not written by an event store. */
  kind: StoreRecordKind
  /** Its stream ('' for `other`). */
  stream: string
  /** Its revision in the stream (for a marker: the stream's revision when it was written). */
  revision: number
  /** Its global position (the WAL seq). */
  position: number
  /** The event id ('' for markers and `other`). */
  id: string
  /** The record type. */
  type: string
  /** When it was appended, ms since the epoch. */
  time: number
  /** User metadata. */
  metadata: EventMetadata
  /**
   * The stored data bytes (the serializer's encoding; empty for markers and shredded events; the
   * sealed bytes when `encrypted` is set).
   */
  data: Uint8Array
  /** Set when the data key was shredded (a view opened with the keyring): the data is gone. */
  shredded?: true
  /** Set when the data is sealed and the view was opened without the keyring. */
  encrypted?: true
}

/** Options of {@link EventStoreReader.readStream}. */
export interface ReadStreamPageOptions {
  /** First revision to return (inclusive). Default: the first visible (forwards) or the last (backwards). */
  from?: number | undefined
  /** Default `'forwards'`. */
  direction?: 'forwards' | 'backwards' | undefined
  /** Events per page: 1 to 1000, default 50. */
  limit?: number | undefined
}

/** One page of {@link EventStoreReader.readStream}. */
export interface StreamEventsPage {
  /** The stream, or undefined when it has no records. */
  stream: StreamInfo | undefined
  /** The events, in the direction asked. */
  events: StoreRecord[]
  /** Revisions in the page's range that retention removed from the log (not in `events`). */
  removed: number
  /** Pass as `from` for the next page; undefined on the last page. */
  next: number | undefined
}

/** Options of {@link EventStoreReader.readAll}. */
export interface ReadAllPageOptions {
  /** First position to look at (inclusive). Default: the first (forwards) or the last (backwards). */
  from?: number | undefined
  /** Default `'forwards'`. */
  direction?: 'forwards' | 'backwards' | undefined
  /** Records per page: 1 to 1000, default 50. */
  limit?: number | undefined
  /** Only records of streams whose name starts with this. */
  streamPrefix?: string | undefined
  /** Only records of these types. */
  types?: readonly string[] | undefined
  /** The most records looked at before the page is returned short (with `next`). Default 10 000. */
  maxScan?: number | undefined
}

/** One page of {@link EventStoreReader.readAll}. */
export interface AllRecordsPage {
  /** The matching records, in the direction asked (markers and `other` records included). */
  records: StoreRecord[]
  /** Pass as `from` for the next page; undefined when the end (or start) of the log was reached. */
  next: number | undefined
}

/** A durable consumer's checkpoint file, as {@link EventStoreReader.consumers} reads it. */
export interface ConsumerCheckpointInfo {
  /** The consumer's name. */
  name: string
  /** The last position it handled; undefined when its checkpoint could not be read (see `error`). */
  position: number | undefined
  /** Positions written after it: the log's last position minus `position`. */
  lag: number | undefined
  /** Why the checkpoint could not be read (e.g. `CHECKPOINT_CORRUPT: ...`). */
  error?: string
}

/** Figures of the view. */
export interface EventStoreReaderStats {
  /** Index table files in use. */
  tables: number
  /** Records after the newest table, held in memory. */
  overlayRecords: number
  /** The last position the view reflects. */
  position: number
}

/** A stream's records after the newest table. */
interface OverlayStream {
  /** Its newest event's revision here (0: no event here). */
  revision: number
  /** The revision of a deletion marker here (0: none). */
  deletedRevision: number
  tombstoned: boolean
  lastSeq: number
  /** Revision of `events.seqs[0]`. */
  firstRevision: number
  events: EventLocations
}

/** A record applied to the overlay, kept so that the overlay can be rebuilt past a new table. */
interface OverlayOp {
  seq: number
  stream: string
  kind: 'event' | 'deleted' | 'tombstone'
  revision: number
  offset: number
  length: number
}

const PAGE_DEFAULT = 50
const PAGE_MAX = 1000
const TABLES_RELIST_MS = 1000
const ALL_CHUNK = 256

const NO_LOCATION = -1

/** How a record's envelope reads to the store; `other` when it was not written by one. */
function kindOf(r: Pick<RawRecord, 'type' | 'key' | 'headers'>): { kind: StoreRecordKind; revision: number } {
  const rev = r.headers?.[REVISION_HEADER]
  const revision = rev === undefined ? Number.NaN : Number(rev)
  if (r.key === undefined || !Number.isSafeInteger(revision) || revision < 0)
    return { kind: 'other', revision: 0 }
  if (r.type === DELETED_TYPE) return { kind: 'deleted', revision }
  if (r.type === TOMBSTONE_TYPE) return { kind: 'tombstone', revision }
  if (revision < 1 || r.headers?.[ID_HEADER] === undefined) return { kind: 'other', revision: 0 }
  return { kind: 'event', revision }
}

const NO_DATA = new Uint8Array(0)

/**
 * Reads a stored record as the store would show it.
 *
 * @param r - a record as stored (or with its data opened: `shredded` records carry none)
 * @returns its event fields, data as bytes
 */
export function toStoreRecord(r: Omit<RawRecord, 'data'> & { data: Uint8Array | undefined }): StoreRecord {
  const { kind, revision } = kindOf(r)
  const record: StoreRecord = {
    kind,
    stream: kind === 'other' ? (r.key ?? '') : r.key!,
    revision,
    position: r.seq,
    id: kind === 'event' ? r.headers![ID_HEADER]! : '',
    type: r.type,
    time: r.time,
    metadata: metadataOf(r.headers),
    data: r.data ?? NO_DATA,
  }
  if (r.shredded === true) record.shredded = true
  if (r.encrypted === true) record.encrypted = true
  return record
}

function pageSize(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > PAGE_MAX) {
    throw EventStoreError.INVALID_ARGUMENT(
      `${name} must be an integer from 1 to ${PAGE_MAX}, got ${String(value)}`,
    )
  }
  return value
}

function optionalPosition(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw EventStoreError.INVALID_ARGUMENT(`${name} must be an integer >= 0, got ${String(value)}`)
  }
  return value
}

function direction(value: unknown): 'forwards' | 'backwards' {
  if (value === undefined || value === 'forwards' || value === 'backwards') return value ?? 'forwards'
  throw EventStoreError.INVALID_ARGUMENT(`direction must be 'forwards' or 'backwards', got ${String(value)}`)
}

/** See the module comment. */
export class EventStoreReader {
  /** The store's directory. */
  readonly dir: string
  /**
   * The log, opened read-only (no lock): its `firstSeq`, `lastSeq`, `metrics()`, `records*` and
   * `tail*` serve overviews and raw views. Closed by {@link EventStoreReader.close}.
   */
  readonly log: WalReader
  private readonly logger: WalLogger
  /** Whether data is read opened (the view has the keyring) rather than as stored. */
  private readonly opened: boolean
  private tables: TableReader[] = []
  private tableNames = ''
  private tablesListedAt = 0
  private relisting: Promise<void> | undefined
  /** Records after the newest table in use, in seq order. */
  private ops: OverlayOp[] = []
  private overlay = new Map<string, OverlayStream>()
  private sortedOverlay: string[] | undefined
  private checkpoint: number
  private readonly listeners = new Set<(r: StoreRecord) => void>()
  private readonly stop = new AbortController()
  private following: Promise<void> | undefined
  private closed = false

  private constructor(dir: string, log: WalReader, logger: WalLogger, opened: boolean) {
    this.dir = dir
    this.log = log
    this.logger = logger
    this.opened = opened
    this.checkpoint = log.firstSeq - 1
  }

  /**
   * Opens the store in `options.dir` for reading: the log read-only, the index tables the writer
   * left, then the records after them. Works while the store is open in another process.
   *
   * @param options - see {@link EventStoreReaderOptions}
   * @returns the view; close it when done
   * @throws WalError from `Wal.openReader` (`WAL_INVALID_ARGUMENT` for a missing directory,
   *   `WAL_KEYRING` for a wrong master key, ...), EventStoreError `EVENTSTORE_IO`
   */
  static async open(options: EventStoreReaderOptions): Promise<EventStoreReader> {
    const { encryption } = options
    const log = await Wal.openReader(encryption ? { dir: options.dir, encryption } : { dir: options.dir })
    const reader = new EventStoreReader(
      options.dir,
      log,
      options.logger ?? silentLogger,
      encryption !== undefined,
    )
    try {
      await reader.relistTables(log.lastSeq)
      await reader.catchUp()
    } catch (err) {
      await reader.close()
      throw err
    }
    reader.following = reader.follow()
    return reader
  }

  /** The last position the view reflects (it follows the writer, polling every 100 ms). */
  get position(): number {
    return this.checkpoint
  }

  /** Figures of the view. */
  stats(): EventStoreReaderStats {
    return { tables: this.tables.length, overlayRecords: this.ops.length, position: this.checkpoint }
  }

  /**
   * Calls `listener` with every record the writer appends from now on, in order, until the returned
   * function is called or the view closes.
   *
   * @param listener - called once per new record
   * @returns unsubscribes
   */
  subscribe(listener: (record: StoreRecord) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /**
   * A stream's state.
   *
   * @param name - the stream
   * @returns its state, or undefined when it has no records
   */
  async stream(name: string): Promise<StreamInfo | undefined> {
    await this.maybeRelist()
    let found: TableStream | undefined
    for (let i = this.tables.length - 1; i >= 0 && !found; i--) found = this.tables[i]!.find(name)
    return combine(name, found, this.overlay.get(name))
  }

  /**
   * One page of the streams, in name order: a lookup in each index table and a few KiB read from
   * each, whatever the number of streams.
   *
   * @param options - prefix, cursor and page size
   * @returns the page and the cursor of the next
   * @throws EventStoreError `EVENTSTORE_INVALID_ARGUMENT`; WalError reading the newest records' times
   */
  async listStreams(options: ListStreamsOptions = {}): Promise<StreamPage> {
    const limit = pageSize('limit', options.limit, PAGE_DEFAULT)
    const prefix = options.prefix ?? ''
    const after = options.after
    if (typeof prefix !== 'string' || (after !== undefined && typeof after !== 'string')) {
      throw EventStoreError.INVALID_ARGUMENT('prefix and after must be strings')
    }
    await this.maybeRelist()
    const start = after !== undefined && compareNames(after, prefix) >= 0 ? after : prefix
    // One cursor per table (newest last) and one over the overlay's names, merged by name.
    const sources: { it: Iterator<TableStream | string>; head: TableStream | string | undefined }[] = []
    for (const t of this.tables) sources.push({ it: t.streamsFrom(start), head: undefined })
    sources.push({ it: this.overlayNamesFrom(start), head: undefined })
    for (const s of sources) s.head = nextHead(s.it)
    const nameOf = (h: TableStream | string) => (typeof h === 'string' ? h : h.name)
    const found: { info: StreamInfo; at: TableStream | undefined; table: TableReader | undefined }[] = []
    let more = false
    for (;;) {
      let min: string | undefined
      for (const s of sources) {
        if (s.head !== undefined && (min === undefined || compareNames(nameOf(s.head), min) < 0)) {
          min = nameOf(s.head)
        }
      }
      if (min === undefined || !min.startsWith(prefix)) break
      let newest: TableStream | undefined
      let newestTable: TableReader | undefined
      for (let i = 0; i < sources.length; i++) {
        const s = sources[i]!
        if (s.head === undefined || nameOf(s.head) !== min) continue
        if (typeof s.head !== 'string') {
          newest = s.head
          newestTable = this.tables[i]
        }
        s.head = nextHead(s.it)
      }
      if (after !== undefined && compareNames(min, after) <= 0) continue
      if (found.length === limit) {
        more = true
        break
      }
      const info = combine(min, newest, this.overlay.get(min))
      if (info) found.push({ info, at: newest, table: newestTable })
    }
    for (const s of sources) s.it.return?.()
    const times = await this.lastTimes(found)
    return {
      streams: found.map((f, i) => ({ ...f.info, lastTime: times[i] })),
      next: more ? found.at(-1)?.info.name : undefined,
    }
  }

  /**
   * One page of a stream's visible events, read with one small read each at the place the index
   * gives.
   *
   * @param name - the stream
   * @param options - first revision, direction and page size
   * @returns the page; an unknown stream gives no events and `stream: undefined`
   * @throws EventStoreError `EVENTSTORE_INVALID_ARGUMENT`, `EVENTSTORE_CORRUPT` (the index points at
   *   another record); WalError from reading the log
   */
  async readStream(name: string, options: ReadStreamPageOptions = {}): Promise<StreamEventsPage> {
    const limit = pageSize('limit', options.limit, PAGE_DEFAULT)
    const backwards = direction(options.direction) === 'backwards'
    const from = optionalPosition('from', options.from)
    const info = await this.stream(name)
    if (!info || info.tombstoned || info.revision <= info.deletedRevision) {
      return { stream: info, events: [], removed: 0, next: undefined }
    }
    const first = info.deletedRevision + 1
    const last = info.revision
    let lo: number
    let hi: number
    if (backwards) {
      hi = Math.min(from ?? last, last)
      lo = Math.max(first, hi - limit + 1)
    } else {
      lo = Math.max(from ?? first, first)
      hi = Math.min(last, lo + limit - 1)
    }
    if (lo > hi) return { stream: info, events: [], removed: 0, next: undefined }
    const where: EventLocations = { seqs: [], offsets: [], lengths: [] }
    for (const t of this.tables) {
      const s = t.find(name)
      if (s && s.count > 0 && s.firstRevision <= hi && s.firstRevision + s.count - 1 >= lo) {
        t.locate(s, lo, hi, where)
      }
    }
    const o = this.overlay.get(name)
    if (o) {
      for (
        let r = Math.max(lo, o.firstRevision);
        r <= Math.min(hi, o.firstRevision + o.events.seqs.length - 1);
        r++
      ) {
        const i = r - o.firstRevision
        where.seqs.push(o.events.seqs[i]!)
        where.offsets.push(o.events.offsets[i]!)
        where.lengths.push(o.events.lengths[i]!)
      }
    }
    if (where.seqs.length !== hi - lo + 1) {
      throw EventStoreError.CORRUPT(
        `the index holds ${where.seqs.length} of revisions ${lo}..${hi} of ${name}`,
        {
          stream: name,
        },
      )
    }
    // Retention may have removed the oldest events from the log (this view reads no archive).
    const firstStored = this.log.firstSeq
    let removed = 0
    while (removed < where.seqs.length && where.seqs[removed]! < firstStored) removed++
    const records = await this.recordsAt(where.seqs.slice(removed), {
      offsets: where.offsets.slice(removed),
      lengths: where.lengths.slice(removed),
    })
    const events = records.map((r, i) => {
      const e = toStoreRecord(r)
      if (e.kind !== 'event' || e.stream !== name || e.revision !== lo + removed + i) {
        throw EventStoreError.CORRUPT(
          `the index points at seq ${r.seq} for revision ${lo + removed + i} of ${name}`,
          {
            stream: name,
          },
        )
      }
      return e
    })
    if (backwards) events.reverse()
    const next = backwards ? (lo > first ? lo - 1 : undefined) : hi < last ? hi + 1 : undefined
    return { stream: info, events, removed, next }
  }

  /**
   * One page of the log in position order, filtered; a scan stops after `maxScan` records so a
   * filter that matches little cannot make one request read the whole log.
   *
   * @param options - start, direction, page size, filters
   * @returns the page and the position to continue from
   * @throws EventStoreError `EVENTSTORE_INVALID_ARGUMENT`; WalError from reading the log
   */
  async readAll(options: ReadAllPageOptions = {}): Promise<AllRecordsPage> {
    const limit = pageSize('limit', options.limit, PAGE_DEFAULT)
    const backwards = direction(options.direction) === 'backwards'
    const from = optionalPosition('from', options.from)
    const maxScan = options.maxScan ?? 10_000
    if (!Number.isSafeInteger(maxScan) || maxScan < 1) {
      throw EventStoreError.INVALID_ARGUMENT(`maxScan must be a positive integer, got ${String(maxScan)}`)
    }
    const prefix = options.streamPrefix
    const types = options.types ? new Set(options.types) : undefined
    const accept = (r: RawRecord) =>
      (prefix === undefined || r.key?.startsWith(prefix) === true) &&
      (types === undefined || types.has(r.type))
    const first = this.log.firstSeq
    const last = this.checkpoint
    const out: StoreRecord[] = []
    let scanned = 0
    if (!backwards) {
      let at = Math.max(from ?? first, first)
      while (at <= last && out.length < limit && scanned < maxScan) {
        const to = Math.min(last, at + ALL_CHUNK - 1)
        for await (const r of this.range(at, to)) {
          at = r.seq + 1
          scanned++
          if (accept(r)) out.push(toStoreRecord(r))
          if (out.length === limit || scanned === maxScan) break
        }
        if (at <= to && out.length < limit && scanned < maxScan) at = to + 1
      }
      return { records: out, next: at <= last ? at : undefined }
    }
    let at = Math.min(from ?? last, last)
    while (at >= first && out.length < limit && scanned < maxScan) {
      const lo = Math.max(first, at - ALL_CHUNK + 1)
      const chunk: RawRecord[] = []
      for await (const r of this.range(lo, at)) chunk.push(r)
      let i = chunk.length - 1
      for (; i >= 0 && out.length < limit && scanned < maxScan; i--) {
        scanned++
        if (accept(chunk[i]!)) out.push(toStoreRecord(chunk[i]!))
      }
      at = i >= 0 ? chunk[i]!.seq : lo - 1
    }
    return { records: out, next: at >= first ? at : undefined }
  }

  /**
   * The durable consumers' checkpoints (`<dir>/consumers/*.ckpt`) and their lag behind the log.
   * Consumers with another `CheckpointStore` keep theirs elsewhere and are not listed.
   *
   * @returns one entry per checkpoint file, by name
   * @throws EventStoreError `EVENTSTORE_IO` (the directory cannot be listed)
   */
  async consumers(): Promise<ConsumerCheckpointInfo[]> {
    const dir = join(this.dir, 'consumers')
    let names: string[]
    try {
      names = await readdir(dir)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
      throw EventStoreError.IO(`listing ${dir} failed`, { file: dir, cause: err })
    }
    const last = this.log.lastSeq
    const out: ConsumerCheckpointInfo[] = []
    for (const file of names.sort()) {
      if (!file.endsWith('.ckpt')) continue
      const name = file.slice(0, -'.ckpt'.length)
      try {
        checkConsumerName(name)
      } catch {
        continue
      }
      const path = join(dir, file)
      try {
        const p = decodeCheckpoint(await readFile(path), path)
        out.push({ name, position: p, lag: Math.max(0, last - p) })
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue // removed (reset) meanwhile
        const code = (err as { code?: string }).code
        out.push({
          name,
          position: undefined,
          lag: undefined,
          error: `${code ?? 'IO'}: ${(err as Error).message}`,
        })
      }
    }
    return out
  }

  /** Stops following the log and closes its files. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.stop.abort()
    await this.following?.catch(() => {})
    await this.relisting?.catch(() => {})
    for (const t of this.tables) t.close()
    this.tables = []
    this.listeners.clear()
    await this.log.close()
  }

  /**
   * Records by seq: opened when the view has the keyring (an unencrypted log reads the same either
   * way), else as stored. Shredded records carry no data (`data` undefined, typed as bytes).
   */
  private recordsAt(seqs: readonly number[], where: FrameLocations): Promise<RawRecord[]> {
    return this.opened ? this.log.recordsAt(seqs, where) : this.log.recordsAtRaw(seqs, where)
  }

  /** Records `from..to`, opened or as stored (see {@link recordsAt}). */
  private range(from: number, to: number): AsyncGenerator<RawRecord, void, undefined> {
    return this.opened ? this.log.records({ from, to }) : this.log.recordsRaw({ from, to })
  }

  /** The time of each listed stream's newest record, read at the place the index gives when it can. */
  private async lastTimes(
    found: readonly { info: StreamInfo; at: TableStream | undefined; table: TableReader | undefined }[],
  ): Promise<(number | undefined)[]> {
    const firstStored = this.log.firstSeq
    const seqs: number[] = []
    const where: FrameLocations = { offsets: [], lengths: [] }
    const slot: number[] = []
    for (let i = 0; i < found.length; i++) {
      const { info, at, table } = found[i]!
      if (info.lastPosition < firstStored) continue
      let offset = NO_LOCATION
      let length = 0
      const o = this.overlay.get(info.name)
      const n = o?.events.seqs.length ?? 0
      if (o && n > 0 && o.events.seqs[n - 1] === info.lastPosition) {
        offset = o.events.offsets[n - 1]!
        length = o.events.lengths[n - 1]!
      } else if (at && table && at.count > 0 && at.lastSeq === info.lastPosition) {
        const e = table.entry(at, at.count - 1)
        if (e.seq === info.lastPosition) {
          offset = e.offset
          length = e.length
        }
      }
      seqs.push(info.lastPosition)
      where.offsets.push(offset)
      where.lengths.push(length)
      slot.push(i)
    }
    const times: (number | undefined)[] = found.map(() => undefined)
    if (seqs.length === 0) return times
    try {
      const records = await this.log.recordsAtRaw(seqs, where)
      for (let i = 0; i < records.length; i++) times[slot[i]!] = records[i]!.time
    } catch (err) {
      // Retention removed some of them meanwhile: the times stay unknown.
      if (!isWalError(err) || err.code !== 'WAL_TRUNCATED') throw err
    }
    return times
  }

  private *overlayNamesFrom(start: string): Generator<string> {
    this.sortedOverlay ??= [...this.overlay.keys()].sort(compareNames)
    const names = this.sortedOverlay
    let lo = 0
    let hi = names.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (compareNames(names[mid]!, start) < 0) lo = mid + 1
      else hi = mid
    }
    for (let i = lo; i < names.length; i++) yield names[i]!
  }

  /** Reads the records after the tables in use into the overlay (on open). */
  private async catchUp(): Promise<void> {
    const to = this.log.lastSeq
    if (this.checkpoint >= to) return
    for await (const r of this.log.recordsLocated({ from: this.checkpoint + 1, to })) {
      this.apply(r, r.frameOffset, r.frameLength)
    }
  }

  /** Follows the writer: each new record goes into the overlay, then to the subscribers. */
  private async follow(): Promise<void> {
    try {
      const from = this.checkpoint + 1
      const signal = this.stop.signal
      const tail = this.opened ? this.log.tail({ from, signal }) : this.log.tailRaw({ from, signal })
      for await (const r of tail) {
        // A tail yields no frame places: the overlay reads these through the log's seek index.
        this.apply(r, NO_LOCATION, 0)
        if (this.listeners.size > 0) {
          const e = toStoreRecord(r)
          for (const l of this.listeners) {
            try {
              l(e)
            } catch (err) {
              this.logger.error('a subscriber of the view failed', { error: (err as Error).message })
            }
          }
        }
      }
    } catch (err) {
      if (!this.closed) {
        this.logger.error('following the log stopped', { error: (err as Error).message })
      }
    }
  }

  private apply(r: RawRecord, offset: number, length: number): void {
    if (r.seq <= this.checkpoint) return // covered by a table opened meanwhile
    this.checkpoint = r.seq
    const { kind, revision } = kindOf(r)
    if (kind === 'other') return
    const op: OverlayOp = { seq: r.seq, stream: r.key!, kind, revision, offset, length }
    this.ops.push(op)
    this.applyOp(op)
  }

  private applyOp(op: OverlayOp): void {
    let s = this.overlay.get(op.stream)
    if (!s) {
      s = {
        revision: 0,
        deletedRevision: 0,
        tombstoned: false,
        lastSeq: 0,
        firstRevision: op.kind === 'event' ? op.revision : op.revision + 1,
        events: { seqs: [], offsets: [], lengths: [] },
      }
      this.overlay.set(op.stream, s)
      this.sortedOverlay = undefined
    }
    if (op.kind === 'event') {
      if (s.events.seqs.length === 0) s.firstRevision = op.revision
      s.events.seqs.push(op.seq)
      s.events.offsets.push(op.offset)
      s.events.lengths.push(op.length)
      s.revision = op.revision
    } else {
      s.deletedRevision = op.revision
      if (op.kind === 'tombstone') s.tombstoned = true
    }
    s.lastSeq = op.seq
  }

  private async maybeRelist(): Promise<void> {
    if (performance.now() - this.tablesListedAt < TABLES_RELIST_MS) return
    this.relisting ??= this.relistTables(this.checkpoint).finally(() => {
      this.relisting = undefined
    })
    await this.relisting
  }

  /**
   * Lists `<dir>/index/` and, when the writer wrote or merged tables, opens the chain of consecutive
   * tables from the start of the log up to `reached` (the overlay holds what the view has read past
   * them), then trims the overlay to what comes after them.
   */
  private async relistTables(reached: number): Promise<void> {
    const dir = join(this.dir, 'index')
    for (let attempt = 0; ; attempt++) {
      this.tablesListedAt = performance.now()
      let names: string[]
      try {
        names = (await readdir(dir)).filter((n) => parseTableFileName(n) !== undefined)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
          throw EventStoreError.IO(`listing ${dir} failed`, { file: dir, cause: err })
        }
        names = []
      }
      const ranges = names
        .map((name) => ({ name, ...parseTableFileName(name)! }))
        .sort((x, y) => x.coveredFrom - y.coveredFrom || y.coveredTo - x.coveredTo)
      // The chain: from the start of the log, each table continuing the last; merged parts a crash
      // left beside their merge are skipped, as the writer's open skips them.
      const chain: typeof ranges = []
      let next =
        ranges.length > 0 && ranges[0]!.coveredFrom <= this.log.firstSeq ? ranges[0]!.coveredFrom : -1
      for (const r of ranges) {
        if (next < 0) break
        if (r.coveredTo < next) continue
        // A table may cover records this view has not read yet: the overlay holds them until it has.
        if (r.coveredFrom !== next || r.coveredTo > reached) break
        chain.push(r)
        next = r.coveredTo + 1
      }
      const key = chain.map((r) => r.name).join('/')
      if (key === this.tableNames) return
      const opened: TableReader[] = []
      try {
        for (const r of chain) {
          const have = this.tables.find((t) => t.file === join(dir, r.name))
          opened.push(have ?? TableReader.open(join(dir, r.name)))
        }
      } catch (err) {
        for (const t of opened) if (!this.tables.includes(t)) t.close()
        // Merged and deleted between the listing and the open: list again.
        if (attempt < 5 && isMissing(err)) continue
        throw err
      }
      for (const t of this.tables) if (!opened.includes(t)) t.close()
      this.tables = opened
      this.tableNames = key
      this.trimOverlay(chain.at(-1)?.coveredTo ?? this.log.firstSeq - 1)
      return
    }
  }

  /** Drops from the overlay the records the tables in use now cover. */
  private trimOverlay(coveredTo: number): void {
    if (this.checkpoint < coveredTo) this.checkpoint = coveredTo
    let i = 0
    while (i < this.ops.length && this.ops[i]!.seq <= coveredTo) i++
    if (i === 0) return
    this.ops = this.ops.slice(i)
    this.overlay = new Map()
    this.sortedOverlay = undefined
    for (const op of this.ops) this.applyOp(op)
  }
}

function isMissing(err: unknown): boolean {
  let e: unknown = err
  for (let depth = 0; depth < 4 && e !== null && typeof e === 'object'; depth++) {
    if ((e as { code?: unknown }).code === 'ENOENT') return true
    e = (e as { cause?: unknown }).cause
  }
  return false
}

function nextHead<T>(it: Iterator<T>): T | undefined {
  const n = it.next()
  return n.done ? undefined : n.value
}

/** A stream's state from its newest table part and its overlay part (the overlay is newer). */
function combine(
  name: string,
  t: TableStream | undefined,
  o: OverlayStream | undefined,
): StreamInfo | undefined {
  if (!t && !o) return undefined
  const revision = o && o.revision > 0 ? o.revision : (t?.revision ?? 0)
  const deletedRevision = o && o.deletedRevision > 0 ? o.deletedRevision : (t?.deletedRevision ?? 0)
  return {
    name,
    revision,
    deletedRevision,
    tombstoned: (o?.tombstoned ?? false) || (t?.tombstoned ?? false),
    lastPosition: o ? o.lastSeq : t!.lastSeq,
  }
}
