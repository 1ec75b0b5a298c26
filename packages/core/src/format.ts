/**
 * The on-disk layout of segments and frames, format version 2 (docs/FORMAT.md is the prose version;
 * keep both exact). Bytes only: nothing here touches files; the record envelope (time, type, key,
 * headers) is core's, the data bytes are the serializer's and are never interpreted here.
 *
 * Segment header (little-endian):
 * ```
 *  0  4  magic "WLTZ"
 *  4  2  format version (2)
 *  6  2  header length in bytes, including the trailing checksum
 *  8  8  first seq (u64)
 * 16  8  created at, ms since the epoch (u64)
 * 24  1  serializer name length n (1..255)
 * 25  n  serializer name, UTF-8
 * 25+n 4 CRC-32 of bytes [0, 25+n)
 * ```
 * Frame (little-endian), repeated until the end of the segment:
 * ```
 *  0  4  CRC-32 of bytes [4, 16 + length): length, seq and body
 *  4  4  body length (MIN_BODY_SIZE..maxRecordSize)
 *  8  8  seq (u64, < 2^53)
 * 16  …  body:
 *        varint  batch remaining: frames of the same atomic batch that follow (0 = this frame commits)
 *        varint  sync distance: seq minus the highest seq already fdatasync'ed when the frame was
 *                encoded, or 0 when that is more than MAX_SYNC_DISTANCE (unknown)
 *        u8      flags: bit 0 key present, bit 1 headers present, bit 2 first frame of a write
 *                call, bit 3 data encrypted (see `record-cipher.ts`), other bits zero
 *        u48     time, ms since the epoch
 *        u8 + n  type: length, UTF-8 bytes
 *        [varint + n]  key, when flagged
 *        [varint count, then count × (varint + name, varint + value)]  headers, when flagged
 *        …       data: the serializer's bytes, to the end of the body
 * ```
 * Varints are unsigned LEB128, at most 8 bytes (values below 2^53).
 */
import { crc32 } from './checksum.js'

/** Segment file magic: "WLTZ". */
export const SEGMENT_MAGIC = 0x5a544c57
/** The only format version this build writes and reads. */
export const FORMAT_VERSION = 2
/** Bytes of the fixed part of a segment header, before the serializer name. */
const HEADER_FIXED = 25
/** The largest possible segment header. */
export const MAX_HEADER_SIZE = HEADER_FIXED + 255 + 4
/** Bytes of a frame header: checksum, body length, seq. */
export const FRAME_HEADER_SIZE = 16
/** The smallest body: two one-byte varints, flags, time, an empty type. */
export const MIN_BODY_SIZE = 1 + 1 + 1 + 6 + 1
/** Segment file extension. */
export const SEGMENT_EXT = '.wal'
/** Suffix of a segment being created: its header is written and synced under this name first. */
export const SEGMENT_TEMP_SUFFIX = '.tmp'
/** Largest record time: times are stored in 48 bits. */
export const MAX_TIME = 2 ** 48 - 1
/** Largest type name, in UTF-8 bytes. */
export const MAX_TYPE_BYTES = 255
/**
 * Largest sync distance stored (two varint bytes); a larger one is stored as 0, "unknown", which
 * proves nothing: a smaller distance would claim durability that was not there.
 */
export const MAX_SYNC_DISTANCE = 16_383
/** Largest key, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 65_535

const FLAG_KEY = 1
const FLAG_HEADERS = 2
/** Set on the first frame of each write call: where one write's bytes begin (see the scanner). */
const FLAG_WRITE_START = 4
/** The data is sealed with a data key (`record-cipher.ts`), not the serializer's bytes as they are. */
const FLAG_ENCRYPTED = 8
/**
 * The frame is a compressed block of records (`compression.ts`): its seq is the first of them, and
 * the next frame's seq follows the last.
 */
const FLAG_BLOCK = 16
/** The flags a record's envelope may carry (inside a block too). */
const ENVELOPE_FLAGS = FLAG_KEY | FLAG_HEADERS | FLAG_ENCRYPTED
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
  return parseSeqFileName(name, SEGMENT_EXT)
}

/**
 * The seq of a file named `<20 digits><ext>` (a segment, a seek file), or undefined for other names.
 *
 * @param name - a file name
 * @param ext - the suffix the name must have, e.g. `.wal`
 * @returns the seq (at least 1), or undefined
 */
export function parseSeqFileName(name: string, ext: string): number | undefined {
  if (name.length !== 20 + ext.length || !name.endsWith(ext)) return undefined
  const digits = name.slice(0, 20)
  if (!/^\d{20}$/.test(digits)) return undefined
  const seq = Number(digits)
  return Number.isSafeInteger(seq) && seq >= 1 ? seq : undefined
}

/** Writes a u64 below 2^53, little-endian. */
export function writeU64(buf: Buffer, value: number, offset: number): void {
  buf.writeUInt32LE(value % SEQ_HIGH, offset)
  buf.writeUInt32LE(Math.floor(value / SEQ_HIGH), offset + 4)
}

/** Reads a little-endian u64 (not a safe integer when the bytes are damaged: callers range-check). */
export function readU64(buf: Buffer, offset: number): number {
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

/** Why a segment header could not be parsed (`'version'`: intact, but of another format version). */
export type HeaderProblem = 'short' | 'magic' | 'version' | 'checksum' | 'fields'

/**
 * Parses a segment header from the start of `buf` (which may hold more bytes than the header).
 *
 * @param buf - the first bytes of a segment file
 * @returns the header, or the problem found (with the version found, for `'version'`)
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
 * The format version written in a header whose checksum is intact (used to name the version of a log
 * this build refuses).
 *
 * @param buf - the first bytes of a segment file, already found to be a `'version'` problem
 */
export function headerVersion(buf: Buffer): number {
  return buf.readUInt16LE(4)
}

// ---------------------------------------------------------------------------------------------------
// Varints

/** Bytes of `value` as an unsigned LEB128 varint. */
export function varintSize(value: number): number {
  let size = 1
  while (value >= 0x80) {
    value = Math.floor(value / 128)
    size++
  }
  return size
}

/** Writes `value` (a safe non-negative integer) as a varint; returns the offset past it. */
export function writeVarint(buf: Buffer, offset: number, value: number): number {
  while (value >= 0x80) {
    buf[offset++] = (value % 128) | 0x80
    value = Math.floor(value / 128)
  }
  buf[offset++] = value
  return offset
}

/** Where the last {@link readVarint} stopped (module state: no allocation per call). */
let varintEnd = 0

/**
 * Reads a varint at `offset`, not past `end`.
 *
 * @returns the value, or -1 when it runs past `end` or is longer than 8 bytes
 */
function readVarint(buf: Buffer, offset: number, end: number): number {
  let value = 0
  let scale = 1
  for (let i = 0; i < 8 && offset < end; i++) {
    const b = buf[offset++]!
    value += (b & 0x7f) * scale
    if (b < 0x80) {
      varintEnd = offset
      return value
    }
    scale *= 128
  }
  return -1
}

// ---------------------------------------------------------------------------------------------------
// Frames

/**
 * A text field of an envelope: its UTF-8 bytes, or a string of ASCII characters only (one byte each,
 * so its length is its byte length). The encoder passes ASCII strings as they are: most keys and
 * header names and values are ASCII, and this spares a small buffer per field per record.
 */
export type EnvelopeText = Uint8Array | string

/** The envelope of a record as the writer frames it (data is encoded separately, in place). */
export interface EnvelopeInput {
  time: number
  /** The type name's UTF-8 bytes (1 to 255 bytes, or empty). */
  typeBytes: Uint8Array
  /** The key, when the record has one. */
  keyBytes: EnvelopeText | undefined
  /** Headers as name/value pairs, when the record has headers. */
  headerBytes: readonly EnvelopeText[] | undefined
  /** The data is sealed with a data key. */
  encrypted: boolean
}

/**
 * ASCII text fields this long or longer are written (and checked for ASCII by the record encoder)
 * with one native call rather than a loop per character: measured, the loop costs more from about a
 * dozen characters on (an event id in a header is 36).
 *
 * @internal
 */
export const LONG_TEXT = 16

/** Writes a text field at `at` (capacity checked by the caller); returns the offset past it. */
function writeText(buf: Buffer, at: number, text: EnvelopeText): number {
  const n = text.length
  if (typeof text === 'string') {
    if (n >= LONG_TEXT) buf.write(text, at, n, 'latin1')
    else for (let i = 0; i < n; i++) buf[at + i] = text.charCodeAt(i)
  } else {
    buf.set(text, at)
  }
  return at + n
}

/**
 * Bytes of a frame's body before its data: everything but the two leading varints.
 *
 * @param envelope - the record's envelope
 */
export function envelopeSize(envelope: EnvelopeInput): number {
  let size = 1 + 6 + 1 + envelope.typeBytes.length
  const key = envelope.keyBytes
  if (key !== undefined) size += varintSize(key.length) + key.length
  const headers = envelope.headerBytes
  if (headers !== undefined) {
    size += varintSize(headers.length / 2)
    for (let i = 0; i < headers.length; i++) size += varintSize(headers[i]!.length) + headers[i]!.length
  }
  return size
}

/**
 * Writes the envelope (flags, time, type, key, headers) at `offset`. The caller guarantees capacity.
 *
 * @returns the offset just past it, where the data goes
 */
export function writeEnvelope(buf: Buffer, offset: number, envelope: EnvelopeInput): number {
  const key = envelope.keyBytes
  const headers = envelope.headerBytes
  buf[offset] =
    (key !== undefined ? FLAG_KEY : 0) |
    (headers !== undefined ? FLAG_HEADERS : 0) |
    (envelope.encrypted ? FLAG_ENCRYPTED : 0)
  buf.writeUIntLE(envelope.time, offset + 1, 6)
  const type = envelope.typeBytes
  buf[offset + 7] = type.length
  let at = offset + 8
  for (let i = 0; i < type.length; i++) buf[at + i] = type[i]!
  at += type.length
  if (key !== undefined) {
    at = writeVarint(buf, at, key.length)
    at = writeText(buf, at, key)
  }
  if (headers !== undefined) {
    at = writeVarint(buf, at, headers.length / 2)
    for (let i = 0; i < headers.length; i++) {
      const part = headers[i]!
      at = writeVarint(buf, at, part.length)
      at = writeText(buf, at, part)
    }
  }
  return at
}

/**
 * Bytes before the envelope in a frame: the frame header and the two leading varints of the body.
 *
 * @param batchRemaining - frames that follow in the same atomic batch
 * @param syncDistance - seq minus the last seq already durable
 */
export function framePrefixSize(batchRemaining: number, syncDistance: number): number {
  return FRAME_HEADER_SIZE + varintSize(batchRemaining) + varintSize(syncDistance)
}

/**
 * Fills in the frame header and the body's leading varints in front of an envelope and data that are
 * already in place, checksum last: the writer encodes envelopes and data first, then frames them once
 * their seqs are known.
 *
 * @param buf - the buffer holding the frame
 * @param offset - where the frame starts
 * @param seq - the record's sequence number
 * @param batchRemaining - frames that follow in the same atomic batch
 * @param syncDistance - `seq` minus the highest seq already fdatasync'ed (at least 1)
 * @param end - the offset just past the frame's data
 * @returns `end`
 */
export function writeFrameHeader(
  buf: Buffer,
  offset: number,
  seq: number,
  batchRemaining: number,
  syncDistance: number,
  end: number,
): number {
  buf.writeUInt32LE(end - offset - FRAME_HEADER_SIZE, offset + 4)
  writeU64(buf, seq, offset + 8)
  const at = writeVarint(buf, offset + FRAME_HEADER_SIZE, batchRemaining)
  writeVarint(buf, at, syncDistance)
  buf.writeUInt32LE(crc32(buf, offset + 4, end), offset)
  return end
}

/**
 * Marks the complete frame at `offset` as the first of a write call (flag bit 2) and recomputes its
 * checksum. The writer calls it once per write, on the write's first frame.
 *
 * @param buf - the buffer holding the frame
 * @param offset - where the frame starts
 */
export function markWriteStart(buf: Buffer, offset: number): void {
  const body = offset + FRAME_HEADER_SIZE
  const end = body + buf.readUInt32LE(offset + 4)
  let at = body
  while (buf[at]! >= 0x80) at++ // batch remaining
  at++
  while (buf[at]! >= 0x80) at++ // sync distance
  at++
  buf[at] = buf[at]! | FLAG_WRITE_START
  buf.writeUInt32LE(crc32(buf, offset + 4, end), offset)
}

/**
 * Writes one whole frame (tests, fixtures and tools; the writer frames in place).
 *
 * @returns the offset just past the frame
 */
export function writeFrame(
  buf: Buffer,
  offset: number,
  frame: {
    seq: number
    batchRemaining: number
    syncDistance: number
    envelope: EnvelopeInput
    data: Uint8Array
  },
): number {
  const start = offset + framePrefixSize(frame.batchRemaining, frame.syncDistance)
  const dataAt = writeEnvelope(buf, start, frame.envelope)
  buf.set(frame.data, dataAt)
  const end = dataAt + frame.data.byteLength
  return writeFrameHeader(buf, offset, frame.seq, frame.batchRemaining, frame.syncDistance, end)
}

/**
 * What a check of the bytes where a frame should start found. `'incomplete'` means the bytes end
 * inside the frame (read more, or at end of file: a torn write); `'invalid'` means the bytes cannot be
 * a frame here (zeros, a bad checksum, an impossible length, a broken seq chain, a malformed body).
 */
export type FrameCheck = 'ok' | 'incomplete' | 'invalid'

/** Stable codes of the problems a frame check finds (see docs/FORMAT.md). */
export type FrameProblemCode =
  | 'frame-incomplete'
  | 'frame-length'
  | 'frame-seq'
  | 'frame-checksum'
  | 'frame-body'
  | 'batch-chain'

/** The fields of a frame, filled in place by {@link checkFrame} (reused: no allocation). */
export interface FrameCursor {
  /** Body length. */
  length: number
  /** The frame's seq. */
  seq: number
  /** Frames that follow in the same batch. */
  batchRemaining: number
  /** The frame's seq minus the last seq durable when it was encoded. */
  syncDistance: number
  /** Offset (in the checked buffer) of the envelope's flags byte. */
  envelopeAt: number
  /** Offset of the type name; its end is {@link typeEnd}. */
  typeAt: number
  typeEnd: number
  /** Offset of the key, -1 when absent; its end is {@link keyEnd}. */
  keyAt: number
  keyEnd: number
  /** Offset of the header count varint, -1 when absent. */
  headersAt: number
  /** Offset of the data; it runs to the end of the body. */
  dataAt: number
  /** Whether the frame is the first of a write call. */
  writeStart: boolean
  /** Whether the data is sealed with a data key. */
  encrypted: boolean
  /**
   * Records in the frame: 1, or more for a compressed block (whose envelope fields above are not set:
   * the walker decompresses the block and points the cursor at each record in turn).
   */
  count: number
  /** A compressed block's codec id, else 0. */
  codec: number
  /** A compressed block's decompressed size. */
  blockSize: number
  /** Offset just past the frame (or, for a record of a block, past the record in the block). */
  end: number
  /** Stable code of what was wrong, when the check failed. */
  code: FrameProblemCode
  /** What was wrong, in words. */
  problem: string
  /** The check failed only because the length exceeds maxRecordSize (it may be a larger valid record). */
  oversize: boolean
}

/** Creates a reusable {@link FrameCursor}. */
export function newFrameCursor(): FrameCursor {
  return {
    length: 0,
    seq: 0,
    batchRemaining: 0,
    syncDistance: 0,
    envelopeAt: 0,
    typeAt: 0,
    typeEnd: 0,
    keyAt: -1,
    keyEnd: -1,
    headersAt: -1,
    dataAt: 0,
    writeStart: false,
    encrypted: false,
    count: 1,
    codec: 0,
    blockSize: 0,
    end: 0,
    code: 'frame-incomplete',
    problem: '',
    oversize: false,
  }
}

function fail(cursor: FrameCursor, code: FrameProblemCode, problem: string): 'invalid' {
  cursor.code = code
  cursor.problem = problem
  return 'invalid'
}

/**
 * Validates the frame at `buf[offset..end)` against the expected seq, and the structure of its body.
 * Never allocates, and rejects an impossible length before anything would be read or allocated for
 * it. With `expectedSeq` 0, any seq is accepted (a forward scan looking for frames past damage).
 *
 * @param buf - bytes holding the frame (possibly partially)
 * @param offset - where the frame should start
 * @param end - end of the valid bytes in `buf`
 * @param expectedSeq - the seq this frame must carry (the chain: previous + 1), or 0 for any
 * @param maxRecordSize - the largest legal body length
 * @param cursor - receives the fields and, on failure, the problem
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
  const whole = checkFrameIntegrity(buf, offset, end, expectedSeq, maxRecordSize, cursor)
  if (whole !== 'ok') return whole
  const bodyEnd = cursor.end
  return parseBody(buf, offset + FRAME_HEADER_SIZE, bodyEnd, cursor)
}

/**
 * The checks of a frame before its body is parsed: its length is in range, its seq continues the
 * chain, the whole frame lies before `end`, and its checksum matches. Sets `length`, `seq`,
 * `oversize` and (when whole) `end`.
 *
 * @returns `'ok'` when the frame is whole and intact, else as {@link checkFrame}
 */
function checkFrameIntegrity(
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
    cursor.code = 'frame-incomplete'
    cursor.problem = 'partial frame header'
    return 'incomplete'
  }
  const length = buf.readUInt32LE(offset + 4)
  const seq = readU64(buf, offset + 8)
  cursor.length = length
  cursor.seq = seq
  cursor.oversize = length > maxRecordSize
  if (length < MIN_BODY_SIZE || length > maxRecordSize) {
    return fail(cursor, 'frame-length', `frame length ${length} outside ${MIN_BODY_SIZE}..${maxRecordSize}`)
  }
  if (expectedSeq === 0 ? !(Number.isSafeInteger(seq) && seq >= 1) : seq !== expectedSeq) {
    return fail(cursor, 'frame-seq', `frame seq ${seq} breaks the chain (expected ${expectedSeq})`)
  }
  if (available < FRAME_HEADER_SIZE + length) {
    cursor.code = 'frame-incomplete'
    cursor.problem = 'partial frame body'
    return 'incomplete'
  }
  const bodyEnd = offset + FRAME_HEADER_SIZE + length
  if (buf.readUInt32LE(offset) !== crc32(buf, offset + 4, bodyEnd)) {
    return fail(cursor, 'frame-checksum', 'frame checksum mismatch')
  }
  cursor.end = bodyEnd
  return 'ok'
}

/**
 * Steps over the frame at `buf[offset..end)`: checks its length, seq chain and checksum and reads its
 * batch field, but does not parse its envelope. For point reads walking from a seek point to the frame
 * they want (which is checked in full). The checksum is not optional here: it covers the length, and a
 * damaged length that was not caught could step into a record's data and onto bytes shaped like a
 * valid frame with the next seq.
 *
 * @returns as {@link checkFrame}; on `'ok'` only `length`, `seq`, `batchRemaining` and `end` are set
 */
export function skimFrame(
  buf: Buffer,
  offset: number,
  end: number,
  expectedSeq: number,
  maxRecordSize: number,
  cursor: FrameCursor,
): FrameCheck {
  const whole = checkFrameIntegrity(buf, offset, end, expectedSeq, maxRecordSize, cursor)
  if (whole !== 'ok') return whole
  const bodyEnd = cursor.end
  const at = offset + FRAME_HEADER_SIZE
  const b = buf[at]!
  let p = at + 1
  if (b < 0x80) {
    cursor.batchRemaining = b
  } else {
    const v = readVarint(buf, at, bodyEnd)
    if (v < 0 || v > 0xffffffff) return fail(cursor, 'frame-body', 'malformed batch field')
    cursor.batchRemaining = v
    p = varintEnd
  }
  // A compressed block steps over all of its records: its count is needed.
  if (readVarint(buf, p, bodyEnd) < 0 || varintEnd >= bodyEnd) {
    return fail(cursor, 'frame-body', 'malformed sync distance')
  }
  const flags = buf[varintEnd]!
  if (flags & FLAG_BLOCK) return parseBlockHead(buf, varintEnd, bodyEnd, flags, cursor)
  cursor.count = 1
  cursor.codec = 0
  return 'ok'
}

/** Checks the structure of a body whose checksum matched, noting where each part lies. */
function parseBody(buf: Buffer, at: number, end: number, cursor: FrameCursor): FrameCheck {
  // One-byte varints are the common case: read them inline.
  let b = buf[at]!
  if (b < 0x80) {
    cursor.batchRemaining = b
    at++
  } else {
    const v = readVarint(buf, at, end)
    if (v < 0 || v > 0xffffffff) return fail(cursor, 'frame-body', 'malformed batch field')
    cursor.batchRemaining = v
    at = varintEnd
  }
  b = buf[at]!
  if (b < 0x80 && at < end) {
    cursor.syncDistance = b
    at++
  } else {
    const v = readVarint(buf, at, end)
    if (v < 0) return fail(cursor, 'frame-body', 'malformed sync distance')
    cursor.syncDistance = v
    at = varintEnd
  }
  if (at >= end) return fail(cursor, 'frame-body', 'body shorter than its envelope')
  const flags = buf[at]!
  cursor.writeStart = (flags & FLAG_WRITE_START) !== 0
  if (flags & FLAG_BLOCK) return parseBlockHead(buf, at, end, flags, cursor)
  cursor.count = 1
  cursor.codec = 0
  return parseEnvelope(buf, at, end, flags & ~FLAG_WRITE_START, cursor)
}

/** Reads a compressed block's codec, record count and decompressed size (after its flags byte). */
function parseBlockHead(
  buf: Buffer,
  at: number,
  end: number,
  flags: number,
  cursor: FrameCursor,
): FrameCheck {
  if ((flags & ~FLAG_WRITE_START) !== FLAG_BLOCK) return fail(cursor, 'frame-body', `unknown flags ${flags}`)
  const codec = buf[at + 1]
  if (codec === undefined || at + 1 >= end || codec === 0) {
    return fail(cursor, 'frame-body', 'malformed compressed block')
  }
  const count = readVarint(buf, at + 2, end)
  if (count < 1 || count > 0xffffffff) return fail(cursor, 'frame-body', 'malformed compressed block count')
  const size = readVarint(buf, varintEnd, end)
  // Each record of a block takes at least its length varint and an envelope.
  if (size < count * (1 + MIN_ENVELOPE_SIZE) || varintEnd >= end) {
    return fail(cursor, 'frame-body', 'malformed compressed block size')
  }
  cursor.codec = codec
  cursor.count = count
  cursor.blockSize = size
  cursor.encrypted = false
  cursor.dataAt = varintEnd
  return 'ok'
}

/** The smallest envelope: flags, time, an empty type. */
const MIN_ENVELOPE_SIZE = 1 + 6 + 1

/**
 * Checks an envelope and data running from `at` (the flags byte) to `end`, noting where each part
 * lies: a frame's body after its two varints, or one record of a decompressed block.
 */
function parseEnvelope(buf: Buffer, at: number, end: number, flags: number, cursor: FrameCursor): FrameCheck {
  if (at + MIN_ENVELOPE_SIZE > end) return fail(cursor, 'frame-body', 'body shorter than its envelope')
  if ((flags & ~ENVELOPE_FLAGS) !== 0) return fail(cursor, 'frame-body', `unknown flags ${buf[at]}`)
  cursor.encrypted = (flags & FLAG_ENCRYPTED) !== 0
  cursor.envelopeAt = at
  cursor.typeAt = at + 8
  cursor.typeEnd = cursor.typeAt + buf[at + 7]!
  if (cursor.typeEnd > end) return fail(cursor, 'frame-body', 'type runs past the body')
  at = cursor.typeEnd
  cursor.keyAt = -1
  cursor.keyEnd = -1
  cursor.headersAt = -1
  if (flags & FLAG_KEY) {
    const n = readVarint(buf, at, end)
    if (n < 0 || n > MAX_KEY_BYTES || varintEnd + n > end) {
      return fail(cursor, 'frame-body', 'key runs past the body')
    }
    cursor.keyAt = varintEnd
    cursor.keyEnd = varintEnd + n
    at = cursor.keyEnd
  }
  if (flags & FLAG_HEADERS) {
    cursor.headersAt = at
    const count = readVarint(buf, at, end)
    if (count < 0) return fail(cursor, 'frame-body', 'malformed header count')
    at = varintEnd
    for (let i = 0; i < count * 2; i++) {
      const n = readVarint(buf, at, end)
      if (n < 0 || varintEnd + n > end) return fail(cursor, 'frame-body', 'headers run past the body')
      at = varintEnd + n
    }
  }
  cursor.dataAt = at
  return 'ok'
}

/**
 * Points `cursor` at the record starting at `at` in a decompressed block: a varint length, then an
 * envelope and data as in a frame's body (no write-start or block flag).
 *
 * @param block - the decompressed block
 * @param at - where the record's length varint starts
 * @returns `'ok'` (`cursor.end` is then where the next record starts) or `'invalid'`
 */
export function parseBlockRecord(block: Buffer, at: number, cursor: FrameCursor): 'ok' | 'invalid' {
  const length = readVarint(block, at, block.length)
  if (length < MIN_ENVELOPE_SIZE || varintEnd + length > block.length) {
    return fail(cursor, 'frame-body', 'a record of the compressed block runs past it')
  }
  const start = varintEnd
  const end = start + length
  if (parseEnvelope(block, start, end, block[start]!, cursor) !== 'ok') {
    cursor.problem = `a record of the compressed block: ${cursor.problem}`
    return 'invalid'
  }
  cursor.end = end
  return 'ok'
}

/**
 * Rewrites the whole frames in `buf[start..end)` (the frames of one atomic group, seqs `firstSeq`
 * and on) as one compressed block frame in place, when that is worth it: the records take at least
 * {@link MIN_COMPRESS_BYTES}, and the block saves at least an eighth of the group's bytes.
 *
 * @param compress - the codec's compressor; `codec` its id
 * @param maxRecordSize - the largest body: a group whose records take more stays as it is
 * @returns the end of the block frame, or `end` when the frames were left as they were
 */
export function compressFrames(
  buf: Buffer,
  start: number,
  end: number,
  firstSeq: number,
  count: number,
  syncDistance: number,
  codec: number,
  compress: (input: Uint8Array) => Buffer,
  maxRecordSize: number,
): number {
  // The records as a block holds them: per frame, the length of its envelope and data, then those.
  let size = 0
  for (let at = start; at < end; at += FRAME_HEADER_SIZE + buf.readUInt32LE(at + 4)) {
    const inner = envelopeSpan(buf, at)
    size += varintSize(inner[1] - inner[0]) + inner[1] - inner[0]
  }
  // Too small to be worth a codec call (which costs tens of microseconds, and as much to read back).
  if (size < MIN_COMPRESS_BYTES || size > maxRecordSize) return end
  const block = Buffer.allocUnsafe(size)
  let w = 0
  for (let at = start; at < end; at += FRAME_HEADER_SIZE + buf.readUInt32LE(at + 4)) {
    const [from, to] = envelopeSpan(buf, at)
    w = writeVarint(block, w, to - from)
    w += buf.copy(block, w, from, to)
  }
  const compressed = compress(block)
  const head = framePrefixSize(0, syncDistance)
  const blockEnd = start + head + 2 + varintSize(count) + varintSize(size) + compressed.length
  // Kept only when it saves an eighth at least: a block costs a decompression on every read.
  if (blockEnd - start > ((end - start) * 7) / 8 || blockEnd - start - FRAME_HEADER_SIZE > maxRecordSize) {
    return end
  }
  let at = start + head
  buf[at++] = FLAG_BLOCK
  buf[at++] = codec
  at = writeVarint(buf, at, count)
  at = writeVarint(buf, at, size)
  compressed.copy(buf, at)
  return writeFrameHeader(buf, start, firstSeq, 0, syncDistance, blockEnd)
}

/** A group whose records take fewer bytes is not compressed. */
export const MIN_COMPRESS_BYTES = 256

/** Where the envelope and data of the (uncompressed) frame at `at` lie: from its flags byte to its end. */
function envelopeSpan(buf: Buffer, at: number): [number, number] {
  const end = at + FRAME_HEADER_SIZE + buf.readUInt32LE(at + 4)
  let p = at + FRAME_HEADER_SIZE
  while (buf[p]! >= 0x80) p++ // batch remaining
  p++
  while (buf[p]! >= 0x80) p++ // sync distance
  p++
  return [p, end]
}

// ignoreBOM: a leading U+FEFF is part of the string, not a marker to drop.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/**
 * The UTF-8 string in `buf[start..end)`. ASCII (the usual key or header) is read as Latin-1, which is
 * the same for bytes below 0x80 and a third cheaper than the checked UTF-8 decoder.
 *
 * @throws TypeError when the bytes are not UTF-8
 */
function text(buf: Buffer, start: number, end: number): string {
  for (let i = start; i < end; i++) if (buf[i]! >= 0x80) return utf8.decode(buf.subarray(start, end))
  return buf.toString('latin1', start, end)
}

/**
 * Decodes the envelope of a frame that {@link checkFrame} accepted: time, type, key and headers.
 * Remembers recent type names (a log has few; comparing a few bytes is cheaper than UTF-8 decoding
 * on every record of a replay).
 */
export class EnvelopeDecoder {
  private readonly typeBytes: Uint8Array[] = []
  private readonly typeNames: string[] = []
  private next = 0

  /** The record time of the checked frame. */
  time(buf: Buffer, cursor: FrameCursor): number {
    return buf.readUIntLE(cursor.envelopeAt + 1, 6)
  }

  /**
   * The type name of the checked frame.
   *
   * @throws TypeError when the bytes are not UTF-8
   */
  type(buf: Buffer, cursor: FrameCursor): string {
    const start = cursor.typeAt
    const length = cursor.typeEnd - start
    const cached = this.typeBytes
    for (let i = 0; i < cached.length; i++) {
      const bytes = cached[i]!
      if (bytes.length !== length) continue
      let k = 0
      while (k < length && bytes[k] === buf[start + k]) k++
      if (k === length) return this.typeNames[i]!
    }
    const name = utf8.decode(buf.subarray(start, cursor.typeEnd))
    // A copy: a view would keep the whole read chunk alive.
    this.typeBytes[this.next] = Uint8Array.prototype.slice.call(buf, start, cursor.typeEnd)
    this.typeNames[this.next] = name
    this.next = (this.next + 1) % 8
    return name
  }

  /**
   * The key of the checked frame, or undefined.
   *
   * @throws TypeError when the bytes are not UTF-8
   */
  key(buf: Buffer, cursor: FrameCursor): string | undefined {
    return cursor.keyAt < 0 ? undefined : text(buf, cursor.keyAt, cursor.keyEnd)
  }

  /**
   * The headers of the checked frame, or undefined. A name given twice keeps its last value.
   *
   * @throws TypeError when the bytes are not UTF-8
   */
  headers(buf: Buffer, cursor: FrameCursor): Record<string, string> | undefined {
    if (cursor.headersAt < 0) return undefined
    const end = cursor.dataAt
    const count = readVarint(buf, cursor.headersAt, end)
    let at = varintEnd
    const out: Record<string, string> = {}
    for (let i = 0; i < count; i++) {
      const nameLength = readVarint(buf, at, end)
      const name = text(buf, varintEnd, varintEnd + nameLength)
      at = varintEnd + nameLength
      const valueLength = readVarint(buf, at, end)
      const value = text(buf, varintEnd, varintEnd + valueLength)
      // A header named '__proto__' is an ordinary header, not the object's prototype.
      if (name === '__proto__') Object.defineProperty(out, name, { value, enumerable: true, writable: true })
      else out[name] = value
      at = varintEnd + valueLength
    }
    return out
  }
}
