/**
 * One immutable, checksummed file of the stream index ("table"): for every stream with records in a
 * range of seqs, its summary and the seqs of its events there. Layout (little-endian; `docs/FORMAT.md`):
 *
 * ```
 * header   80 B   magic "WZSX", version, covered seq range, counts, section offsets, anchor, header CRC
 * entries  16 B   one per event: its seq (u48), its frame's offset in its segment (u48) and length
 *                 (u32), grouped by stream, in stream order
 * streams         one record per stream, sorted by name: name, first entry, count, first revision,
 *                 revision, deleted revision, last seq, flags
 * directory       every DIR_EVERY-th stream record: its offset and name (held in memory when open)
 * trailer  8 B    CRC-32 of the body (entries to directory), magic "WZSE"
 * ```
 *
 * The whole file is checked against its CRC when opened; after that, lookups read it with small
 * synchronous preads (it is in the page cache, and a pread of a few hundred bytes costs microseconds,
 * far less than a round trip through libuv's thread pool).
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs'
import { type FileHandle, open } from 'node:fs/promises'
import { crc32 } from 'node:zlib'
import { EventStoreError } from './errors.js'

/** File-name suffix of a table. */
export const TABLE_SUFFIX = '.wzi'
/** Format version of a table. */
export const TABLE_VERSION = 2
const MAGIC = 0x5853_5a57 // "WZSX" little-endian
const END_MAGIC = 0x4553_5a57 // "WZSE"
/** Size of the header. */
export const HEADER_SIZE = 80
const TRAILER_SIZE = 8
/** Bytes of one entry. */
export const ENTRY_SIZE = 16
/** One directory entry per this many streams. */
const DIR_EVERY = 32
/** Fixed bytes of a stream record besides its name. */
const STREAM_FIXED = 2 + 6 + 4 + 6 + 6 + 6 + 6 + 1
const FLAG_TOMBSTONED = 1
const EMPTY = Buffer.alloc(0)

/**
 * A stream's state after the records up to some seq: what `appendToStream` checks and reads filter by.
 */
export interface StreamSummary {
  /** Events ever appended to the stream (its revision). */
  revision: number
  /** Events at or below this revision are hidden (soft delete); 0 when never deleted. */
  deletedRevision: number
  /** Whether the stream was tombstoned. */
  tombstoned: boolean
  /** Seq of the stream's newest record (event or marker). */
  lastSeq: number
}

/** A stream's part of one table. */
export interface TableStream extends StreamSummary {
  /** The stream name. */
  name: string
  /** Revision of the first event this table holds for the stream (count 0: revision + 1). */
  firstRevision: number
  /** Events this table holds for the stream. */
  count: number
  /** Index of its first entry in the table. */
  firstEntry: number
}

/**
 * Where a stream's events lie, oldest first, in parallel arrays: their seqs and their frames' places
 * in the log (the `FrameLocations` point reads take).
 */
export interface EventLocations {
  /** The events' seqs. */
  seqs: number[]
  /** Each event's frame offset in the segment holding its seq. */
  offsets: number[]
  /** Each event's frame length in bytes. */
  lengths: number[]
}

/** Header fields of a table. */
export interface TableMeta {
  /** First seq the table covers. */
  coveredFrom: number
  /** Last seq the table covers (every record in between is reflected). */
  coveredTo: number
  /** Time of the record at `coveredTo`: checked against the WAL on open. */
  anchorTime: number
  /** CRC-32 of the key of the record at `coveredTo`: checked against the WAL on open. */
  anchorKeyCrc: number
  /** Frame offset of the record at `coveredTo` in its segment: checked against the WAL on open. */
  anchorOffset: number
}

/** Zero-pads seqs so that names sort by covered range. */
export function tableFileName(coveredFrom: number, coveredTo: number): string {
  return `${String(coveredFrom).padStart(16, '0')}-${String(coveredTo).padStart(16, '0')}${TABLE_SUFFIX}`
}

/** Parses a table file name; undefined when it is not one. */
export function parseTableFileName(name: string): { coveredFrom: number; coveredTo: number } | undefined {
  const m = /^(\d{16})-(\d{16})\.wzi$/.exec(name)
  if (!m) return undefined
  return { coveredFrom: Number(m[1]), coveredTo: Number(m[2]) }
}

/** CRC-32 of a key's UTF-8 bytes, as stored in the anchor. */
export function keyCrc(key: string | undefined): number {
  return key === undefined ? 0 : crc32(Buffer.from(key, 'utf8'))
}

/** Compares stream names: the one order tables are sorted by (UTF-16 code units). */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

function corrupt(file: string, why: string): EventStoreError {
  return EventStoreError.CORRUPT(`index table ${file}: ${why}`, { file })
}

/**
 * Writes a table: streams are added in name order, each with where its events in this table lie.
 * The file is written under a temp name by the caller, who syncs and renames it.
 */
export class TableWriter {
  private readonly handle: FileHandle
  private readonly file: string
  private buf = Buffer.allocUnsafe(1 << 20)
  private used = 0
  private written = HEADER_SIZE
  private crc = 0
  private entries = 0
  private readonly streams: Buffer[] = []
  private streamsBytes = 0
  private streamCount = 0
  private readonly dir: { offset: number; name: Buffer }[] = []
  private lastName: string | undefined

  private constructor(handle: FileHandle, file: string) {
    this.handle = handle
    this.file = file
  }

  /**
   * Creates the file (it must not exist).
   *
   * @param file - the path to write
   */
  static async create(file: string): Promise<TableWriter> {
    let handle: FileHandle
    try {
      handle = await open(file, 'wx', 0o600)
    } catch (err) {
      throw EventStoreError.IO(`creating index table ${file} failed`, { file, cause: err })
    }
    return new TableWriter(handle, file)
  }

  /**
   * Adds a stream (names must come in {@link compareNames} order).
   *
   * @param s - its summary, first revision and count (`firstEntry` is ignored)
   * @param events - where its `count` events lie, oldest first: arrays, or runs of entries as other
   *   tables store them ({@link ENTRY_SIZE} bytes each; a merge copies them without decoding, and
   *   without joining a stream's runs from two tables first)
   */
  async add(
    s: Omit<TableStream, 'firstEntry'>,
    events: Readonly<EventLocations> | readonly Buffer[],
  ): Promise<void> {
    if (this.lastName !== undefined && compareNames(this.lastName, s.name) >= 0) {
      throw new Error(`index streams out of order: ${this.lastName} then ${s.name}`)
    }
    this.lastName = s.name
    const firstEntry = this.entries
    let count = 0
    if (Array.isArray(events)) {
      for (const run of events as readonly Buffer[]) {
        count += run.length / ENTRY_SIZE
        await this.put(run)
      }
    } else {
      const { seqs, offsets, lengths } = events as Readonly<EventLocations>
      count = seqs.length
      for (let i = 0; i < count; i++) {
        if (this.used + ENTRY_SIZE > this.buf.length) await this.drain()
        const at = this.used
        writeU48(this.buf, seqs[i]!, at)
        writeU48(this.buf, offsets[i]!, at + 6)
        writeU32(this.buf, lengths[i]!, at + 12)
        this.used = at + ENTRY_SIZE
      }
    }
    this.entries += count
    const name = Buffer.from(s.name, 'utf8')
    const rec = Buffer.allocUnsafe(STREAM_FIXED + name.length)
    let o = rec.writeUInt16LE(name.length, 0)
    o += name.copy(rec, o)
    o = rec.writeUIntLE(firstEntry, o, 6)
    o = rec.writeUInt32LE(count, o)
    o = rec.writeUIntLE(s.firstRevision, o, 6)
    o = rec.writeUIntLE(s.revision, o, 6)
    o = rec.writeUIntLE(s.deletedRevision, o, 6)
    o = rec.writeUIntLE(s.lastSeq, o, 6)
    rec.writeUInt8(s.tombstoned ? FLAG_TOMBSTONED : 0, o)
    if (this.streamCount % DIR_EVERY === 0) this.dir.push({ offset: this.streamsBytes, name })
    this.streams.push(rec)
    this.streamsBytes += rec.length
    this.streamCount++
  }

  /**
   * Writes the streams, directory, header and trailer, fdatasyncs and closes the file.
   *
   * @param meta - the covered range and anchor
   */
  async finish(meta: TableMeta): Promise<void> {
    try {
      const streamsOffset = HEADER_SIZE + this.entries * ENTRY_SIZE
      for (const rec of this.streams) await this.put(rec)
      const dirOffset = streamsOffset + this.streamsBytes
      for (const d of this.dir) {
        const e = Buffer.allocUnsafe(8 + d.name.length)
        e.writeUIntLE(streamsOffset + d.offset, 0, 6)
        e.writeUInt16LE(d.name.length, 6)
        d.name.copy(e, 8)
        await this.put(e)
      }
      await this.drain()
      const header = Buffer.alloc(HEADER_SIZE)
      header.writeUInt32LE(MAGIC, 0)
      header.writeUInt16LE(TABLE_VERSION, 4)
      header.writeUIntLE(meta.coveredFrom, 8, 6)
      header.writeUIntLE(meta.coveredTo, 16, 6)
      header.writeUIntLE(this.entries, 24, 6)
      header.writeUInt32LE(this.streamCount, 32)
      header.writeUInt32LE(this.dir.length, 36)
      header.writeUIntLE(streamsOffset, 40, 6)
      header.writeUIntLE(dirOffset, 48, 6)
      header.writeUIntLE(meta.anchorTime, 56, 6)
      header.writeUInt32LE(meta.anchorKeyCrc, 64)
      header.writeUIntLE(meta.anchorOffset, 68, 6)
      header.writeUInt32LE(crc32(header.subarray(0, 76)), 76)
      await this.handle.write(header, 0, HEADER_SIZE, 0)
      // The trailer's CRC covers the body (entries to directory); the header has its own.
      const trailer = Buffer.allocUnsafe(TRAILER_SIZE)
      trailer.writeUInt32LE(this.crc, 0)
      trailer.writeUInt32LE(END_MAGIC, 4)
      await this.handle.write(trailer, 0, TRAILER_SIZE, this.written)
      await this.handle.datasync()
    } catch (err) {
      if (err instanceof EventStoreError) throw err
      throw EventStoreError.IO(`writing index table ${this.file} failed`, { file: this.file, cause: err })
    } finally {
      await this.handle.close().catch(() => {})
    }
  }

  /** Closes the file without finishing it (the caller removes it). */
  async abort(): Promise<void> {
    await this.handle.close().catch(() => {})
  }

  private async put(bytes: Buffer): Promise<void> {
    if (this.used + bytes.length > this.buf.length) await this.drain()
    if (bytes.length > this.buf.length) {
      await this.writeOut(bytes)
      return
    }
    bytes.copy(this.buf, this.used)
    this.used += bytes.length
  }

  private async drain(): Promise<void> {
    if (this.used === 0) return
    const chunk = this.buf.subarray(0, this.used)
    // The write has completed when it resolves: the buffer can take the next chunk.
    await this.writeOut(chunk)
    this.used = 0
  }

  private async writeOut(chunk: Buffer): Promise<void> {
    await this.handle.write(chunk, 0, chunk.length, this.written)
    this.written += chunk.length
    this.crc = crc32(chunk, this.crc)
  }
}

/**
 * An open, verified table. Lookups are synchronous preads; the directory is held in memory.
 */
export class TableReader {
  /** The table's path. */
  readonly file: string
  /** The covered range and anchor. */
  readonly meta: TableMeta
  /** Streams in the table. */
  readonly streamCount: number
  /** Events in the table. */
  readonly entryCount: number
  /** Size of the file in bytes. */
  readonly size: number
  private fd: number
  private readonly streamsOffset: number
  private readonly dirOffset: number
  private readonly dirNames: string[]
  private readonly dirOffsets: number[]

  private constructor(init: {
    file: string
    fd: number
    meta: TableMeta
    streamCount: number
    entryCount: number
    size: number
    streamsOffset: number
    dirOffset: number
    dirNames: string[]
    dirOffsets: number[]
  }) {
    this.file = init.file
    this.fd = init.fd
    this.meta = init.meta
    this.streamCount = init.streamCount
    this.entryCount = init.entryCount
    this.size = init.size
    this.streamsOffset = init.streamsOffset
    this.dirOffset = init.dirOffset
    this.dirNames = init.dirNames
    this.dirOffsets = init.dirOffsets
  }

  /**
   * Opens a table and checks all of it: magic, version, header CRC, body CRC, section bounds, and that
   * its name matches its covered range.
   *
   * @param file - the table's path
   * @returns the open table
   * @throws EventStoreError `EVENTSTORE_CORRUPT` (any check failed), `EVENTSTORE_IO`
   */
  static open(file: string): TableReader {
    let fd: number
    try {
      fd = openSync(file, 'r')
    } catch (err) {
      throw EventStoreError.IO(`opening index table ${file} failed`, { file, cause: err })
    }
    try {
      return TableReader.verify(file, fd)
    } catch (err) {
      closeSync(fd)
      if (err instanceof EventStoreError) throw err
      throw EventStoreError.IO(`reading index table ${file} failed`, { file, cause: err })
    }
  }

  private static verify(file: string, fd: number): TableReader {
    const header = Buffer.alloc(HEADER_SIZE)
    if (readSync(fd, header, 0, HEADER_SIZE, 0) !== HEADER_SIZE) throw corrupt(file, 'short header')
    if (header.readUInt32LE(0) !== MAGIC) throw corrupt(file, 'bad magic')
    if (header.readUInt32LE(76) !== crc32(header.subarray(0, 76))) throw corrupt(file, 'header checksum')
    if (header.readUInt16LE(4) !== TABLE_VERSION) throw corrupt(file, `version ${header.readUInt16LE(4)}`)
    const meta: TableMeta = {
      coveredFrom: header.readUIntLE(8, 6),
      coveredTo: header.readUIntLE(16, 6),
      anchorTime: header.readUIntLE(56, 6),
      anchorKeyCrc: header.readUInt32LE(64),
      anchorOffset: header.readUIntLE(68, 6),
    }
    const entryCount = header.readUIntLE(24, 6)
    const streamCount = header.readUInt32LE(32)
    const dirCount = header.readUInt32LE(36)
    const streamsOffset = header.readUIntLE(40, 6)
    const dirOffset = header.readUIntLE(48, 6)
    // Sizes are checked against the file before anything is allocated from them.
    const size = fstatSync(fd).size
    if (size < HEADER_SIZE + TRAILER_SIZE) throw corrupt(file, 'missing trailer (the file was cut short)')
    const trailer = Buffer.alloc(TRAILER_SIZE)
    readSync(fd, trailer, 0, TRAILER_SIZE, size - TRAILER_SIZE)
    if (trailer.readUInt32LE(4) !== END_MAGIC) throw corrupt(file, 'missing trailer (the file was cut short)')
    const chunk = Buffer.allocUnsafe(Math.min(1 << 20, size))
    let crc = 0
    for (let at = HEADER_SIZE; at < size - TRAILER_SIZE; ) {
      const n = readSync(fd, chunk, 0, Math.min(chunk.length, size - TRAILER_SIZE - at), at)
      if (n === 0) throw corrupt(file, 'short read')
      crc = crc32(chunk.subarray(0, n), crc)
      at += n
    }
    if (trailer.readUInt32LE(0) !== crc) throw corrupt(file, 'body checksum mismatch')
    const bodyEnd = size - TRAILER_SIZE
    if (
      streamsOffset !== HEADER_SIZE + entryCount * ENTRY_SIZE ||
      dirOffset < streamsOffset ||
      dirOffset > bodyEnd ||
      meta.coveredFrom > meta.coveredTo + 1 ||
      dirCount !== Math.ceil(streamCount / DIR_EVERY)
    ) {
      throw corrupt(file, 'section bounds do not add up')
    }
    const base = file.slice(file.lastIndexOf('/') + 1)
    const named = parseTableFileName(base)
    if (named && (named.coveredFrom !== meta.coveredFrom || named.coveredTo !== meta.coveredTo)) {
      throw corrupt(file, 'its name does not match its covered range')
    }
    const dirBytes = Buffer.allocUnsafe(bodyEnd - dirOffset)
    readSync(fd, dirBytes, 0, dirBytes.length, dirOffset)
    const dirNames: string[] = []
    const dirOffsets: number[] = []
    let o = 0
    for (let i = 0; i < dirCount; i++) {
      if (o + 8 > dirBytes.length) throw corrupt(file, 'directory cut short')
      const at = dirBytes.readUIntLE(o, 6)
      const len = dirBytes.readUInt16LE(o + 6)
      if (o + 8 + len > dirBytes.length || at < streamsOffset || at >= dirOffset) {
        throw corrupt(file, 'directory entry out of bounds')
      }
      dirOffsets.push(at)
      dirNames.push(dirBytes.toString('utf8', o + 8, o + 8 + len))
      o += 8 + len
    }
    return new TableReader({
      file,
      fd,
      meta,
      streamCount,
      entryCount,
      size,
      streamsOffset,
      dirOffset,
      dirNames,
      dirOffsets,
    })
  }

  /**
   * Finds a stream's part of this table.
   *
   * @param name - the stream
   * @returns its part, or undefined when the table holds nothing of it
   */
  find(name: string): TableStream | undefined {
    const names = this.dirNames
    let lo = 0
    let hi = names.length - 1
    let at = -1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      if (compareNames(names[mid]!, name) <= 0) {
        at = mid
        lo = mid + 1
      } else hi = mid - 1
    }
    if (at < 0) return undefined
    const start = this.dirOffsets[at]!
    const end = at + 1 < this.dirOffsets.length ? this.dirOffsets[at + 1]! : this.dirOffset
    const block = this.read(start, end - start)
    let o = 0
    while (o < block.length) {
      const s = parseStream(block, o, this.file)
      o = s.next
      const c = compareNames(s.stream.name, name)
      if (c === 0) return s.stream
      if (c > 0) return undefined
    }
    return undefined
  }

  /**
   * Appends to `out` where a stream's events with revisions `from..to` lie (clamped to what this
   * table holds), oldest first.
   *
   * @param s - the stream's part, from {@link find}
   * @param from - first revision wanted
   * @param to - last revision wanted
   * @param out - receives seqs, frame offsets and lengths
   */
  locate(s: TableStream, from: number, to: number, out: EventLocations): void {
    const lo = Math.max(from, s.firstRevision)
    const hi = Math.min(to, s.firstRevision + s.count - 1)
    if (lo > hi) return
    const bytes = this.read(
      HEADER_SIZE + (s.firstEntry + lo - s.firstRevision) * ENTRY_SIZE,
      (hi - lo + 1) * ENTRY_SIZE,
    )
    for (let at = 0; at < bytes.length; at += ENTRY_SIZE) {
      out.seqs.push(readU48(bytes, at))
      out.offsets.push(readU48(bytes, at + 6))
      out.lengths.push(bytes.readUInt32LE(at + 12))
    }
  }

  /**
   * Every stream of the table in name order, with its entries ({@link ENTRY_SIZE} bytes per event, as
   * stored): for merging tables (reads sequentially; the entries are copied, never decoded).
   */
  *streams(): Generator<{ stream: TableStream; entries: Buffer }> {
    const records = new SequentialReader(this, this.streamsOffset, this.dirOffset)
    // Entries are stored in stream order: read them front to back alongside.
    const entries = new SequentialReader(this, HEADER_SIZE, this.streamsOffset)
    while (!records.done) {
      const len = records.peek(2).readUInt16LE(0)
      const { stream } = parseStream(records.take(STREAM_FIXED + len), 0, this.file)
      yield { stream, entries: stream.count > 0 ? entries.take(stream.count * ENTRY_SIZE) : EMPTY }
    }
  }

  /**
   * The streams of the table whose names are `>= from`, in name order, without their entries: one
   * directory lookup, then small sequential reads (a page of a stream listing reads a few KiB).
   *
   * @param from - the first name wanted ('' for all)
   * @param chunk - bytes read at a time
   */
  *streamsFrom(from: string, chunk = 16 * 1024): Generator<TableStream> {
    const names = this.dirNames
    let lo = 0
    let hi = names.length - 1
    let at = -1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      if (compareNames(names[mid]!, from) <= 0) {
        at = mid
        lo = mid + 1
      } else hi = mid - 1
    }
    const start = at < 0 ? this.streamsOffset : this.dirOffsets[at]!
    const records = new SequentialReader(this, start, this.dirOffset, chunk)
    while (!records.done) {
      const len = records.peek(2).readUInt16LE(0)
      const { stream } = parseStream(records.take(STREAM_FIXED + len), 0, this.file)
      if (compareNames(stream.name, from) >= 0) yield stream
    }
  }

  /**
   * Where one event of a stream's part of this table lies.
   *
   * @param s - the stream's part, from {@link find} or {@link streamsFrom}
   * @param index - which of its `count` events (0 for the oldest here)
   * @returns its seq and frame location
   */
  entry(s: TableStream, index: number): { seq: number; offset: number; length: number } {
    const bytes = this.read(HEADER_SIZE + (s.firstEntry + index) * ENTRY_SIZE, ENTRY_SIZE)
    return { seq: readU48(bytes, 0), offset: readU48(bytes, 6), length: bytes.readUInt32LE(12) }
  }

  /** Reads `length` bytes at `offset`. */
  read(offset: number, length: number): Buffer {
    const buf = Buffer.allocUnsafe(length)
    let done = 0
    while (done < length) {
      const n = readSync(this.fd, buf, done, length - done, offset + done)
      if (n === 0) throw corrupt(this.file, `short read at ${offset + done}`)
      done += n
    }
    return buf
  }

  /** Closes the file. */
  close(): void {
    if (this.fd >= 0) {
      closeSync(this.fd)
      this.fd = -1
    }
  }
}

/**
 * Writes a number below 2^32 as 4 little-endian bytes. Byte stores, not `writeUInt32LE`: a table
 * write encodes every event of a memtable, and the range checks of the Buffer methods were most of
 * that loop's time. (A typed-array store keeps the low 8 bits of the number.)
 */
function writeU32(buf: Buffer, value: number, at: number): void {
  buf[at] = value
  buf[at + 1] = value >>> 8
  buf[at + 2] = value >>> 16
  buf[at + 3] = value >>> 24
}

/** Writes a number below 2^48 as 6 little-endian bytes (byte stores, as {@link writeU32}). */
function writeU48(buf: Buffer, value: number, at: number): void {
  const low = value >>> 0
  const high = (value - low) / 0x1_0000_0000
  writeU32(buf, low, at)
  buf[at + 4] = high
  buf[at + 5] = high >>> 8
}

/** Reads 6 little-endian bytes. */
function readU48(buf: Buffer, at: number): number {
  return buf.readUInt32LE(at) + buf.readUInt16LE(at + 4) * 0x1_0000_0000
}

function parseStream(block: Buffer, at: number, file: string): { stream: TableStream; next: number } {
  if (at + 2 > block.length) throw corrupt(file, 'stream record cut short')
  const len = block.readUInt16LE(at)
  let o = at + 2
  if (o + len + STREAM_FIXED - 2 > block.length) throw corrupt(file, 'stream record cut short')
  const name = block.toString('utf8', o, o + len)
  o += len
  const firstEntry = block.readUIntLE(o, 6)
  const count = block.readUInt32LE(o + 6)
  const firstRevision = block.readUIntLE(o + 10, 6)
  const revision = block.readUIntLE(o + 16, 6)
  const deletedRevision = block.readUIntLE(o + 22, 6)
  const lastSeq = block.readUIntLE(o + 28, 6)
  const flags = block.readUInt8(o + 34)
  return {
    stream: {
      name,
      firstEntry,
      count,
      firstRevision,
      revision,
      deletedRevision,
      lastSeq,
      tombstoned: (flags & FLAG_TOMBSTONED) !== 0,
    },
    next: o + 35,
  }
}

/** Reads a byte range of a table front to back in 1 MiB chunks. */
class SequentialReader {
  private buf: Buffer = Buffer.alloc(0)
  private pos: number
  private readonly end: number
  private readonly table: TableReader

  private readonly chunk: number

  constructor(table: TableReader, start: number, end: number, chunk = 1 << 20) {
    this.table = table
    this.pos = start
    this.end = end
    this.chunk = chunk
  }

  get done(): boolean {
    return this.buf.length === 0 && this.pos >= this.end
  }

  peek(n: number): Buffer {
    this.fill(n)
    return this.buf.subarray(0, n)
  }

  take(n: number): Buffer {
    this.fill(n)
    const out = this.buf.subarray(0, n)
    this.buf = this.buf.subarray(n)
    return out
  }

  private fill(n: number): void {
    if (this.buf.length >= n) return
    const want = Math.min(Math.max(n - this.buf.length, this.chunk), this.end - this.pos)
    if (want < n - this.buf.length) throw corrupt(this.table.file, 'streams section cut short')
    const more = this.table.read(this.pos, want)
    this.pos += want
    this.buf = this.buf.length === 0 ? more : Buffer.concat([this.buf, more])
  }
}
