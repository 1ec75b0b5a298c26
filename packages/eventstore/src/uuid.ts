import { randomFillSync } from 'node:crypto'

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))
const pool = Buffer.alloc(16 * 256)
let poolAt = pool.length

/**
 * A UUID version 7 (RFC 9562): 48 bits of Unix time in ms, then random bits, so ids sort by creation
 * time. Random bytes are drawn from a pooled `randomFillSync` (one system call per 256 ids).
 *
 * @param now - the time to embed, ms since the epoch
 * @returns the UUID in its canonical lowercase form
 */
export function uuidv7(now: number = Date.now()): string {
  if (poolAt + 16 > pool.length) {
    randomFillSync(pool)
    poolAt = 0
  }
  const b = pool.subarray(poolAt, poolAt + 16)
  poolAt += 16
  const high = Math.floor(now / 0x1_0000_0000)
  const low = now >>> 0
  b[0] = (high >>> 8) & 0xff
  b[1] = high & 0xff
  b[2] = (low >>> 24) & 0xff
  b[3] = (low >>> 16) & 0xff
  b[4] = (low >>> 8) & 0xff
  b[5] = low & 0xff
  b[6] = 0x70 | (b[6]! & 0x0f)
  b[8] = 0x80 | (b[8]! & 0x3f)
  let s = ''
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) s += '-'
    s += HEX[b[i]!]
  }
  return s
}
