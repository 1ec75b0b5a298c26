/**
 * The one place that walks a segment file and judges why reading stopped. Recovery, readers,
 * `inspect`/`verify`/`repair` and the read-only refresh all read segments through it:
 *
 * - {@link FrameWalker} walks frames in order (checksum, length bound, seq chain, batch chain, body
 *   structure), resumably, for streaming reads;
 * - {@link scanSegment} walks a whole segment and returns its {@link SegmentScan} verdict: `clean`,
 *   `torn` (an incomplete final write, the only thing recovery may cut) or `corrupt`.
 *
 * The torn-vs-corrupt rule (docs/FORMAT.md, "Torn or corrupt"): only the newest segment can be torn,
 * and only when the damage runs to its end, or when every valid frame found past the damage was
 * written before the damaged record became durable and the damage looks like unwritten sectors.
 *
 * @internal
 */
import { join } from 'node:path'
import { crc32 } from './checksum.js'
import { decompressBlock } from './compression.js'
import { WalError, type WalErrorDetails } from './errors.js'
import type { Fd, Files } from './files.js'
import {
  checkFrame,
  FORMAT_VERSION,
  FRAME_HEADER_SIZE,
  type FrameCheck,
  type FrameCursor,
  type FrameProblemCode,
  headerVersion,
  MAX_HEADER_SIZE,
  MIN_BODY_SIZE,
  newFrameCursor,
  parseBlockRecord,
  parseSegmentFileName,
  parseSegmentHeader,
  SEGMENT_EXT,
  SEGMENT_TEMP_SUFFIX,
  type SegmentHeader,
  skimFrame,
} from './format.js'
import { SEEK_FILE_SPACING, seekFileOf } from './seek-file.js'

/** A segment file known to the WAL. */
export interface SegmentRef {
  readonly firstSeq: number
  readonly path: string
}

/** The segments of a directory, and segment files being created that a crash left behind. */
export interface SegmentListing {
  /** Segment files, oldest first. */
  readonly segments: SegmentRef[]
  /** Paths of `*.wal.tmp` files: segment headers never renamed into place (they hold no records). */
  readonly unfinished: string[]
  /** Seek files of segments not in the directory, and seek files whose write a crash cut short. */
  readonly staleSeekFiles: string[]
}

/**
 * Lists the segment files of `dir` in seq order (other files are ignored).
 *
 * @param files - the file interface
 * @param dir - the WAL directory
 * @returns the segments, oldest first, and unfinished segment creations
 */
export async function listSegments(files: Files, dir: string): Promise<SegmentListing> {
  const segments: SegmentRef[] = []
  const unfinished: string[] = []
  const seekFiles: { firstSeq: number; temp: boolean; path: string }[] = []
  for (const name of await files.readdir(dir)) {
    const firstSeq = parseSegmentFileName(name)
    if (firstSeq !== undefined) segments.push({ firstSeq, path: join(dir, name) })
    else if (name.endsWith(SEGMENT_EXT + SEGMENT_TEMP_SUFFIX)) unfinished.push(join(dir, name))
    else {
      const seek = seekFileOf(name)
      if (seek !== undefined) seekFiles.push({ ...seek, path: join(dir, name) })
    }
  }
  segments.sort((a, b) => a.firstSeq - b.firstSeq)
  // Seek files nothing will read: unfinished writes, and those of segments removed meanwhile.
  const present = new Set(segments.map((s) => s.firstSeq))
  const staleSeekFiles = seekFiles.filter((f) => f.temp || !present.has(f.firstSeq)).map((f) => f.path)
  return { segments, unfinished, staleSeekFiles }
}

/** Stable codes of what a scan found wrong (docs/FORMAT.md lists them). */
export type ScanProblemCode =
  | FrameProblemCode
  /** The segment's header is damaged or missing. */
  | 'header'
  /** The header is intact but of another format version. */
  | 'header-version'
  /** The header was written by another serializer than the one the log is opened with. */
  | 'header-serializer'
  /** The segment ends inside an atomic batch. */
  | 'batch-open'
  /** An intact record longer than the `maxRecordSize` given (written with a larger one). */
  | 'record-too-large'
  /** Seqs do not continue from the previous segment. */
  | 'seq-gap'

/** A problem a scan found: where, what, and its stable code. */
export interface ScanProblem {
  /** Stable code. */
  readonly code: ScanProblemCode
  /** What is wrong, in words. */
  readonly reason: string
  /** The byte offset in the segment where it starts. */
  readonly offset: number
  /** The seq the damaged frame should carry. */
  readonly seq: number
}

/** What reading a segment header found. */
export type HeaderRead =
  | { ok: true; header: SegmentHeader; fileSize: number }
  | { ok: false; problem: ScanProblem; fileSize: number }

/**
 * Reads and validates the header of an open segment.
 *
 * @param files - the file interface
 * @param fd - the open segment
 * @param ref - which segment (its name must agree with its header)
 * @returns the header and file size, or the problem
 */
export async function readHeader(files: Files, fd: Fd, ref: SegmentRef): Promise<HeaderRead> {
  const fileSize = await files.size(fd)
  const buf = Buffer.alloc(Math.min(MAX_HEADER_SIZE, fileSize))
  const n = await files.read(fd, buf, 0, buf.length, 0)
  const parsed = parseSegmentHeader(buf.subarray(0, n))
  const bad = (code: ScanProblemCode, reason: string): HeaderRead => ({
    ok: false,
    problem: { code, reason, offset: 0, seq: ref.firstSeq },
    fileSize,
  })
  if (parsed === 'version') {
    return bad(
      'header-version',
      `format version ${headerVersion(buf)}; this build reads format version ${FORMAT_VERSION} only`,
    )
  }
  if (typeof parsed === 'string') return bad('header', `bad segment header (${parsed})`)
  if (parsed.firstSeq !== ref.firstSeq) {
    return bad('header', `header first seq ${parsed.firstSeq} does not match the file name`)
  }
  return { ok: true, header: parsed, fileSize }
}

/** The factory of the error a problem is reported with. */
function problemErrorFactory(code: ScanProblemCode): (message: string, details: WalErrorDetails) => WalError {
  if (code === 'header-version') return WalError.FORMAT_UNSUPPORTED
  if (code === 'header-serializer') return WalError.SERIALIZER_MISMATCH
  if (code === 'record-too-large') return WalError.RECORD_TOO_LARGE
  return WalError.CORRUPT
}

/**
 * The typed error for a problem in a segment.
 *
 * @param file - the segment's path
 * @param problem - what the scan found
 */
export function problemError(file: string, problem: ScanProblem): WalError {
  return problemErrorFactory(problem.code)(`${file} at offset ${problem.offset}: ${problem.reason}`, {
    file,
    offset: problem.offset,
    seq: problem.seq,
  })
}

/**
 * Checks that a header was written by the expected serializer (skipped when `serializerName` is
 * undefined: a reader without a serializer reads any log).
 *
 * @returns the header
 * @throws WalError `WAL_CORRUPT`, `WAL_FORMAT_UNSUPPORTED`, `WAL_SERIALIZER_MISMATCH`
 */
export function expectHeader(
  read: HeaderRead,
  ref: SegmentRef,
  serializerName: string | undefined,
): SegmentHeader {
  if (!read.ok) throw problemError(ref.path, read.problem)
  if (serializerName !== undefined && read.header.serializerName !== serializerName) {
    throw problemError(ref.path, {
      code: 'header-serializer',
      reason: `written with serializer '${read.header.serializerName}', opened with '${serializerName}'`,
      offset: 0,
      seq: ref.firstSeq,
    })
  }
  return read.header
}

/** Default bytes per read while walking a segment. */
export const READ_CHUNK = 1024 * 1024

/**
 * Walks the frames of one segment, validating each. Reads in chunks; every chunk is a fresh buffer
 * that is never reused, so views handed out stay valid.
 *
 * Use: call {@link next} until it returns something other than `'ok'`. After `'ok'`, `seq`, `chunk`
 * with `cursor` (where the frame's parts lie in `chunk`), `frameStart` and `frameEnd` describe the
 * frame, and `batchOpen` says whether more frames of its batch follow. `'end'` means no bytes left
 * before the bound (at a batch boundary unless `batchOpen`). The walker can be resumed after `'end'`
 * when the bound grows (live tailing).
 */
export class FrameWalker {
  /** Seq of the last frame returned. */
  seq: number
  /**
   * The bytes holding the last record returned; `cursor` offsets point into it: the chunk read from
   * the file, or the decompressed block the record came from.
   */
  chunk: Buffer
  /** File offset of the last frame returned. */
  frameStart: number
  /** File offset just past the last frame returned (where the next one starts). */
  frameEnd: number
  /** True while inside a batch whose committing frame has not been seen. */
  batchOpen: boolean
  /** File offset just past the last frame that committed a batch. */
  committedEnd: number
  /** Seq of the last frame that committed a batch. */
  committedSeq: number
  /** Fields and problem of the last frame looked at. */
  readonly cursor: FrameCursor
  /**
   * Frames with a lower seq are stepped over without parsing their envelope (checksum and chains are
   * still checked; a point read walking to the frame it wants sets
   * it to that frame's seq); 0, the default, verifies every frame.
   */
  skimBelow = 0

  /** Whether a frame was taken yet (the first may be a block holding the start seq). */
  private started = false
  /** Records of the current compressed block not yet returned. */
  private blockLeft = 0
  /** Where the next record of the current block starts in {@link chunk}. */
  private blockAt = 0
  /** Batch remaining of the current block's frame. */
  private blockRemaining = 0
  /** The last chunk read from the file. */
  private buffer: Buffer
  private chunkPos: number // file offset of buffer[0]
  private chunkLen: number
  private fileSize = -1
  private expectedRemaining: number // -1: any value (start of a batch)
  private readonly files: Files
  private readonly fd: Fd
  private readonly maxRecordSize: number
  private chunkSize: number

  /**
   * @param files - the file interface
   * @param fd - the open segment
   * @param start - file offset of the first frame to read (just past the header, or a batch boundary)
   * @param firstSeq - the seq the frame at `start` must carry
   * @param maxRecordSize - largest legal body
   * @param chunkSize - bytes of the first read, doubling with each read up to {@link READ_CHUNK} (a
   *   frame longer is read whole): small when a few frames are wanted
   */
  constructor(
    files: Files,
    fd: Fd,
    start: number,
    firstSeq: number,
    maxRecordSize: number,
    chunkSize = READ_CHUNK,
  ) {
    this.files = files
    this.fd = fd
    this.maxRecordSize = maxRecordSize
    this.chunkSize = chunkSize
    this.seq = firstSeq - 1
    this.buffer = EMPTY
    this.chunk = EMPTY
    this.frameStart = start
    this.frameEnd = start
    this.batchOpen = false
    this.committedEnd = start
    this.committedSeq = firstSeq - 1
    this.cursor = newFrameCursor()
    this.chunkPos = start
    this.chunkLen = 0
    this.expectedRemaining = -1
  }

  /**
   * Parses the next frame from bytes already read, without I/O (the replay hot path).
   *
   * @returns `'ok'`, `'invalid'` (see `cursor`), or `'more'` when bytes must be read first
   */
  nextBuffered(): 'ok' | 'invalid' | 'more' {
    if (this.blockLeft > 0) return this.nextInBlock()
    const at = this.frameEnd - this.chunkPos
    const check = this.check(at, this.chunkLen)
    if (check === 'incomplete') return 'more'
    return check === 'ok' ? this.accept(at) : 'invalid'
  }

  /**
   * Reads the next frame, reading from the file when needed.
   *
   * @param bound - file offset the walker must not read past (the readable end; Infinity for EOF)
   * @returns `'ok'`, `'end'` (no bytes left before the bound), `'incomplete'` (bytes end inside a frame)
   *   or `'invalid'` (see `cursor`)
   * @throws WalError `WAL_IO`
   */
  async next(bound: number): Promise<FrameCheck | 'end'> {
    const buffered = this.nextBuffered()
    if (buffered !== 'more') return buffered
    const offset = this.frameEnd
    // Never past the readable end or the end of the file: a corrupt length must not size a read or
    // an allocation. (A finite bound lies inside the file: the writer wrote up to it.)
    const end = Number.isFinite(bound) ? bound : await this.size()
    const avail = await this.refill(offset, FRAME_HEADER_SIZE, end)
    const first = this.checkRead(offset, avail, end)
    if (first !== 'read-more') return first
    // The header is valid; the body runs past this chunk and the file holds it. Read what it needs.
    return this.checkBody(offset, await this.refill(offset, FRAME_HEADER_SIZE + this.cursor.length, end))
  }

  /**
   * Like {@link next}, with synchronous preads (`files.readSync`, which must exist): for point reads
   * of a few KiB, mostly from the page cache, where a round trip through libuv's thread pool costs
   * more than the read itself.
   *
   * @param bound - file offset the walker must not read past (finite: the readable end or the size)
   * @returns as {@link next}
   * @throws WalError `WAL_IO`
   */
  nextSync(bound: number): FrameCheck | 'end' {
    const buffered = this.nextBuffered()
    if (buffered !== 'more') return buffered
    const offset = this.frameEnd
    const avail = this.refillSync(offset, FRAME_HEADER_SIZE, bound)
    const first = this.checkRead(offset, avail, bound)
    if (first !== 'read-more') return first
    return this.checkBody(offset, this.refillSync(offset, FRAME_HEADER_SIZE + this.cursor.length, bound))
  }

  /** Checks the frame at `offset` after a first read: or asks for its whole body when it lies further. */
  private checkRead(offset: number, avail: number, end: number): FrameCheck | 'end' | 'read-more' {
    if (avail === 0) return 'end'
    const at = offset - this.chunkPos
    const check = this.check(at, at + avail)
    const need = FRAME_HEADER_SIZE + this.cursor.length
    if (check === 'incomplete' && avail >= FRAME_HEADER_SIZE && need <= end - offset) return 'read-more'
    return check === 'ok' ? this.accept(at) : check
  }

  /** Checks the frame at `offset` once its whole body was read. */
  private checkBody(offset: number, avail: number): FrameCheck {
    const at = offset - this.chunkPos
    const check = this.check(at, at + avail)
    return check === 'ok' ? this.accept(at) : check
  }

  /** The file's size, read once: only asked for without a bound (a sealed or scanned segment). */
  private async size(): Promise<number> {
    if (this.fileSize < 0) {
      try {
        this.fileSize = await this.files.size(this.fd)
      } catch (err) {
        throw WalError.IO('segment size failed', { cause: err })
      }
    }
    return this.fileSize
  }

  /**
   * Checks the next frame, at chunk offset `at`: in full, or only skimmed (see {@link skimFrame}) when
   * its seq is below {@link skimBelow} (a compressed block: when all of its seqs are). The first frame
   * may be a compressed block that holds the seq the walk starts at (a record located in a block).
   */
  private check(at: number, end: number): FrameCheck {
    const seq = this.seq + 1
    const cursor = this.cursor
    const first = !this.started
    const expected = first ? 0 : seq
    let check =
      seq < this.skimBelow
        ? skimFrame(this.buffer, at, end, expected, this.maxRecordSize, cursor)
        : checkFrame(this.buffer, at, end, expected, this.maxRecordSize, cursor)
    if (
      check === 'ok' &&
      cursor.count > 1 &&
      cursor.seq + cursor.count - 1 >= this.skimBelow &&
      seq < this.skimBelow
    ) {
      check = checkFrame(this.buffer, at, end, expected, this.maxRecordSize, cursor)
    }
    if (
      check === 'ok' &&
      first &&
      cursor.seq !== seq &&
      !(cursor.seq < seq && seq < cursor.seq + cursor.count)
    ) {
      cursor.code = 'frame-seq'
      cursor.problem = `frame seq ${cursor.seq} breaks the chain (expected ${seq})`
      return 'invalid'
    }
    return check
  }

  /** Takes the checked frame at chunk offset `at`: checks the batch chain and advances. */
  private accept(at: number): 'ok' | 'invalid' {
    const cursor = this.cursor
    const remaining = cursor.batchRemaining
    if (this.expectedRemaining !== -1 && remaining !== this.expectedRemaining) {
      cursor.code = 'batch-chain'
      cursor.problem = `batch chain broken: ${remaining} frames announced, ${this.expectedRemaining} expected`
      return 'invalid'
    }
    if (cursor.count > 1 || cursor.codec !== 0) {
      if (cursor.seq + cursor.count - 1 >= this.skimBelow) return this.openBlock(at, remaining)
      // Stepped over whole: its last record stands for it.
      cursor.seq += cursor.count - 1
    }
    this.started = true
    this.seq = cursor.seq
    this.chunk = this.buffer
    this.frameStart = this.chunkPos + at
    this.frameEnd = this.chunkPos + cursor.end
    this.expectedRemaining = remaining === 0 ? -1 : remaining - 1
    this.batchOpen = remaining !== 0
    if (remaining === 0) {
      this.committedEnd = this.frameEnd
      this.committedSeq = this.seq
    }
    return 'ok'
  }

  /**
   * Decompresses the checked block frame at chunk offset `at` and checks every record in it (a block
   * that does not decompress or parse is refused whole, before any of its records is returned), then
   * returns its first record. Its records are one atomic unit: the block commits after its last.
   */
  private openBlock(at: number, remaining: number): 'ok' | 'invalid' {
    const cursor = this.cursor
    const { count, blockSize, seq } = cursor
    if (blockSize > this.maxRecordSize) {
      cursor.code = 'frame-body'
      cursor.problem = `compressed block of ${blockSize} bytes, over maxRecordSize ${this.maxRecordSize}`
      return 'invalid'
    }
    const block = decompressBlock(cursor.codec, this.buffer.subarray(cursor.dataAt, cursor.end), blockSize)
    if (typeof block === 'string') {
      cursor.code = 'frame-body'
      cursor.problem = block
      return 'invalid'
    }
    const frameEnd = cursor.end
    let p = 0
    for (let i = 0; i < count; i++) {
      if (parseBlockRecord(block, p, cursor) !== 'ok') return 'invalid'
      p = cursor.end
    }
    if (p !== block.length) {
      cursor.code = 'frame-body'
      cursor.problem = `the compressed block holds more than its ${count} records`
      return 'invalid'
    }
    this.started = true
    this.seq = seq - 1
    this.chunk = block
    this.frameStart = this.chunkPos + at
    this.frameEnd = this.chunkPos + frameEnd
    this.expectedRemaining = remaining === 0 ? -1 : remaining - 1
    this.blockLeft = count
    this.blockAt = 0
    this.blockRemaining = remaining
    return this.nextInBlock()
  }

  /** Returns the next record of the current block (checked when the block was opened). */
  private nextInBlock(): 'ok' {
    const cursor = this.cursor
    parseBlockRecord(this.chunk, this.blockAt, cursor)
    this.blockAt = cursor.end
    this.blockLeft--
    this.seq++
    cursor.seq = this.seq
    cursor.count = 1
    cursor.batchRemaining = this.blockLeft > 0 ? this.blockLeft + this.blockRemaining : this.blockRemaining
    const open = this.blockLeft > 0 || this.blockRemaining !== 0
    this.batchOpen = open
    if (!open) {
      this.committedEnd = this.frameEnd
      this.committedSeq = this.seq
    }
    return 'ok'
  }

  /** Ensures the chunk holds `need` bytes from `offset` if the file has them; returns bytes available. */
  private async refill(offset: number, need: number, bound: number): Promise<number> {
    const plan = this.planRefill(offset, need, bound)
    if (typeof plan === 'number') return plan
    const { next, kept, want } = plan
    return this.install(
      next,
      offset,
      kept + (await readFully(this.files, this.fd, next, kept, want - kept, offset + kept)),
    )
  }

  /** {@link refill} with a synchronous read. */
  private refillSync(offset: number, need: number, bound: number): number {
    const plan = this.planRefill(offset, need, bound)
    if (typeof plan === 'number') return plan
    const { next, kept, want } = plan
    return this.install(
      next,
      offset,
      kept + readFullySync(this.files, this.fd, next, kept, want - kept, offset + kept),
    )
  }

  /** What a refill must read: the bytes already held when they suffice, else a new chunk to fill. */
  private planRefill(
    offset: number,
    need: number,
    bound: number,
  ): number | { next: Buffer; kept: number; want: number } {
    const kept = this.chunkPos + this.chunkLen - offset
    const limit = bound - offset
    const want = Math.min(Math.max(need, this.chunkSize), limit)
    if (want <= kept) return kept
    if (this.chunkSize < READ_CHUNK) this.chunkSize = Math.min(this.chunkSize * 2, READ_CHUNK)
    const next = Buffer.allocUnsafe(want)
    if (kept > 0) this.buffer.copy(next, 0, offset - this.chunkPos, offset - this.chunkPos + kept)
    return { next, kept, want }
  }

  private install(chunk: Buffer, offset: number, filled: number): number {
    this.buffer = chunk
    this.chunkPos = offset
    this.chunkLen = filled
    return filled
  }
}

/** {@link readFully} with synchronous reads (`files.readSync` must exist). */
function readFullySync(
  files: Files,
  fd: Fd,
  buf: Buffer,
  offset: number,
  length: number,
  position: number,
): number {
  let filled = 0
  while (filled < length) {
    let n: number
    try {
      n = files.readSync!(fd, buf, offset + filled, length - filled, position + filled)
    } catch (err) {
      throw WalError.IO('segment read failed', { cause: err, offset: position + filled })
    }
    if (n === 0) break
    filled += n
  }
  return filled
}

/** Reads up to `length` bytes at `position`, looping on short reads; returns the count read. */
async function readFully(
  files: Files,
  fd: Fd,
  buf: Buffer,
  offset: number,
  length: number,
  position: number,
): Promise<number> {
  let filled = 0
  while (filled < length) {
    let n: number
    try {
      n = await files.read(fd, buf, offset + filled, length - filled, position + filled)
    } catch (err) {
      throw WalError.IO('segment read failed', { cause: err, offset: position + filled })
    }
    if (n === 0) break
    filled += n
  }
  return filled
}

const EMPTY = Buffer.alloc(0)

/** A segment's verdict: see the module comment. */
export type Verdict = 'clean' | 'torn' | 'corrupt'

/** What {@link scanSegment} found. */
export interface SegmentScan {
  /** The verdict. */
  readonly verdict: Verdict
  /** Why it is not clean (null when clean). */
  readonly problem: ScanProblem | null
  /** The header, or null when it is bad. */
  readonly header: SegmentHeader | null
  /** Size of the file in bytes. */
  readonly fileSize: number
  /** Valid frames read (those of an unfinished batch included). */
  readonly frames: number
  /** End of the last committed batch: where a torn tail starts. */
  readonly validEnd: number
  /** Seq of the last committed frame (first seq − 1 when none). */
  readonly lastSeq: number
  /**
   * With {@link ScanOptions.boundaries}: batch boundaries before {@link validEnd}, about one per
   * {@link SEEK_FILE_SPACING} bytes, the first frame first (what the segment's seek file starts from).
   */
  readonly boundaries?: { readonly offsets: number[]; readonly seqs: number[] }
}

/** Options of {@link scanSegment}. */
export interface ScanOptions {
  /** The largest legal body. */
  maxRecordSize: number
  /** Whether this is the newest segment, the only one that can be torn. */
  newest: boolean
  /** The serializer name the header must carry; undefined accepts any. */
  serializerName?: string | undefined
  /** Note batch boundaries as the walk passes them (a writer's recovery of its newest segment). */
  boundaries?: boolean
}

/**
 * Walks a whole segment and judges it: see the module comment and docs/FORMAT.md.
 *
 * @param files - the file interface
 * @param fd - the open segment
 * @param ref - which segment
 * @param options - `maxRecordSize`, `newest`, `serializerName`
 * @returns the verdict with the last committed seq and offset
 * @throws WalError `WAL_IO`
 */
export async function scanSegment(
  files: Files,
  fd: Fd,
  ref: SegmentRef,
  options: ScanOptions,
): Promise<SegmentScan> {
  const read = await readHeader(files, fd, ref)
  if (!read.ok) {
    return {
      verdict: 'corrupt',
      problem: read.problem,
      header: null,
      fileSize: read.fileSize,
      frames: 0,
      validEnd: 0,
      lastSeq: ref.firstSeq - 1,
    }
  }
  const { header, fileSize } = read
  if (options.serializerName !== undefined && header.serializerName !== options.serializerName) {
    expectHeader(read, ref, options.serializerName)
  }
  const walker = new FrameWalker(files, fd, header.headerSize, header.firstSeq, options.maxRecordSize)
  const offsets = [header.headerSize]
  const seqs = [header.firstSeq]
  let frames = 0
  let stop = await walker.next(Number.POSITIVE_INFINITY)
  while (stop === 'ok') {
    frames++
    if (
      options.boundaries &&
      !walker.batchOpen &&
      walker.frameEnd - offsets[offsets.length - 1]! >= SEEK_FILE_SPACING
    ) {
      offsets.push(walker.frameEnd)
      seqs.push(walker.seq + 1)
    }
    stop = await walker.next(Number.POSITIVE_INFINITY)
  }
  const validEnd = walker.committedEnd
  // The boundary at the valid end starts no frame (appends will, and note it themselves).
  if (offsets.length > 1 && offsets[offsets.length - 1]! >= validEnd) {
    offsets.pop()
    seqs.pop()
  }
  const result = {
    header,
    fileSize,
    frames,
    validEnd,
    lastSeq: walker.committedSeq,
    ...(options.boundaries ? { boundaries: { offsets, seqs } } : {}),
  }
  if (stop === 'end' && !walker.batchOpen) return { ...result, verdict: 'clean', problem: null }
  const judged = await judgeStop(files, fd, walker, stop, fileSize, options)
  return { ...result, ...judged }
}

/** Decides torn or corrupt for a segment whose walk stopped before a clean end. */
async function judgeStop(
  files: Files,
  fd: Fd,
  walker: FrameWalker,
  stop: FrameCheck | 'end',
  fileSize: number,
  options: ScanOptions,
): Promise<{ verdict: Verdict; problem: ScanProblem }> {
  const damageAt = walker.frameEnd
  const seq = walker.seq + 1
  const cursor = walker.cursor
  if (stop === 'invalid' && (await isIntactOversizeFrame(files, fd, damageAt, cursor, seq, fileSize))) {
    const reason =
      `an intact record of ${cursor.length} bytes, over maxRecordSize ${options.maxRecordSize}: ` +
      `open it with maxRecordSize >= ${cursor.length}`
    return { verdict: 'corrupt', problem: { code: 'record-too-large', reason, offset: damageAt, seq } }
  }
  const problem: ScanProblem =
    stop === 'end'
      ? {
          code: 'batch-open',
          reason: 'the file ends inside an atomic batch',
          offset: walker.committedEnd,
          seq: walker.committedSeq + 1,
        }
      : {
          code: cursor.code,
          reason: `${cursor.problem}${walker.batchOpen ? ' (inside an atomic batch)' : ''}`,
          offset: damageAt,
          seq,
        }
  if (!options.newest) return { verdict: 'corrupt', problem }
  if (stop === 'end') return { verdict: 'torn', problem }
  // A body that is not well formed passed its checksum: a whole frame as some writer wrote it (a
  // compressed block that does not decompress, say), which no torn write leaves. Never cut.
  if (cursor.code === 'frame-body') return { verdict: 'corrupt', problem }
  const past = await findFramesPastDamage(files, fd, damageAt, fileSize, walker.seq, walker.committedSeq)
  if (past === undefined) return { verdict: 'torn', problem }
  return {
    verdict: 'corrupt',
    problem: { ...problem, reason: `${problem.reason}, followed by intact data: ${past}` },
  }
}

/**
 * Looks past damage in the newest segment for valid frames, and says whether they prove the damage
 * is not a torn write (returns why), or are consistent with one (undefined).
 *
 * They prove it when one of them was encoded after the damaged record was already durable (its sync
 * distance says so: the damaged bytes had been fdatasync'ed, so no crash can explain them), or when
 * the damaged bytes before the first of them hold no sector piece a power cut could have lost (see
 * {@link holdsLostPiece}).
 *
 * @param lastValidSeq - seq of the last valid frame before the damage (frames past it are above it)
 * @param committedSeq - seq of the last committed frame (the damaged batch starts after it)
 */
async function findFramesPastDamage(
  files: Files,
  fd: Fd,
  damageAt: number,
  fileSize: number,
  lastValidSeq: number,
  committedSeq: number,
): Promise<string | undefined> {
  const window = new ScanWindow(files, fd, fileSize)
  const cursor = newFrameCursor()
  // Seqs past the damage can be at most one per smallest frame.
  const maxSeq = lastValidSeq + Math.ceil((fileSize - damageAt) / (FRAME_HEADER_SIZE + MIN_BODY_SIZE)) + 1
  let first: { at: number; writeStart: boolean } | undefined
  for (let at = damageAt + 1; at + FRAME_HEADER_SIZE + MIN_BODY_SIZE <= fileSize; at++) {
    let o = window.offsetOf(at, FRAME_HEADER_SIZE)
    if (o < 0) o = await window.load(at)
    const head = window.buf
    const bodyLength = head.readUInt32LE(o + 4)
    if (bodyLength < MIN_BODY_SIZE || at + FRAME_HEADER_SIZE + bodyLength > fileSize) continue
    const seq = head.readUInt32LE(o + 8) + head.readUInt32LE(o + 12) * 2 ** 32
    if (seq <= lastValidSeq || seq > maxSeq) continue
    // Any length that fits counts: an intact record written with a larger maxRecordSize is intact.
    const size = FRAME_HEADER_SIZE + bodyLength
    const frame = await window.at(at, size)
    if (checkFrame(frame.buf, frame.offset, frame.offset + size, 0, bodyLength, cursor) !== 'ok') continue
    // A distance of 0 is unknown: it proves nothing.
    const durableThrough = cursor.syncDistance === 0 ? 0 : cursor.seq - cursor.syncDistance
    if (durableThrough > committedSeq) {
      return `seq ${cursor.seq} at offset ${at} was written after seq ${committedSeq + 1} was durable`
    }
    first ??= { at, writeStart: cursor.writeStart }
    at += size - 1
  }
  if (first === undefined) return undefined
  if (!(await holdsLostPiece(window, damageAt, first.at, first.writeStart))) {
    return `the damaged bytes before the frame at offset ${first.at} are not a lost write`
  }
  return undefined
}

/**
 * Reads a segment in bounded windows for the scan past damage, so that scanning a large newest
 * segment never holds it whole in memory; a frame longer than a window is read on its own (its
 * length is bounded by the file).
 */
class ScanWindow {
  /** The bytes read last, from file offset {@link start}. */
  buf = Buffer.alloc(0)
  private start = 0
  private readonly files: Files
  private readonly fd: Fd
  private readonly fileSize: number

  constructor(files: Files, fd: Fd, fileSize: number) {
    this.files = files
    this.fd = fd
    this.fileSize = fileSize
  }

  /** Where `[position, position + length)` lies in {@link buf}, or -1 when it is not read yet. */
  offsetOf(position: number, length: number): number {
    return position >= this.start && position + length <= this.start + this.buf.length
      ? position - this.start
      : -1
  }

  /** Reads the window that starts at `position`; returns `position`'s offset in it (0). */
  async load(position: number): Promise<number> {
    const size = Math.min(SCAN_WINDOW, this.fileSize - position)
    const buf = Buffer.allocUnsafe(size)
    const n = await readFully(this.files, this.fd, buf, 0, size, position)
    this.buf = buf.subarray(0, n)
    this.start = position
    return 0
  }

  /** The bytes `[position, position + length)` (within the file): a buffer and where they start in it. */
  async at(position: number, length: number): Promise<{ buf: Buffer; offset: number }> {
    const offset = this.offsetOf(position, length)
    if (offset >= 0) return { buf: this.buf, offset }
    if (length > SCAN_WINDOW) {
      const own = Buffer.allocUnsafe(length)
      await readFully(this.files, this.fd, own, 0, length, position)
      return { buf: own, offset: 0 }
    }
    await this.load(position)
    return { buf: this.buf, offset: 0 }
  }
}

/** Bytes per read of the scan past damage. */
const SCAN_WINDOW = 4 * 1024 * 1024

const SECTOR = 512

/**
 * Whether the damaged bytes `[damageAt, end)` (`end` is where the first valid frame past the damage
 * starts) hold a piece of a 512-byte sector that a power cut could have lost: all zeros, from the
 * sector's start (or the start of the damage) to the sector's end, or to that valid frame when it
 * starts a write of its own. A cut loses what one write put in a sector as a whole, so zeros that stop
 * short of such a boundary (inside a write whose next bytes survived) are data, not a lost write.
 *
 * @param endStartsWrite - whether the valid frame at `end` is the first frame of a write call
 */
async function holdsLostPiece(
  window: ScanWindow,
  damageAt: number,
  end: number,
  endStartsWrite: boolean,
): Promise<boolean> {
  for (let sector = Math.floor(damageAt / SECTOR) * SECTOR; sector < end; sector += SECTOR) {
    const from = Math.max(damageAt, sector)
    const to = Math.min(end, sector + SECTOR)
    if (to !== sector + SECTOR && !(to === end && endStartsWrite)) continue
    const bytes = await window.at(from, to - from)
    let zero = true
    for (let i = bytes.offset; i < bytes.offset + (to - from) && zero; i++)
      if (bytes.buf[i] !== 0) zero = false
    if (zero) return true
  }
  return false
}

/**
 * Whether a frame rejected only for a length above `maxRecordSize` is in fact whole and intact: it
 * continues the seq chain, fits in the file, and its checksum matches. Such a frame was written with
 * a larger `maxRecordSize`; treating it as corruption would cut acknowledged records. The read is
 * bounded by the file size, never by the length field alone.
 */
async function isIntactOversizeFrame(
  files: Files,
  fd: Fd,
  offset: number,
  cursor: FrameCursor,
  expectedSeq: number,
  fileSize: number,
): Promise<boolean> {
  if (cursor.code !== 'frame-length' || !cursor.oversize || cursor.seq !== expectedSeq) return false
  const size = FRAME_HEADER_SIZE + cursor.length
  if (offset + size > fileSize) return false
  const buf = Buffer.allocUnsafe(size)
  if ((await readFully(files, fd, buf, 0, size, offset)) < size) return false
  return buf.readUInt32LE(0) === crc32(buf, 4, buf.length)
}

/**
 * The problem that ends a streaming read at `walker`'s position when the bytes there are not a
 * frame: an intact oversize record, or corruption.
 *
 * @param files - the file interface
 * @param fd - the open segment
 * @param walker - stopped on `'invalid'` or `'incomplete'`
 * @param maxRecordSize - the limit the walker used
 */
export async function streamProblem(
  files: Files,
  fd: Fd,
  walker: FrameWalker,
  maxRecordSize: number,
): Promise<ScanProblem> {
  const cursor = walker.cursor
  const offset = walker.frameEnd
  const seq = walker.seq + 1
  if (cursor.oversize) {
    const size = await files.size(fd)
    if (await isIntactOversizeFrame(files, fd, offset, cursor, seq, size)) {
      const reason =
        `an intact record of ${cursor.length} bytes, over maxRecordSize ${maxRecordSize}: ` +
        `open it with maxRecordSize >= ${cursor.length}`
      return { code: 'record-too-large', reason, offset, seq }
    }
  }
  return { code: cursor.code, reason: cursor.problem, offset, seq }
}

/** Where the committed frames of a segment end, as {@link readableEnd} finds it. */
export interface CommittedEnd {
  /** Offset just past the last committed frame. */
  end: number
  /** Seq of the last committed frame. */
  seq: number
  /** Whether the walk reached the end of the file at a batch boundary (so a next segment may follow). */
  clean: boolean
}

/**
 * Finds the end of the committed frames of a segment another process is writing, walking from a
 * known committed position (or from its header). For readers that follow a live log.
 *
 * @param files - the file interface
 * @param ref - the segment
 * @param from - a committed position in it (offset and the seq of the frame there), or undefined
 * @param options - `maxRecordSize` and the serializer name the header must carry
 * @returns the committed end, or undefined when the file is gone (deleted by retention)
 * @throws WalError `WAL_CORRUPT`, `WAL_SERIALIZER_MISMATCH`, `WAL_FORMAT_UNSUPPORTED`, `WAL_IO`
 */
export async function readableEnd(
  files: Files,
  ref: SegmentRef,
  from: { offset: number; seq: number } | undefined,
  options: { maxRecordSize: number; serializerName: string | undefined },
): Promise<CommittedEnd | undefined> {
  let fd: Fd
  try {
    fd = await files.open(ref.path, 'r')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw WalError.IO(`cannot open ${ref.path}`, { cause: err, file: ref.path })
  }
  try {
    let start = from
    if (start === undefined) {
      const header = expectHeader(await readHeader(files, fd, ref), ref, options.serializerName)
      start = { offset: header.headerSize, seq: header.firstSeq }
    }
    const walker = new FrameWalker(files, fd, start.offset, start.seq, options.maxRecordSize)
    let stop = await walker.next(Number.POSITIVE_INFINITY)
    while (stop === 'ok') stop = await walker.next(Number.POSITIVE_INFINITY)
    return {
      end: walker.committedEnd,
      seq: walker.committedSeq,
      clean: stop === 'end' && !walker.batchOpen,
    }
  } finally {
    await files.close(fd)
  }
}
