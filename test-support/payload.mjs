// Plain JS, so child processes (Node 20 runs no TypeScript) share it with the tests. Types and docs:
// payload.d.mts.
import { seededRandom } from './random.mjs'

export function payloadFor(seed, size) {
  const next = seededRandom(seed)
  const out = new Uint8Array(size)
  for (let i = 0; i < size; i++) out[i] = next() * 256
  return out
}

export function compressiblePayloadFor(seed, size) {
  const next = seededRandom(seed)
  const out = new Uint8Array(size)
  // Four letters: about two bits of entropy per byte, so codecs shrink it to a third or so.
  for (let i = 0; i < size; i++) out[i] = 97 + Math.floor(next() * 4)
  return out
}
