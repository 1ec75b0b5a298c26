/**
 * A seeded pseudo-random source (mulberry32), so a workload, a crash state or a record stream can be
 * reproduced from its seed. The same seed gives the same sequence in the test and in a child process.
 *
 * @param seed - any number; only its low 32 bits count
 * @returns a function returning the next value in [0, 1)
 * @example
 * const rnd = seededRandom(42)
 * const size = Math.floor(rnd() * 1500)
 */
export declare function seededRandom(seed: number): () => number
