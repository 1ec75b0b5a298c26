// Plain JS, so child processes (Node 20 runs no TypeScript) share it with the tests. Types and docs:
// random.d.mts.

export function seededRandom(seed) {
  // mulberry32: a 32-bit state stepped by a Weyl sequence, then mixed.
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
