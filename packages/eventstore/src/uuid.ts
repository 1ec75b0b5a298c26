import { randomFillSync } from 'node:crypto'

/** Random bytes drawn from the CSPRNG at once: one call serves this many ids. */
const POOL_IDS = 512
/** Random bytes per id: 74 random bits (12 of `rand_a`, 62 of `rand_b`) fit in 10 bytes. */
const ID_BYTES = 10
const pool = Buffer.allocUnsafe(POOL_IDS * ID_BYTES)
let poolAt = pool.length

/** Two lowercase hex digits per byte value. */
const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'))
/** The variant digit (`10xx` in binary: 8, 9, a or b) for two random bits. */
const VARIANT = ['8', '9', 'a', 'b']

// The time part of the last millisecond's ids: most ids of a busy millisecond share it.
let prefixMs = -1
let prefix = ''

/**
 * A UUID version 7 (RFC 9562): 48 bits of Unix time in ms, then 74 random bits from the CSPRNG
 * (`crypto.randomFillSync`, drawn for 512 ids at a time: the call, not the bytes, is what costs), so
 * ids sort by creation time and cannot be guessed.
 *
 * @param now - the time to embed, ms since the epoch
 * @returns the UUID in its canonical lowercase form, `tttttttt-tttt-7rrr-vrrr-rrrrrrrrrrrr`
 */
export function uuidv7(now: number = Date.now()): string {
  if (now !== prefixMs) {
    const time = Math.trunc(now).toString(16).padStart(12, '0').slice(-12)
    prefix = `${time.slice(0, 8)}-${time.slice(8, 12)}-7`
    prefixMs = now
  }
  if (poolAt === pool.length) {
    randomFillSync(pool)
    poolAt = 0
  }
  const r = pool
  const i = poolAt
  poolAt += ID_BYTES
  // rand_a: 12 bits (a nibble of r[i], then r[i+1]); the variant takes 2 bits of r[i+2], whose other
  // 6 bits and r[i+3..i+9] are rand_b (62 bits).
  return (
    prefix +
    HEX[r[i]! & 0x0f]![1] +
    HEX[r[i + 1]!] +
    '-' +
    VARIANT[r[i + 2]! >> 6] +
    HEX[r[i + 2]! & 0x0f]![1] +
    HEX[r[i + 3]!] +
    '-' +
    HEX[r[i + 4]!] +
    HEX[r[i + 5]!] +
    HEX[r[i + 6]!] +
    HEX[r[i + 7]!] +
    HEX[r[i + 8]!] +
    HEX[r[i + 9]!]
  )
}
