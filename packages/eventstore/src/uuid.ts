import { randomFillSync } from 'node:crypto'

/** Random bytes drawn from the CSPRNG at once: one call serves this many ids. */
const POOL_IDS = 512
/** Random bytes per id: 74 random bits (12 of `rand_a`, 62 of `rand_b`) fit in 10 bytes. */
const ID_BYTES = 10
const pool = Buffer.allocUnsafe(POOL_IDS * ID_BYTES)
let poolAt = pool.length

/** The character codes of the lowercase hex digits. */
const HEX = Buffer.from('0123456789abcdef', 'latin1')
/** Length of the canonical form. */
const UUID_LENGTH = 36

/**
 * The id being built, as Latin-1 bytes: the dashes and the version digit are fixed, the time part
 * (the first 13 characters, up to the second dash) is rewritten when the millisecond changes, and the
 * random digits for every id. One `toString` of it makes the id a single flat string; concatenating
 * the digits made a chain of ~15 string fragments per id, which the WAL flattened again when it
 * encoded the header (measured: twice the CPU, and ~450 bytes of garbage per append).
 */
const scratch = Buffer.from('00000000-0000-7000-8000-000000000000', 'latin1')
// The millisecond the time part of `scratch` holds.
let scratchMs = -1

/** Writes the hex digits of `byte` at `at` and `at + 1`. */
function hexByte(byte: number, at: number): void {
  scratch[at] = HEX[byte >> 4]!
  scratch[at + 1] = HEX[byte & 0x0f]!
}

/**
 * A UUID version 7 (RFC 9562): 48 bits of Unix time in ms, then 74 random bits from the CSPRNG
 * (`crypto.randomFillSync`, drawn for 512 ids at a time: the call, not the bytes, is what costs), so
 * ids sort by creation time and cannot be guessed.
 *
 * @param now - the time to embed, ms since the epoch
 * @returns the UUID in its canonical lowercase form, `tttttttt-tttt-7rrr-vrrr-rrrrrrrrrrrr`
 */
export function uuidv7(now: number = Date.now()): string {
  if (now !== scratchMs) {
    const time = Math.trunc(now).toString(16).padStart(12, '0').slice(-12)
    scratch.write(time.slice(0, 8), 0, 'latin1')
    scratch.write(time.slice(8, 12), 9, 'latin1')
    scratchMs = now
  }
  if (poolAt === pool.length) {
    randomFillSync(pool)
    poolAt = 0
  }
  const r = pool
  const i = poolAt
  poolAt += ID_BYTES
  // rand_a: 12 bits (a nibble of r[i], then r[i+1]), after the version digit at 14; the variant
  // digit (`10xx` in binary: 8, 9, a or b) takes 2 bits of r[i+2], whose low nibble and r[i+3..i+9]
  // are rand_b (60 bits here, as before: 2 bits of r[i+2] are left unused).
  scratch[15] = HEX[r[i]! & 0x0f]!
  hexByte(r[i + 1]!, 16)
  scratch[19] = HEX[8 | (r[i + 2]! >> 6)]!
  scratch[20] = HEX[r[i + 2]! & 0x0f]!
  hexByte(r[i + 3]!, 21)
  for (let k = 0; k < 6; k++) hexByte(r[i + 4 + k]!, 24 + 2 * k)
  return scratch.toString('latin1', 0, UUID_LENGTH)
}
