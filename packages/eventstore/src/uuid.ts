import { randomUUID } from 'node:crypto'

/**
 * A UUID version 7 (RFC 9562): 48 bits of Unix time in ms, then random bits, so ids sort by creation
 * time. The random part comes from `crypto.randomUUID()` (a version 4 UUID drawn from a pooled
 * CSPRNG buffer): its random digits and variant are kept, its first 48 bits and version replaced.
 *
 * @param now - the time to embed, ms since the epoch
 * @returns the UUID in its canonical lowercase form
 */
export function uuidv7(now: number = Date.now()): string {
  const random = randomUUID() // xxxxxxxx-xxxx-4xxx-Vxxx-xxxxxxxxxxxx (V: the variant, 8..b)
  if (now !== prefixMs) {
    const time = Math.trunc(now).toString(16).padStart(12, '0').slice(-12)
    prefix = `${time.slice(0, 8)}-${time.slice(8, 12)}-7`
    prefixMs = now
  }
  return prefix + random.slice(15)
}

// The time part of the last millisecond's ids: most ids of a busy millisecond share it.
let prefixMs = -1
let prefix = ''
