/**
 * One segment file at a time: listing segments, reading a header, and walking frames in order with
 * validation. Reads go through {@link Files}; frame layout comes from `format`.
 *
 * @internal
 */
import { join } from 'node:path'
import { crc32 } from './checksum.js'
import { WalError } from './errors.js'
import type { Fd, Files } from './files.js'
import {
  checkFrame,
  FRAME_HEADER_SIZE,
  type FrameCheck,
  type FrameCursor,
  MAX_HEADER_SIZE,
  newFrameCursor,
  parseSegmentFileName,
  parseSegmentHeader,
  type SegmentHeader,
} from './format.js'

/** A segment file known to the WAL. */
export interface SegmentRef {
  readonly firstSeq: number
  readonly path: string
}

/**
 * Lists the segment files of `dir` in seq order (other files are ignored).
 *
 * @param files - the file interface
 * @param dir - the WAL directory
 * @returns the segments, oldest first
 */
export async function listSegments(files: Files, dir: string): Promise<SegmentRef[]> {
  const out: SegmentRef[] = []
  for (const name of await files.readdir(dir)) {
    const firstSeq = parseSegmentFileName(name)
    if (firstSeq !== undefined) out.push({ firstSeq, path: join(dir, name) })
  }
  return out.sort((a, b) => a.firstSeq - b.firstSeq)
}

/** What {@link readHeader} found: the header, or a problem and the file size. */
export type HeaderRead =
  | { ok: true; header: SegmentHeader; fileSize: number }
  | { ok: false; problem: string; fileSize: number }

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
  if (typeof parsed === 'string') return { ok: false, problem: parsed, fileSize }
  if (parsed.firstSeq !== ref.firstSeq) {
    return {
      ok: false,
      problem: `header first seq ${parsed.firstSeq} does not match the file name`,
      fileSize,
    }
  }
  return { ok: true, header: parsed, fileSize }
}

/**
 * Checks a header read and that it was written by the expected serializer.
 *
 * @returns the header
 * @throws WalError `WAL_CORRUPT`, `WAL_FORMAT_UNSUPPORTED`, `WAL_SERIALIZER_MISMATCH`
 */
export function expectHeader(read: HeaderRead, ref: SegmentRef, serializerName: string): SegmentHeader {
  if (!read.ok) {
    const code = read.problem === 'version' ? 'WAL_FORMAT_UNSUPPORTED' : 'WAL_CORRUPT'
    throw new WalError(code, `${ref.path}: bad segment header (${read.problem})`, {
      file: ref.path,
      offset: 0,
    })
  }
  if (read.header.serializerName !== serializerName) {
    throw new WalError(
      'WAL_SERIALIZER_MISMATCH',
      `${ref.path} was written with serializer '${read.header.serializerName}', opened with '${serializerName}'`,
      { file: ref.path },
    )
  }
  return read.header
}

/**
 * Whether a frame rejected only for a length above `maxRecordSize` is in fact whole and intact: it
 * continues the seq chain, fits in the file, and its checksum matches. Such a frame was written with
 * a larger `maxRecordSize`; treating it as corruption would cut acknowledged records. The read is
 * bounded by the file size, never by the length field alone.
 *
 * @param files - the file interface
 * @param fd - the open segment
 * @param offset - where the frame starts
 * @param cursor - the rejected frame's header fields
 * @param expectedSeq - the seq the frame must carry
 * @param fileSize - the segment's size
 */
async function isIntactOversizeFrame(
  files: Files,
  fd: Fd,
  offset: number,
  cursor: FrameCursor,
  expectedSeq: number,
  fileSize: number,
): Promise<boolean> {
  if (!cursor.oversize || cursor.seq !== expectedSeq) return false
  const size = FRAME_HEADER_SIZE + cursor.length
  if (offset + size > fileSize) return false
  const buf = Buffer.allocUnsafe(size)
  let filled = 0
  while (filled < size) {
    const n = await files.read(fd, buf, filled, size - filled, offset + filled)
    if (n === 0) return false
    filled += n
  }
  return buf.readUInt32LE(0) === crc32(buf, 4, buf.length)
}

/** The error for a log holding a record larger than the `maxRecordSize` it was opened with. */
export function oversizeError(
  file: string,
  offset: number,
  cursor: FrameCursor,
  maxRecordSize: number,
): WalError {
  return new WalError(
    'WAL_RECORD_TOO_LARGE',
    `${file} holds a record of ${cursor.length} bytes at seq ${cursor.seq}, over maxRecordSize ${maxRecordSize}: ` +
      `open it with maxRecordSize >= ${cursor.length}`,
    { file, offset, seq: cursor.seq },
  )
}

/** Default bytes per read while walking a segment. */
export const READ_CHUNK = 1024 * 1024

/**
 * Walks the frames of one segment, validating each: checksum, length bound, the seq chain and the
 * batch chain. Reads in chunks; every chunk is a fresh buffer that is never reused, so payload views
 * handed out stay valid.
 *
 * Use: call {@link next} until it returns something other than `'ok'`. After `'ok'`, `seq`, `payload`,
 * `frameStart` and `frameEnd` describe the frame, and `batchOpen` says whether more frames of its batch
 * follow. `'end'` means clean end of the readable bytes (at a batch boundary unless `batchOpen`).
 * The reader can be resumed after `'end'` when the bound grows (live tailing).
 */
export class FrameReader {
  /** Seq of the last frame returned. */
  seq: number
  /** Payload of the last frame returned (a view into a read chunk). */
  payload: Buffer
  /** File offset of the last frame returned. */
  frameStart: number
  /** File offset just past the last frame returned (or the resume position). */
  frameEnd: number
  /** True while inside a batch whose committing frame has not been seen. */
  batchOpen: boolean
  /** File offset just past the last frame that committed a batch. */
  committedEnd: number
  /** Seq of the last frame that committed a batch. */
  committedSeq: number
  /** Header fields and problem of the last frame looked at. */
  readonly cursor: FrameCursor

  private chunk: Buffer
  private chunkPos: number // file offset of chunk[0]
  private chunkLen: number
  private expectedSeq: number
  private expectedRemaining: number // -1: any value (start of a batch)
  private readonly files: Files
  private readonly fd: Fd
  private readonly maxRecordSize: number

  /**
   * @param files - the file interface
   * @param fd - the open segment
   * @param start - file offset of the first frame to read (just past the header, or a frame boundary)
   * @param firstSeq - the seq the frame at `start` must carry
   * @param maxRecordSize - largest legal payload
   */
  constructor(files: Files, fd: Fd, start: number, firstSeq: number, maxRecordSize: number) {
    this.files = files
    this.fd = fd
    this.maxRecordSize = maxRecordSize
    this.seq = firstSeq - 1
    this.payload = EMPTY
    this.frameStart = start
    this.frameEnd = start
    this.batchOpen = false
    this.committedEnd = start
    this.committedSeq = firstSeq - 1
    this.cursor = newFrameCursor()
    this.chunk = EMPTY
    this.chunkPos = start
    this.chunkLen = 0
    this.expectedSeq = firstSeq
    this.expectedRemaining = -1
  }

  /**
   * Parses the next frame from bytes already read, without I/O (the replay hot path).
   *
   * @returns `'ok'`, `'invalid'` (see `cursor.problem`), or `'more'` when bytes must be read first
   */
  nextBuffered(): 'ok' | 'invalid' | 'more' {
    const at = this.frameEnd - this.chunkPos
    const check = checkFrame(this.chunk, at, this.chunkLen, this.expectedSeq, this.maxRecordSize, this.cursor)
    if (check === 'incomplete') return 'more'
    return check === 'ok' ? this.accept(at) : 'invalid'
  }

  /**
   * Reads the next frame, reading from the file when needed.
   *
   * @param bound - file offset the reader must not read past (the readable end; Infinity for EOF)
   * @returns `'ok'`, `'end'` (no bytes left before the bound), `'incomplete'` (bytes end inside a frame)
   *   or `'invalid'` (see `cursor.problem`)
   */
  async next(bound: number): Promise<FrameCheck | 'end'> {
    const buffered = this.nextBuffered()
    if (buffered !== 'more') return buffered
    const offset = this.frameEnd
    let avail = await this.refill(offset, FRAME_HEADER_SIZE, bound)
    if (avail === 0) return 'end'
    let at = offset - this.chunkPos
    let check = checkFrame(this.chunk, at, at + avail, this.expectedSeq, this.maxRecordSize, this.cursor)
    if (check === 'incomplete' && avail >= FRAME_HEADER_SIZE) {
      // The header is valid; the payload runs past this chunk. Read exactly what it needs.
      avail = await this.refill(offset, FRAME_HEADER_SIZE + this.cursor.length, bound)
      at = offset - this.chunkPos
      check = checkFrame(this.chunk, at, at + avail, this.expectedSeq, this.maxRecordSize, this.cursor)
    }
    return check === 'ok' ? this.accept(at) : check
  }

  /**
   * Reads every remaining frame up to the end of the file or the first problem.
   *
   * @returns how reading stopped, and how many valid frames it read
   */
  async skipToEnd(): Promise<{ stop: FrameCheck | 'end'; frames: number }> {
    let frames = 0
    let stop = await this.next(Number.POSITIVE_INFINITY)
    while (stop === 'ok') {
      frames++
      stop = await this.next(Number.POSITIVE_INFINITY)
    }
    return { stop, frames }
  }

  /**
   * Whether the frame just rejected as `'invalid'` is in fact an intact record over `maxRecordSize`
   * (written with a larger one): see {@link isIntactOversizeFrame}.
   *
   * @param fileSize - the segment's size
   */
  rejectedIntactOversize(fileSize: number): Promise<boolean> {
    return isIntactOversizeFrame(this.files, this.fd, this.frameEnd, this.cursor, this.seq + 1, fileSize)
  }

  /** Takes the checked frame at chunk offset `at`: checks the batch chain and advances. */
  private accept(at: number): 'ok' | 'invalid' {
    const remaining = this.cursor.batchRemaining
    if (this.expectedRemaining !== -1 && remaining !== this.expectedRemaining) {
      this.cursor.problem = `batch chain broken: ${remaining} frames announced, ${this.expectedRemaining} expected`
      return 'invalid'
    }
    const start = at + FRAME_HEADER_SIZE
    const end = start + this.cursor.length
    this.seq = this.cursor.seq
    this.payload = this.chunk.subarray(start, end)
    this.frameStart = this.chunkPos + at
    this.frameEnd = this.chunkPos + end
    this.expectedSeq = this.seq + 1
    this.expectedRemaining = remaining === 0 ? -1 : remaining - 1
    this.batchOpen = remaining !== 0
    if (remaining === 0) {
      this.committedEnd = this.frameEnd
      this.committedSeq = this.seq
    }
    return 'ok'
  }

  /** Ensures the chunk holds `need` bytes from `offset` if the file has them; returns bytes available. */
  private async refill(offset: number, need: number, bound: number): Promise<number> {
    const kept = this.chunkPos + this.chunkLen - offset
    const limit = bound - offset
    const want = Math.min(Math.max(need, READ_CHUNK), limit)
    if (want <= kept) return kept
    const next = Buffer.allocUnsafe(want)
    if (kept > 0) this.chunk.copy(next, 0, offset - this.chunkPos, offset - this.chunkPos + kept)
    let filled = kept
    while (filled < want) {
      let n: number
      try {
        n = await this.files.read(this.fd, next, filled, want - filled, offset + filled)
      } catch (err) {
        throw new WalError('WAL_IO', 'segment read failed', { cause: err, offset: offset + filled })
      }
      if (n === 0) break
      filled += n
    }
    this.chunk = next
    this.chunkPos = offset
    this.chunkLen = filled
    return filled
  }
}

const EMPTY = Buffer.alloc(0)
