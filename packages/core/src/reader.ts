/**
 * Reads records in seq order across segments: finds the segment holding the first wanted seq, starts
 * at the seek index's nearest batch boundary before it (at the segment's start when the seq is its
 * first), walks its frames through the scanner's {@link FrameWalker} (a problem inside readable bytes
 * is corruption, never an end), checks the seq chain across segment boundaries, decodes the envelope,
 * and has the serializer decode the data (or hands the stored bytes over, for raw reads). The decoding
 * and the opening of a segment are shared with the point reader.
 *
 * Every valid record before a failure is delivered before the failure is thrown.
 *
 * @internal
 */
import type { ArchiveCache } from './archive-cache.js'
import { WalError } from './errors.js'
import type { Fd, Files } from './files.js'
import { EnvelopeDecoder, segmentFileName } from './format.js'
import type { LogState, SegmentBound } from './log-state.js'
import type { RecordCipher } from './record-cipher.js'
import {
  expectHeader,
  FrameWalker,
  problemError,
  readHeader,
  type SegmentRef,
  streamProblem,
} from './scanner.js'
import type { SeekIndex } from './seek-index.js'
import type { SegmentFds } from './segment-fds.js'
import type { LocatedRecord, RecordShape, Serializer, WalRecord } from './serializer.js'

/** Bytes of the first read after a seek: the seek entry lies a few KiB before the first record wanted. */
const SEEK_READ = 16 * 1024

/** What a reader needs: files, the codec (none for raw reads), and the log's state. */
export interface ReadSource {
  readonly files: Files
  /** Decodes data; undefined: data is handed over as stored bytes. */
  readonly serializer: Serializer<string, unknown, RecordShape> | undefined
  /** The serializer name segment headers must carry; undefined accepts any. */
  readonly serializerName: string | undefined
  readonly maxRecordSize: number
  readonly state: LogState
  /** Where reads that start inside a segment begin. */
  readonly seeks: SeekIndex
  /** Segment files kept open for point reads. */
  readonly fds: SegmentFds
  /** Counters of point reads given a location (shared by the raw and decoding sources). */
  readonly located: LocatedReadStats
  /** Where segments older than the local ones are read from, when the log has an archive. */
  readonly archive: ArchiveCache | undefined
  /** Opens sealed data (an encrypted log). */
  readonly cipher: RecordCipher | undefined
  /** Raw reads: sealed data is handed over as stored (`encrypted: true`), not opened. */
  readonly keepSealed: boolean
}

/** The segment a reader reads next: a local one, or a copy of an archived one. */
interface NextSegment {
  readonly ref: SegmentRef
  /** A copy fetched from the archive (sealed; named after its place in the archive in errors). */
  readonly archived: boolean
}

const SEALED: SegmentBound = { kind: 'sealed' }

/** How point reads given a location went. */
export interface LocatedReadStats {
  /** Records read with one read at their location. */
  hits: number
  /** Records whose location did not hold them (read through the seek index instead). */
  misses: number
}

/**
 * A resumable cursor over records `from..to` (inclusive). Call {@link fill} repeatedly; each call puts
 * the next records into {@link records} and resolves false when nothing more is readable for now.
 */
export class RecordReader {
  /** What the last {@link fill} read (the array is reused between calls). */
  readonly records: WalRecord[] = []
  /** True once `to` has been reached. */
  done = false

  private readonly source: ReadSource
  private readonly to: number
  private readonly decoder: RecordDecoder
  private readonly locate: boolean
  private readonly only: ReadonlySet<number> | undefined
  private readonly filter: RecordFilter | undefined
  private nextSeq: number
  // The seq of the last frame of the segment read before (the chain the next segment must continue).
  private chainSeq = 0
  private segment: SegmentRef | undefined
  /** Whether {@link segment} is a copy of an archived segment. */
  private archived = false
  /** What errors call {@link segment}: its path, or its place in the archive. */
  private file = ''
  private fd: Fd = -1
  private walker: FrameWalker | undefined
  // A failure found after records were read: thrown by the next fill, once they are handed over.
  private pending: Error | undefined

  /**
   * @param source - where to read
   * @param from - first seq wanted
   * @param to - last seq wanted (Infinity for no end)
   * @param locate - give each record its frame's place (`frameOffset`, `frameLength`)
   * @param only - when given, only the records with these seqs are decoded and returned (the others
   *   are walked over, checked but not decoded)
   * @param filter - when given, only the records it accepts are decoded and returned (the others are
   *   checked, their type and key read, but their data neither opened nor decoded)
   */
  constructor(
    source: ReadSource,
    from: number,
    to: number,
    locate = false,
    only?: ReadonlySet<number>,
    filter?: RecordFilter,
  ) {
    this.source = source
    this.only = only
    this.filter = filter
    this.decoder = new RecordDecoder(source.serializer, source.cipher, source.keepSealed)
    this.locate = locate
    this.nextSeq = from
    this.to = to
    this.done = from > to
    // Nothing left to read before the end of a damaged log: the damage is the answer.
    const { damage, lastSeq } = source.state
    if (this.done && damage && to >= lastSeq) this.pending = damage
  }

  /**
   * Reads the next records into {@link records}.
   *
   * @param max - the most records to return at once
   * @returns true when `records` holds at least one record
   * @throws WalError `WAL_CORRUPT`, `WAL_SERIALIZER_ERROR`, `WAL_SERIALIZER_MISMATCH`, `WAL_TRUNCATED`,
   *   `WAL_RECORD_TOO_LARGE`, `WAL_IO`
   */
  async fill(max = 4096): Promise<boolean> {
    const out = this.records
    out.length = 0
    if (this.pending) {
      const err = this.pending
      this.pending = undefined
      this.done = true
      throw err
    }
    try {
      await this.read(out, max)
    } catch (err) {
      if (out.length === 0) {
        this.done = true
        throw err
      }
      this.pending = err as Error
    }
    return out.length > 0
  }

  private async read(out: WalRecord[], max: number): Promise<void> {
    while (!this.done) {
      let walker = this.walker
      if (!walker) {
        walker = await this.openNext()
        if (!walker) return
      }
      let r: 'ok' | 'invalid' | 'more' | 'incomplete' | 'end' = walker.nextBuffered()
      let bound: SegmentBound | undefined
      if (r === 'more') {
        if (out.length > 0) return // hand over what is decoded before doing I/O
        bound = this.archived ? SEALED : this.source.state.bound(this.segment!)
        r = await walker.next(bound.kind === 'newest' ? bound.end : Number.POSITIVE_INFINITY)
      }
      if (r === 'ok') {
        const seq = walker.seq
        if (seq < this.nextSeq) continue
        if (seq > this.to) return this.finish()
        if (this.only !== undefined && !this.only.has(seq) && seq !== this.to) {
          this.nextSeq = seq + 1
          continue
        }
        if (this.filter === undefined || this.decoder.accepts(walker, this.file, this.filter)) {
          const record = this.decoder.decode(walker, this.file)
          if (this.locate) {
            ;(record as LocatedRecord).frameOffset = walker.frameStart
            ;(record as LocatedRecord).frameLength = walker.frameEnd - walker.frameStart
          }
          out.push(record)
        }
        this.nextSeq = seq + 1
        if (seq === this.to) {
          // Reading reached the end of a log that is damaged right after it: say so.
          const { damage, lastSeq } = this.source.state
          if (damage && seq >= lastSeq) throw damage
          return this.finish()
        }
        if (out.length >= max) return
      } else if (r === 'end') {
        if (bound?.kind === 'newest') {
          // The end of what is readable: wait for more, unless the log is damaged right there.
          const damage = this.source.state.damage
          if (damage) throw damage
          return
        }
        if (walker.batchOpen) {
          throw problemError(this.file, {
            code: 'batch-open',
            reason: 'the segment ends inside an atomic batch',
            offset: walker.committedEnd,
            seq: walker.committedSeq + 1,
          })
        }
        this.chainSeq = walker.seq
        await this.closeSegment()
      } else {
        const { files, maxRecordSize } = this.source
        throw problemError(this.file, await streamProblem(files, this.fd, walker, maxRecordSize))
      }
    }
  }

  /** Releases the open segment. */
  async close(): Promise<void> {
    this.done = true
    await this.closeSegment()
  }

  private finish(): void {
    this.done = true
    void this.closeSegment()
  }

  private async closeSegment(): Promise<void> {
    this.walker = undefined
    if (this.fd >= 0) {
      const fd = this.fd
      this.fd = -1
      await this.source.files.close(fd).catch(() => {})
    }
  }

  /**
   * The segment to read next, checking it continues the chain; undefined when none is readable yet.
   * Seqs below the oldest local segment are read from the archive, when the log has one.
   */
  private async nextSegment(): Promise<NextSegment | undefined> {
    const state = this.source.state
    const archive = this.source.archive
    const previous = this.segment
    const wanted = previous === undefined ? this.nextSeq : this.chainSeq + 1
    if (previous !== undefined && wanted <= previous.firstSeq) {
      // The segment just read held no frame: a sealed segment always holds one.
      throw WalError.CORRUPT(`${this.file} holds no record`, { file: this.file, seq: wanted })
    }
    const first = state.oldestFirstSeq
    if (first !== undefined && wanted < first) {
      if (archive) return this.archivedSegment(wanted, previous === undefined)
      if (previous === undefined) {
        throw WalError.TRUNCATED(`seq ${wanted} was removed (the log starts at ${first})`, { seq: wanted })
      }
    }
    if (previous === undefined) {
      const ref = state.segmentFor(wanted)
      return ref && { ref, archived: false }
    }
    if (this.archived) {
      // After an archived copy: the local segment that starts at `wanted`; else, below the readable
      // end, the archive's (a reader's view can be older than the writer's retention); else nothing
      // readable yet.
      const ref = state.segmentFor(wanted)
      if (ref?.firstSeq === wanted) return { ref, archived: false }
      if (archive === undefined || wanted > state.lastSeq) return undefined
      return this.archivedSegment(wanted, false)
    }
    const ref = state.after(previous)
    if (ref !== undefined && ref.firstSeq !== wanted) {
      // Retention removed the segments in between while this reader was in one of them.
      if (!state.has(previous)) {
        if (archive) return this.archivedSegment(wanted, false)
        throw WalError.TRUNCATED(`seqs ${wanted}..${ref.firstSeq - 1} were removed while reading`, {
          seq: wanted,
        })
      }
      throw WalError.CORRUPT(
        `gap between segments: ${this.file} ends at seq ${this.chainSeq}, the next starts at ${ref.firstSeq}`,
        { file: ref.path, seq: wanted },
      )
    }
    return ref && { ref, archived: false }
  }

  /**
   * A copy of the archived segment holding `seq` (the first segment read), or starting at `seq` (the
   * next one after a segment ends).
   *
   * @throws WalError `WAL_TRUNCATED` (the archive starts after `seq`), `WAL_ARCHIVE` (a segment missing
   *   from the archive in the middle of the log, or the archive failed), `WAL_CORRUPT`
   */
  private async archivedSegment(seq: number, first: boolean): Promise<NextSegment> {
    const archive = this.source.archive!
    const firstSeq = await archive.find(seq, !first)
    if (firstSeq === undefined) {
      const oldest = await archive.oldest()
      if (first && (oldest === undefined || seq < oldest)) {
        const start = oldest === undefined ? 'holds no segment' : `starts at seq ${oldest}`
        throw WalError.TRUNCATED(`seq ${seq} was removed (the log's archive ${start})`, { seq })
      }
      const name = archive.describe(segmentFileName(seq))
      const next = archive.nextListed(seq)
      const why =
        next === undefined || first
          ? `seqs from ${seq} are in no segment`
          : `seqs ${seq}..${next - 1} are in no segment: ${this.file} ends at seq ${seq - 1} and the next archived segment starts at ${next} (${name} is missing, or ${this.file} was cut short)`
      throw WalError.ARCHIVE(`${name} is missing from the archive (${why})`, { file: name, seq })
    }
    return { ref: await archive.acquire(firstSeq), archived: true }
  }

  /** Opens the segment holding `nextSeq`. Undefined if none is readable yet. */
  private async openNext(): Promise<FrameWalker | undefined> {
    let next = await this.nextSegment()
    // A segment that is not readable yet (being created, or not yet validated by a read-only
    // instance) is opened later, once it is.
    if (next === undefined || (!next.archived && this.source.state.bound(next.ref).kind === 'unreadable')) {
      return undefined
    }
    const { files, archive } = this.source
    // Before the header read: its file size is the sealed size only if the segment was sealed then.
    const sealedBefore = next.archived || this.source.state.bound(next.ref).kind === 'sealed'
    let fd: Fd
    try {
      fd = await openSegment(files, next.ref)
    } catch (err) {
      if (archive === undefined || (err as WalError).code !== 'WAL_TRUNCATED') throw err
      // Retention removed a local segment since it was listed: with an archive, it is archived. Or
      // the cache's copy was deleted from under it (a tmp cleaner): fetched again.
      if (next.archived) {
        archive.release(next.ref)
        archive.invalidate(next.ref.firstSeq)
      }
      next = await this.archivedSegment(next.ref.firstSeq, false)
      fd = await openSegment(files, next.ref)
    } finally {
      // The open copy stays readable even if the cache deletes it now.
      if (next.archived) archive!.release(next.ref)
    }
    this.fd = fd
    this.segment = next.ref
    this.archived = next.archived
    this.file = next.archived ? archive!.describe(segmentFileName(next.ref.firstSeq)) : next.ref.path
    if (next.archived) archive!.prefetch(next.ref.firstSeq, this.source.state.oldestFirstSeq)
    const ref = next.archived ? { firstSeq: next.ref.firstSeq, path: this.file } : next.ref
    let read: Awaited<ReturnType<typeof readHeader>>
    try {
      read = await readHeader(files, fd, next.ref)
    } catch (err) {
      throw WalError.IO(`cannot read the header of ${this.file}`, { file: this.file, cause: err })
    }
    const header = expectHeader(read, ref, this.source.serializerName)
    const { maxRecordSize, seeks } = this.source
    if (this.nextSeq > header.firstSeq && !next.archived) {
      // Reading starts inside this segment (only the first one read can): start at the nearest
      // indexed batch boundary before it, with small reads first (a range read may want few records).
      const start = await seeks.seek(next.ref, fd, this.nextSeq, { read, sealedBefore })
      this.walker = new FrameWalker(files, fd, start.offset, start.seq, maxRecordSize, SEEK_READ)
    } else {
      // From the start (an archived copy has no seek index: the frames before nextSeq are walked over).
      this.walker = new FrameWalker(files, fd, header.headerSize, header.firstSeq, maxRecordSize)
    }
    return this.walker
  }
}

/**
 * Opens a segment for reading.
 *
 * @throws WalError `WAL_TRUNCATED` (retention removed it), `WAL_IO`
 */
export async function openSegment(files: Files, ref: SegmentRef): Promise<Fd> {
  try {
    return await files.open(ref.path, 'r')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw WalError.TRUNCATED(`${ref.path} was removed while reading`, { file: ref.path, cause: err })
    }
    throw WalError.IO(`cannot open ${ref.path}`, { file: ref.path, cause: err })
  }
}

/** The error of a frame whose envelope (type, key, headers) is not UTF-8. */
function envelopeError(walker: FrameWalker, file: string, cause: unknown): WalError {
  return WalError.CORRUPT(`${file}: seq ${walker.seq} has an envelope that is not UTF-8`, {
    cause,
    file,
    offset: walker.frameStart,
    seq: walker.seq,
  })
}

/** Which records a read decodes and returns, from their type and key (see `RecordsOptions.filter`). */
export type RecordFilter = (type: string, key: string | undefined) => boolean

/**
 * Turns checked frames into records: the envelope, and the data through the serializer (if any),
 * opened first when it is sealed (an encrypted log).
 */
export class RecordDecoder {
  private readonly envelope = new EnvelopeDecoder()
  private readonly serializer: Serializer<string, unknown, RecordShape> | undefined
  private readonly cipher: RecordCipher | undefined
  private readonly keepSealed: boolean

  /**
   * @param serializer - decodes data; undefined: data is handed over as the stored bytes
   * @param cipher - opens sealed data (an encrypted log); without it a sealed record is `WAL_KEYRING`
   * @param keepSealed - hand sealed data over as stored (raw reads), with `encrypted: true`
   */
  constructor(
    serializer: Serializer<string, unknown, RecordShape> | undefined,
    cipher: RecordCipher | undefined,
    keepSealed: boolean,
  ) {
    this.serializer = serializer
    this.cipher = cipher
    this.keepSealed = keepSealed
  }

  /**
   * Whether `filter` accepts the frame `walker` stopped on with `'ok'`, from its type and key alone
   * (its data is not touched: a sealed record is not opened).
   *
   * @throws WalError `WAL_CORRUPT` (an envelope that is not UTF-8)
   */
  accepts(walker: FrameWalker, file: string, filter: RecordFilter): boolean {
    const buf = walker.chunk
    const cursor = walker.cursor
    let type: string
    let key: string | undefined
    try {
      type = this.envelope.type(buf, cursor)
      key = this.envelope.key(buf, cursor)
    } catch (err) {
      throw envelopeError(walker, file, err)
    }
    return filter(type, key)
  }

  /**
   * The record of the frame `walker` stopped on with `'ok'`.
   *
   * @param walker - positioned on a frame
   * @param file - the segment's path (for errors)
   * @throws WalError `WAL_CORRUPT` (an envelope that is not UTF-8, sealed data that does not
   *   authenticate), `WAL_SERIALIZER_ERROR`, `WAL_KEYRING` (sealed data without the key)
   */
  decode(walker: FrameWalker, file: string): WalRecord {
    const buf = walker.chunk
    const cursor = walker.cursor
    const envelope = this.envelope
    let type: string
    let key: string | undefined
    let headers: Record<string, string> | undefined
    try {
      type = envelope.type(buf, cursor)
      key = envelope.key(buf, cursor)
      headers = envelope.headers(buf, cursor)
    } catch (err) {
      throw envelopeError(walker, file, err)
    }
    let bytes = buf.subarray(cursor.dataAt, cursor.end)
    const serializer = this.serializer
    const record: WalRecord = { seq: walker.seq, time: envelope.time(buf, cursor), type, data: undefined }
    if (key !== undefined) record.key = key
    if (headers !== undefined) record.headers = headers
    if (cursor.encrypted) {
      if (this.keepSealed) {
        record.data = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
        record.encrypted = true
        return record
      }
      const cipher = this.cipher
      if (cipher === undefined) {
        throw WalError.KEYRING(
          `seq ${walker.seq} in ${file} is encrypted: open the log with its encryption keyring`,
          {
            file,
            seq: walker.seq,
          },
        )
      }
      const typeBytes = buf.subarray(cursor.typeAt, cursor.typeEnd)
      const opened = cipher.open(buf, cursor.dataAt, cursor.end, typeBytes, walker.seq, file)
      if (opened.shredded) {
        record.shredded = true
        return record
      }
      bytes = opened.plain
    }
    if (serializer === undefined) {
      record.data = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    } else {
      try {
        record.data = serializer.decode(bytes, type)
      } catch (err) {
        throw WalError.SERIALIZER_ERROR(`decoding seq ${walker.seq} in ${file} failed`, {
          cause: err,
          seq: walker.seq,
          file,
          offset: walker.frameStart,
        })
      }
    }
    return record
  }
}
