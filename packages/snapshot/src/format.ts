import { crc32 } from 'node:zlib'
import { SnapshotError } from './errors.js'

/** The snapshot file format version this build writes and reads. */
export const SNAPSHOT_FORMAT_VERSION = 1

const MAGIC = Buffer.from('WALTZSNP', 'latin1')
const NAME_OFFSET = 29 // magic 8, version u16, flags u16, seq u64, time f64, name length u8
const CRC_SIZE = 4
const MIN_SIZE = NAME_OFFSET + 1 + 8 + CRC_SIZE
const NAME_RE = /^snapshot-(\d{20})\.snap$/

/** The fields of a snapshot file (see {@link encodeSnapshot} for the layout). */
export interface SnapshotContents {
  /** The WAL seq the state includes records up to (0: no records). */
  seq: number
  /** When the snapshot was taken, in milliseconds since the epoch. */
  time: number
  /** The state codec's name. */
  codec: string
  /** The encoded state (a view into the file's bytes when decoded). */
  state: Uint8Array
}

/**
 * The file name of the snapshot at `seq`: zero-padded so names sort by seq.
 *
 * @param seq - the snapshot's seq
 * @returns e.g. `snapshot-00000000000000001234.snap`
 */
export function snapshotFileName(seq: number): string {
  return `snapshot-${String(seq).padStart(20, '0')}.snap`
}

/**
 * The seq in a snapshot file name, or undefined for any other name (temp files included).
 *
 * @param name - a file name without directory
 * @returns the seq, or undefined
 */
export function parseSnapshotFileName(name: string): number | undefined {
  const match = NAME_RE.exec(name)
  if (match === null) return undefined
  const seq = Number(match[1])
  return Number.isSafeInteger(seq) ? seq : undefined
}

/**
 * Lays out a snapshot file, little-endian: magic `WALTZSNP`, format version u16, flags u16 (0),
 * seq u64, time f64, codec-name length u8, codec name (UTF-8), state length u64, state bytes, and a
 * CRC-32 (`zlib.crc32`) of everything before it.
 *
 * @param contents - seq, time, codec name and encoded state
 * @returns the file's bytes
 * @throws SnapshotError `SNAPSHOT_INVALID_ARGUMENT` for a bad seq or codec name
 */
export function encodeSnapshot(contents: SnapshotContents): Uint8Array {
  const { seq, time, codec, state } = contents
  if (!Number.isSafeInteger(seq) || seq < 0) {
    throw SnapshotError.INVALID_ARGUMENT(`seq must be a non-negative safe integer, got ${seq}`)
  }
  const name = Buffer.from(codec, 'utf8')
  if (name.length < 1 || name.length > 255) {
    throw SnapshotError.INVALID_ARGUMENT('the codec name must be 1 to 255 UTF-8 bytes')
  }
  const stateOffset = NAME_OFFSET + name.length + 8
  const out = Buffer.allocUnsafe(stateOffset + state.byteLength + CRC_SIZE)
  MAGIC.copy(out, 0)
  out.writeUInt16LE(SNAPSHOT_FORMAT_VERSION, 8)
  out.writeUInt16LE(0, 10)
  out.writeBigUInt64LE(BigInt(seq), 12)
  out.writeDoubleLE(time, 20)
  out.writeUInt8(name.length, 28)
  name.copy(out, NAME_OFFSET)
  out.writeBigUInt64LE(BigInt(state.byteLength), NAME_OFFSET + name.length)
  out.set(state, stateOffset)
  const end = stateOffset + state.byteLength
  out.writeUInt32LE(crc32(out.subarray(0, end)), end)
  return out
}

/**
 * Validates and parses a snapshot file. Every length is checked against the bytes actually present
 * before use, so a corrupt length can never cause a large allocation.
 *
 * @param bytes - the whole file
 * @param file - the file's path, for error messages
 * @returns the parsed contents; `state` is a view into `bytes`
 * @throws SnapshotError `SNAPSHOT_CORRUPT` (too short, bad magic, checksum, or lengths),
 *   `SNAPSHOT_FORMAT_UNSUPPORTED` (an intact file of another format version)
 */
export function decodeSnapshot(bytes: Uint8Array, file: string): SnapshotContents {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const corrupt = (why: string) => SnapshotError.CORRUPT(`${file}: ${why}`, { file })
  if (buf.length < MIN_SIZE) throw corrupt(`${buf.length} bytes is shorter than any snapshot`)
  if (!buf.subarray(0, MAGIC.length).equals(MAGIC)) throw corrupt('not a snapshot file (bad magic)')
  const end = buf.length - CRC_SIZE
  if (crc32(buf.subarray(0, end)) !== buf.readUInt32LE(end)) throw corrupt('checksum mismatch')
  const version = buf.readUInt16LE(8)
  if (version !== SNAPSHOT_FORMAT_VERSION) {
    throw SnapshotError.FORMAT_UNSUPPORTED(
      `${file}: format version ${version}, this build reads ${SNAPSHOT_FORMAT_VERSION}`,
      { file },
    )
  }
  const seq = buf.readBigUInt64LE(12)
  if (seq > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt(`seq ${seq} out of range`)
  const nameLength = buf.readUInt8(28)
  const stateOffset = NAME_OFFSET + nameLength + 8
  if (nameLength === 0 || stateOffset > end) throw corrupt('codec name runs past the file')
  const stateLength = buf.readBigUInt64LE(NAME_OFFSET + nameLength)
  if (stateLength !== BigInt(end - stateOffset)) {
    throw corrupt(`state length ${stateLength} does not match the file size`)
  }
  return {
    seq: Number(seq),
    time: buf.readDoubleLE(20),
    codec: buf.toString('utf8', NAME_OFFSET, NAME_OFFSET + nameLength),
    state: buf.subarray(stateOffset, end),
  }
}
