/**
 * The on-disk layout of segments and frames (docs/FORMAT.md is the prose version; keep both exact).
 * Bytes only: nothing here touches files or interprets payloads.
 *
 * Segment header (little-endian):
 * ```
 *  0  4  magic "WLTZ"
 *  4  2  format version (1)
 *  6  2  header length in bytes, including the trailing checksum
 *  8  8  first seq (u64)
 * 16  8  created at, ms since the epoch (u64)
 * 24  1  serializer name length n (1..255)
 * 25  n  serializer name, UTF-8
 * 25+n 4 CRC-32 of bytes [0, 25+n)
 * ```
 * Frame (little-endian), repeated until the end of the segment:
 * ```
 *  0  4  CRC-32 of bytes [4, 20 + length): it covers length, seq, batch and payload
 *  4  4  payload length (1..maxRecordSize)
 *  8  8  seq (u64, < 2^53)
 * 16  4  frames that follow in the same atomic batch (0 = this frame commits the batch)
 * 20  …  payload (the serializer's bytes)
 * ```
 */
import { crc32 } from './checksum.js'

/** Segment file magic: "WLTZ". */
export const SEGMENT_MAGIC = 0x5a544c57
/** The only format version this build writes and reads. */
export const FORMAT_VERSION = 1
/** Bytes of the fixed part of a segment header, before the serializer name. */
const HEADER_FIXED = 25
/** The largest possible segment header. */
export const MAX_HEADER_SIZE = HEADER_FIXED + 255 + 4
/** Bytes of a frame header. */
export const FRAME_HEADER_SIZE = 20
/** Segment file extension. */
export const SEGMENT_EXT = '.wal'

const SEQ_HIGH = 2 ** 32

/** The decoded header of a segment file. */
export interface SegmentHeader {
  readonly version: number
  readonly headerSize: number
  readonly firstSeq: number
  readonly createdAt: number
  readonly serializerName: string
}

/**
 * The file name of the segment whose first record has `firstSeq`: 20 zero-padded digits, so names sort
 * in seq order.
 *
 * @param firstSeq - the segment's first sequence number
 * @returns e.g. `00000000000000000001.wal`
 */
export function segmentFileName(firstSeq: number): string {
  return `${String(firstSeq).padStart(20, '0')}${SEGMENT_EXT}`
}

/**
 * The first seq encoded in a segment file name, or undefined when the name is not a segment's.
 *
 * @param name - a directory entry
 * @returns the first seq, or undefined
 */
export function parseSegmentFileName(name: string): number | undefined {
  if (name.length !== 20 + SEGMENT_EXT.length || !name.endsWith(SEGMENT_EXT)) return undefined
  const digits = name.slice(0, 20)
  if (!/^\d{20}$/.test(digits)) return undefined
  const seq = Number(digits)
  return Number.isSafeInteger(seq) && seq >= 1 ? seq : undefined
}

function writeU64(buf: Buffer, value: number, offset: number): void {
  buf.writeUInt32LE(value % SEQ_HIGH, offset)
  buf.writeUInt32LE(Math.floor(value / SEQ_HIGH), offset + 4)
}

function readU64(buf: Buffer, offset: number): number {
  // Values above 2^53 cannot be written by this code; reading one is corruption, caught by callers'
  // range checks because the result is then not a safe integer.
  return buf.readUInt32LE(offset) + buf.readUInt32LE(offset + 4) * SEQ_HIGH
}

/**
 * The size of a segment header for a serializer name.
 *
 * @param serializerName - the serializer's name
 * @returns header bytes, checksum included
 */
export function segmentHeaderSize(serializerName: string): number {
  return HEADER_FIXED + Buffer.byteLength(serializerName, 'utf8') + 4
}

/**
 * Encodes a segment header.
 *
 * @param firstSeq - the seq the segment's first frame will carry
 * @param createdAt - creation time, ms since the epoch (drives age-based rotation across restarts)
 * @param serializerName - the serializer's name (1..255 UTF-8 bytes)
 * @returns the header bytes
 */
export function encodeSegmentHeader(firstSeq: number, createdAt: number, serializerName: string): Buffer {
  const name = Buffer.from(serializerName, 'utf8')
  if (name.length < 1 || name.length > 255)
    throw new RangeError('serializer name must be 1 to 255 UTF-8 bytes')
  const size = segmentHeaderSize(serializerName)
  const buf = Buffer.alloc(size)
  buf.writeUInt32LE(SEGMENT_MAGIC, 0)
  buf.writeUInt16LE(FORMAT_VERSION, 4)
  buf.writeUInt16LE(size, 6)
  writeU64(buf, firstSeq, 8)
  writeU64(buf, createdAt, 16)
  buf.writeUInt8(name.length, 24)
  name.copy(buf, HEADER_FIXED)
  buf.writeUInt32LE(crc32(buf, 0, size - 4), size - 4)
  return buf
}

/** Why a segment header could not be parsed. */
export type HeaderProblem = 'short' | 'magic' | 'version' | 'checksum' | 'fields'

/**
 * Parses a segment header from the start of `buf` (which may hold more bytes than the header).
 *
 * @param buf - the first bytes of a segment file
 * @returns the header, or the problem found
 */
export function parseSegmentHeader(buf: Buffer): SegmentHeader | HeaderProblem {
  if (buf.length < HEADER_FIXED) return 'short'
  if (buf.readUInt32LE(0) !== SEGMENT_MAGIC) return 'magic'
  const version = buf.readUInt16LE(4)
  const size = buf.readUInt16LE(6)
  const nameLength = buf.readUInt8(24)
  if (size !== HEADER_FIXED + nameLength + 4) return 'fields'
  if (buf.length < size) return 'short'
  if (buf.readUInt32LE(size - 4) !== crc32(buf, 0, size - 4)) return 'checksum'
  if (version !== FORMAT_VERSION) return 'version'
  const firstSeq = readU64(buf, 8)
  const createdAt = readU64(buf, 16)
  if (nameLength === 0 || !Number.isSafeInteger(firstSeq) || firstSeq < 1) return 'fields'
  const serializerName = buf.toString('utf8', HEADER_FIXED, HEADER_FIXED + nameLength)
  return { version, headerSize: size, firstSeq, createdAt, serializerName }
}

/**
 * Fills in the header of a frame whose payload is already in place at `offset + FRAME_HEADER_SIZE`,
 * checksum last. This is how the writer frames payloads that serializers encoded in place.
 *
 * @param buf - the buffer holding the frame
 * @param offset - where the frame starts
 * @param seq - the record's sequence number
 * @param batchRemaining - frames that follow in the same atomic batch
 * @param length - the payload length (1..maxRecordSize)
 * @returns the offset just past the frame
 */
export function writeFrameHeader(
  buf: Buffer,
  offset: number,
  seq: number,
  batchRemaining: number,
  length: number,
): number {
  buf.writeUInt32LE(length, offset + 4)
  writeU64(buf, seq, offset + 8)
  buf.writeUInt32LE(batchRemaining, offset + 16)
  const end = offset + FRAME_HEADER_SIZE + length
  buf.writeUInt32LE(crc32(buf, offset + 4, end), offset)
  return end
}

/**
 * Writes one frame (header and payload) into `buf` at `offset`. The caller guarantees capacity.
 *
 * @param buf - destination
 * @param offset - where the frame starts
 * @param seq - the record's sequence number
 * @param batchRemaining - frames that follow in the same atomic batch
 * @param payload - the serializer's bytes (non-empty)
 * @returns the offset just past the frame
 */
export function writeFrame(
  buf: Buffer,
  offset: number,
  seq: number,
  batchRemaining: number,
  payload: Uint8Array,
): number {
  buf.set(payload, offset + FRAME_HEADER_SIZE)
  return writeFrameHeader(buf, offset, seq, batchRemaining, payload.byteLength)
}

/**
 * The result of looking at the bytes where a frame should start. `'incomplete'` means the buffer ends
 * inside the frame (read more, or at end of file: a torn write); `'invalid'` means the bytes cannot be
 * a frame here (zeros, a bad checksum, an impossible length, a broken seq chain).
 */
export type FrameCheck = 'ok' | 'incomplete' | 'invalid'

/** The fields of a frame header, filled in place by {@link checkFrame} (reused: no allocation). */
export interface FrameCursor {
  /** Payload length. */
  length: number
  /** The frame's seq. */
  seq: number
  /** Frames that follow in the same batch. */
  batchRemaining: number
  /** What was wrong, when the check failed. */
  problem: string
  /** The check failed only because the length exceeds maxRecordSize (it may be a larger valid record). */
  oversize: boolean
}

/** Creates a reusable {@link FrameCursor}. */
export function newFrameCursor(): FrameCursor {
  return { length: 0, seq: 0, batchRemaining: 0, problem: '', oversize: false }
}

/**
 * Validates the frame at `buf[offset..end)` against the expected seq. Never allocates, and rejects an
 * impossible length before anything would be read or allocated for it.
 *
 * @param buf - bytes holding the frame (possibly partially)
 * @param offset - where the frame should start
 * @param end - end of the valid bytes in `buf`
 * @param expectedSeq - the seq this frame must carry (the chain: previous + 1)
 * @param maxRecordSize - the largest legal payload length
 * @param cursor - receives the header fields and, on failure, the problem
 * @returns ok, incomplete or invalid
 */
export function checkFrame(
  buf: Buffer,
  offset: number,
  end: number,
  expectedSeq: number,
  maxRecordSize: number,
  cursor: FrameCursor,
): FrameCheck {
  const available = end - offset
  if (available < FRAME_HEADER_SIZE) {
    // A partial header of zeros is indistinguishable from a torn one; both end the valid data.
    cursor.problem = 'partial frame header'
    return 'incomplete'
  }
  const length = buf.readUInt32LE(offset + 4)
  const seq = readU64(buf, offset + 8)
  const batchRemaining = buf.readUInt32LE(offset + 16)
  cursor.length = length
  cursor.seq = seq
  cursor.batchRemaining = batchRemaining
  cursor.oversize = length > maxRecordSize
  if (length === 0 || length > maxRecordSize) {
    cursor.problem = `frame length ${length} outside 1..${maxRecordSize}`
    return 'invalid'
  }
  if (seq !== expectedSeq) {
    cursor.problem = `frame seq ${seq} breaks the chain (expected ${expectedSeq})`
    return 'invalid'
  }
  if (available < FRAME_HEADER_SIZE + length) {
    cursor.problem = 'partial frame payload'
    return 'incomplete'
  }
  if (buf.readUInt32LE(offset) !== crc32(buf, offset + 4, offset + FRAME_HEADER_SIZE + length)) {
    cursor.problem = 'frame checksum mismatch'
    return 'invalid'
  }
  return 'ok'
}
