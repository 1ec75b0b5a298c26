/**
 * CRC-32 (IEEE 802.3, the polynomial zlib uses) of a byte range, without allocating a view for it.
 *
 * `zlib.crc32` is fast per byte but costs a native call plus a `subarray` per range: about 150 ns
 * before the first byte is hashed. Most frames are short, so ranges below {@link NATIVE_FROM} bytes
 * are hashed here, eight bytes per step with slicing-by-8 tables; longer ones go to zlib. Both give
 * the same value (tested against zlib for every length up to a few KiB).
 *
 * @internal
 */
import { crc32 as zlibCrc32 } from 'node:zlib'

/** Ranges this long or longer are hashed by zlib (measured crossover on x64: ~250 bytes). */
const NATIVE_FROM = 256

/** `TABLES[k * 256 + b]`: the CRC of byte `b` followed by `k` zero bytes. */
const TABLES = buildTables()

function buildTables(): Int32Array {
  const t = new Int32Array(8 * 256)
  for (let b = 0; b < 256; b++) {
    let c = b
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    t[b] = c
  }
  for (let b = 0; b < 256; b++) {
    let c = t[b]!
    for (let k = 1; k < 8; k++) {
      c = t[c & 0xff]! ^ (c >>> 8)
      t[k * 256 + b] = c
    }
  }
  return t
}

/**
 * The CRC-32 of `buf[start..end)`.
 *
 * @param buf - the bytes
 * @param start - first byte hashed
 * @param end - one past the last byte hashed
 * @returns the checksum as an unsigned 32-bit integer
 */
export function crc32(buf: Buffer, start: number, end: number): number {
  if (end - start >= NATIVE_FROM) return zlibCrc32(buf.subarray(start, end))
  const t = TABLES
  let c = -1
  let i = start
  for (; i + 8 <= end; i += 8) {
    const w = c ^ (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24))
    c =
      t[1792 + (w & 0xff)]! ^
      t[1536 + ((w >>> 8) & 0xff)]! ^
      t[1280 + ((w >>> 16) & 0xff)]! ^
      t[1024 + (w >>> 24)]! ^
      t[768 + buf[i + 4]!]! ^
      t[512 + buf[i + 5]!]! ^
      t[256 + buf[i + 6]!]! ^
      t[buf[i + 7]!]!
  }
  for (; i < end; i++) c = t[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8)
  return ~c >>> 0
}
