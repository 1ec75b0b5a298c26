/**
 * The seek file of a sealed segment (`<20 digits>.seek`, docs/FORMAT.md): the segment's batch
 * boundaries (file offset and the seq of the frame there), about one per {@link SEEK_SPACING} bytes,
 * so a read starting in the middle of a segment opened afresh need not walk it from its start.
 *
 * A seek file is a cache, never a source of truth. It is bound to its segment (first seq, creation
 * time, sealed size, last seq) and checksummed; the reader checks the frame at an entry before it
 * starts there. It is written without fsync (a temp file renamed into place): after a crash or power
 * loss it may be missing, short or garbage, and is then ignored and written again.
 *
 * @internal
 */
import { join } from 'node:path'
import { crc32 } from './checksum.js'
import type { Files } from './files.js'
import { readU64, writeU64 } from './format.js'

/** Bytes of segment between two seek entries, at least (a batch longer than that has one entry). */
export const SEEK_SPACING = 4096

/** `WZSK` read as a little-endian u32. */
const SEEK_MAGIC = 0x4b535a57
const SEEK_VERSION = 1
/** magic u32, version u16, reserved u16, first seq u64, created u64, size u64, last seq u64, count u32. */
const SEEK_HEADER = 4 + 2 + 2 + 8 + 8 + 8 + 8 + 4
const SEEK_ENTRY = 16
const SEEK_TRAILER = 4
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
  if (name.length !== 20 + SEEK_EXT.length || !name.endsWith(SEEK_EXT)) return undefined
  const digits = name.slice(0, 20)
  if (!/^\d{20}$/.test(digits)) return undefined
  const seq = Number(digits)
  return Number.isSafeInteger(seq) && seq >= 1 ? seq : undefined
}

/**
 * The largest seek file a segment of `size` bytes can have: one entry per {@link SEEK_SPACING}
 * bytes, plus the first. A file larger than this is not read (a damaged length must not allocate).
 *
 * @param size - the segment's size
 * @returns bytes
 */
export function maxSeekFileSize(size: number): number {
  return SEEK_HEADER + SEEK_ENTRY * (Math.floor(size / SEEK_SPACING) + 2) + SEEK_TRAILER
}

/**
 * Encodes a seek file.
 *
 * @param binding - the segment it belongs to
 * @param entries - its boundaries, the segment's first frame first
 * @returns the file's bytes
 */
export function encodeSeekFile(binding: SeekBinding, entries: SeekEntries): Buffer {
  const buf = Buffer.alloc(SEEK_HEADER + SEEK_ENTRY * entries.count + SEEK_TRAILER)
  buf.writeUInt32LE(SEEK_MAGIC, 0)
  buf.writeUInt16LE(SEEK_VERSION, 4)
  writeU64(buf, binding.firstSeq, 8)
  writeU64(buf, binding.createdAt, 16)
  writeU64(buf, binding.size, 24)
  writeU64(buf, entries.lastSeq, 32)
  buf.writeUInt32LE(entries.count, 40)
  let at = SEEK_HEADER
  for (let i = 0; i < entries.count; i++, at += SEEK_ENTRY) {
    writeU64(buf, entries.offsets[i]!, at)
    writeU64(buf, entries.seqs[i]!, at + 8)
  }
  buf.writeUInt32LE(crc32(buf, 0, at), at)
  return buf
}

/**
 * Decodes a seek file, checking it against the segment it should belong to.
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
  if (buf.length !== end + SEEK_TRAILER) return `its length ${buf.length} does not fit ${count} entries`
  if (buf.readUInt32LE(end) !== crc32(buf, 0, end)) return 'its checksum does not match'
  if (
    readU64(buf, 8) !== binding.firstSeq ||
    readU64(buf, 16) !== binding.createdAt ||
    readU64(buf, 24) !== binding.size
  ) {
    return 'it was written for another segment (first seq, creation time or size differ)'
  }
  const lastSeq = readU64(buf, 32)
  const seqs = new Float64Array(count)
  const offsets = new Float64Array(count)
  let at = SEEK_HEADER
  for (let i = 0; i < count; i++, at += SEEK_ENTRY) {
    offsets[i] = readU64(buf, at)
    seqs[i] = readU64(buf, at + 8)
    const ascending = i === 0 || (offsets[i]! > offsets[i - 1]! && seqs[i]! > seqs[i - 1]!)
    if (!ascending || offsets[i]! >= binding.size || seqs[i]! > lastSeq) return `entry ${i} is out of order`
  }
  if (offsets[0] !== firstOffset || seqs[0] !== binding.firstSeq) {
    return "its first entry is not the segment's first frame"
  }
  if (!Number.isSafeInteger(lastSeq)) return 'its last seq is out of range'
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
 */
export async function writeSeekFile(
  files: Files,
  dir: string,
  binding: SeekBinding,
  entries: SeekEntries,
  fileMode: number,
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
    const size = await files.size(fd)
    if (size > maxSeekFileSize(binding.size)) return `it is larger (${size} bytes) than its segment allows`
    const buf = Buffer.allocUnsafe(size)
    const n = await files.read(fd, buf, 0, size, 0)
    return decodeSeekFile(buf.subarray(0, n), binding, firstOffset)
  } finally {
    await files.close(fd)
  }
}
