/**
 * The seek file of a sealed segment (`<20 digits>.seek`, docs/FORMAT.md): the segment's batch
 * boundaries (file offset and the seq of the frame there), about one per {@link SEEK_FILE_SPACING} bytes,
 * so a read starting in the middle of a segment opened afresh need not walk it from its start.
 *
 * A seek file is a cache, never a source of truth. It is bound to its segment (first seq, creation
 * time, sealed size, last seq) and checksummed; the reader checks the frame at an entry before it
 * starts there. It is written without fsync (a temp file renamed into place): after a crash or power
 * loss it may be missing, short or garbage, and is then ignored and written again.
 *
 * @internal
 */
import { endianness } from 'node:os'
import { join } from 'node:path'
import { crc32 } from './checksum.js'
import type { Files } from './files.js'
import { parseSeqFileName, readU64, writeU64 } from './format.js'

/** Bytes of segment between two in-memory seek entries a walk makes, at least. */
export const SEEK_SPACING = 4096

/**
 * Bytes of segment between two entries of a seek file, at least (a batch longer than that has one
 * entry). Sparser than a walk's: a seek file is read whole on the way to a read's first record, and
 * the fresh memory it is read into costs a page fault per 4 KiB (measured here: a 256 KiB file, one
 * entry per 4 KiB of a 64 MiB segment, took 1 ms to read; a read then walks at most this far).
 */
export const SEEK_FILE_SPACING = 32 * 1024

/** `WZSK` read as a little-endian u32. */
const SEEK_MAGIC = 0x4b535a57
const SEEK_VERSION = 1
/**
 * magic u32, version u16, reserved u16, first seq u64, created u64, size u64, last seq u64, count u32,
 * reserved u32: 48 bytes, so the entry columns that follow are 8-byte aligned.
 */
const SEEK_HEADER = 48
/** Per entry: its offset in the offsets column and its seq in the seqs column, f64 each. */
const SEEK_ENTRY = 16
const SEEK_TRAILER = 4
/**
 * The entry columns are little-endian f64 (integers below 2^53, exact), so a reader maps them as
 * typed arrays with no per-entry decoding (a seek file is read once per process, by cold code: a
 * decoding loop over its ~16k entries cost milliseconds). A big-endian machine swaps the bytes.
 */
const LITTLE_ENDIAN = endianness() === 'LE'
/** Suffix of a seek file (`<20 digits>.seek`). */
export const SEEK_EXT = '.seek'
/** Suffix of a seek file being written, before a number (renamed into place once complete). */
export const SEEK_TEMP_SUFFIX = '.tmp-'
/** Numbers temp files: a writer's rotation and its seek index may write the same seek file at once. */
let tempCounter = 0

/** The segment a seek file belongs to: any field that differs makes the file not its own. */
export interface SeekBinding {
  readonly firstSeq: number
  /** The segment header's creation time: a segment re-created under the same name has another. */
  readonly createdAt: number
  /** The sealed segment's size in bytes. */
  readonly size: number
}

/** A segment's seek entries: `seqs[i]` is the seq of the frame at `offsets[i]`; both ascend. */
export interface SeekEntries {
  readonly seqs: Float64Array
  readonly offsets: Float64Array
  readonly count: number
  /** The segment's last seq. */
  readonly lastSeq: number
}

/**
 * The file name of the seek file of the segment whose first seq is `firstSeq`.
 *
 * @param firstSeq - the segment's first seq
 * @returns e.g. `00000000000000000001.seek`
 */
export function seekFileName(firstSeq: number): string {
  return String(firstSeq).padStart(20, '0') + SEEK_EXT
}

/**
 * The first seq of the segment a seek file name belongs to, or undefined for any other name.
 *
 * @param name - a file name in the log directory
 * @returns the first seq, or undefined
 */
export function parseSeekFileName(name: string): number | undefined {
  return parseSeqFileName(name, SEEK_EXT)
}

/**
 * The largest seek file a segment of `size` bytes can have: one entry per {@link SEEK_FILE_SPACING}
 * bytes, plus the first. A file larger than this is not read (a damaged length must not allocate).
 *
 * @param size - the segment's size
 * @returns bytes
 */
export function maxSeekFileSize(size: number): number {
  return SEEK_HEADER + SEEK_ENTRY * (Math.floor(size / SEEK_FILE_SPACING) + 2) + SEEK_TRAILER
}

/**
 * The entries a seek file keeps of a walk's: the first, then each at least {@link SEEK_FILE_SPACING}
 * bytes past the last kept.
 *
 * @param entries - batch boundaries, ascending
 * @returns the kept ones
 */
export function sparseEntries(entries: SeekEntries): SeekEntries {
  const seqs: number[] = []
  const offsets: number[] = []
  for (let i = 0; i < entries.count; i++) {
    if (i > 0 && entries.offsets[i]! - offsets[offsets.length - 1]! < SEEK_FILE_SPACING) continue
    offsets.push(entries.offsets[i]!)
    seqs.push(entries.seqs[i]!)
  }
  return {
    seqs: Float64Array.from(seqs),
    offsets: Float64Array.from(offsets),
    count: seqs.length,
    lastSeq: entries.lastSeq,
  }
}

/**
 * Encodes a seek file.
 *
 * @param binding - the segment it belongs to
 * @param entries - its boundaries, the segment's first frame first
 * @returns the file's bytes
 */
export function encodeSeekFile(binding: SeekBinding, entries: SeekEntries): Buffer {
  const count = entries.count
  const columns = SEEK_ENTRY * count
  const buf = Buffer.alloc(SEEK_HEADER + columns + SEEK_TRAILER)
  buf.writeUInt32LE(SEEK_MAGIC, 0)
  buf.writeUInt16LE(SEEK_VERSION, 4)
  writeU64(buf, binding.firstSeq, 8)
  writeU64(buf, binding.createdAt, 16)
  writeU64(buf, binding.size, 24)
  writeU64(buf, entries.lastSeq, 32)
  buf.writeUInt32LE(count, 40)
  const offsets = entries.offsets.subarray(0, count)
  const seqs = entries.seqs.subarray(0, count)
  buf.set(new Uint8Array(offsets.buffer, offsets.byteOffset, 8 * count), SEEK_HEADER)
  buf.set(new Uint8Array(seqs.buffer, seqs.byteOffset, 8 * count), SEEK_HEADER + 8 * count)
  if (!LITTLE_ENDIAN) buf.subarray(SEEK_HEADER, SEEK_HEADER + columns).swap64()
  const end = SEEK_HEADER + columns
  buf.writeUInt32LE(crc32(buf, 0, end), end)
  return buf
}

/**
 * Decodes a seek file, checking it against the segment it should belong to. The entries are views of
 * `buf` (on a little-endian machine), which must start 8-byte aligned in its ArrayBuffer.
 *
 * Entries are not checked one by one here: a read finds its entry by binary search, which only ever
 * lands on an entry whose seq is at most the one wanted (whatever the order of the others), and the
 * frame at that entry is checked before a read starts there (`seek-index.ts`).
 *
 * @param buf - the file's bytes
 * @param binding - the segment as its header and size say
 * @param firstOffset - where the segment's first frame starts (its header size)
 * @returns the entries, or a sentence saying why the file is not usable
 */
export function decodeSeekFile(buf: Buffer, binding: SeekBinding, firstOffset: number): SeekEntries | string {
  if (buf.length < SEEK_HEADER + SEEK_ENTRY + SEEK_TRAILER) return `it is too short (${buf.length} bytes)`
  if (buf.readUInt32LE(0) !== SEEK_MAGIC) return 'its magic is wrong'
  if (buf.readUInt16LE(4) !== SEEK_VERSION) return `its version ${buf.readUInt16LE(4)} is not ${SEEK_VERSION}`
  const count = buf.readUInt32LE(40)
  const end = SEEK_HEADER + SEEK_ENTRY * count
  if (count === 0 || buf.length !== end + SEEK_TRAILER)
    return `its length ${buf.length} does not fit ${count} entries`
  if (buf.readUInt32LE(end) !== crc32(buf, 0, end)) return 'its checksum does not match'
  if (
    readU64(buf, 8) !== binding.firstSeq ||
    readU64(buf, 16) !== binding.createdAt ||
    readU64(buf, 24) !== binding.size
  ) {
    return 'it was written for another segment (first seq, creation time or size differ)'
  }
  const lastSeq = readU64(buf, 32)
  if (!Number.isSafeInteger(lastSeq) || lastSeq < binding.firstSeq) return 'its last seq is out of range'
  let columns = buf.subarray(SEEK_HEADER, end)
  if (!LITTLE_ENDIAN || columns.byteOffset % 8 !== 0) {
    columns = Buffer.from(columns)
    if (!LITTLE_ENDIAN) columns.swap64()
  }
  const offsets = new Float64Array(columns.buffer, columns.byteOffset, count)
  const seqs = new Float64Array(columns.buffer, columns.byteOffset + 8 * count, count)
  if (offsets[0] !== firstOffset || seqs[0] !== binding.firstSeq) {
    return "its first entry is not the segment's first frame"
  }
  return { seqs, offsets, count, lastSeq }
}

/**
 * Writes a segment's seek file: a temp file renamed into place, without fsync (see the module
 * comment).
 *
 * @param files - the file interface
 * @param dir - the log directory
 * @param binding - the segment
 * @param entries - its boundaries
 * @param fileMode - the mode of the new file
 * @param segmentExists - whether the segment is still in the log (checked once the file is in place)
 */
export async function writeSeekFile(
  files: Files,
  dir: string,
  binding: SeekBinding,
  entries: SeekEntries,
  fileMode: number,
  segmentExists: () => boolean,
): Promise<void> {
  const path = join(dir, seekFileName(binding.firstSeq))
  const temp = `${path}${SEEK_TEMP_SUFFIX}${process.pid}-${++tempCounter}`
  const buf = encodeSeekFile(binding, entries)
  const fd = await files.open(temp, 'wx', fileMode)
  try {
    try {
      await files.write(fd, buf, 0, buf.length, 0)
    } finally {
      await files.close(fd)
    }
    await files.rename(temp, path)
  } catch (err) {
    await files.unlink(temp).catch(() => {})
    throw err
  }
  // The segment was removed (retention) while its seek file was being written: no orphan.
  if (!segmentExists()) await files.unlink(path).catch(() => {})
}

/**
 * Whether a file name is a seek file's or a seek file's temp file, and of which segment.
 *
 * @param name - a file name in the log directory
 * @returns the segment's first seq and whether it is a temp file, or undefined for other names
 */
export function seekFileOf(name: string): { firstSeq: number; temp: boolean } | undefined {
  const at = name.indexOf(SEEK_EXT)
  if (at !== 20) return undefined
  const firstSeq = parseSeekFileName(name.slice(0, at + SEEK_EXT.length))
  if (firstSeq === undefined) return undefined
  const rest = name.slice(at + SEEK_EXT.length)
  if (rest === '') return { firstSeq, temp: false }
  return rest.startsWith(SEEK_TEMP_SUFFIX) ? { firstSeq, temp: true } : undefined
}

/**
 * Reads a segment's seek file.
 *
 * @param files - the file interface
 * @param dir - the log directory
 * @param binding - the segment as its header and size say
 * @param firstOffset - where the segment's first frame starts
 * @returns the entries; undefined when there is no file; a sentence when it is not usable
 * @throws the file system's error other than ENOENT
 */
export async function readSeekFile(
  files: Files,
  dir: string,
  binding: SeekBinding,
  firstOffset: number,
): Promise<SeekEntries | string | undefined> {
  const path = join(dir, seekFileName(binding.firstSeq))
  let fd: number
  try {
    fd = await files.open(path, 'r')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  try {
    // One read of the largest size the segment allows, plus a byte: no fstat first (a seek file is
    // read on the way to a read's first record, and every thread-pool round trip shows there).
    const limit = maxSeekFileSize(binding.size)
    // Its own ArrayBuffer (not the shared pool): the entry columns are mapped 8-byte aligned.
    const buf = Buffer.allocUnsafeSlow(limit + 1)
    let n = 0
    for (let got = -1; got !== 0 && n <= limit; n += got) got = await files.read(fd, buf, n, limit + 1 - n, n)
    if (n > limit) return `it is larger than its segment allows (over ${limit} bytes)`
    return decodeSeekFile(buf.subarray(0, n), binding, firstOffset)
  } finally {
    // Not awaited: nothing depends on it, and the read's first record should not wait for it.
    files.close(fd).catch(() => {})
  }
}
