/**
 * The event store on a compressed log: each `appendToStream` call is one atomic group, so its events
 * become one compressed block; stream reads (through the index's frame locations), `readAll` and
 * aggregates return exactly what a store without compression returns.
 */
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { collect } from '../../../test-support/collect.js'
import { tempDir } from '../../../test-support/temp-dir.js'
import { openStore } from './helpers.js'

const NOTE = 'order note: deliver to the loading dock, ring twice, fragile goods inside. '.repeat(2)

function walBytes(dir: string): number {
  return readdirSync(dir)
    .filter((n) => n.endsWith('.wal'))
    .reduce((n, f) => n + statSync(join(dir, f)).size, 0)
}

describe('event store with compression', () => {
  it('reads the same events as a store without it, after a reopen, in a fraction of the bytes', async () => {
    const dirs = { none: tempDir(), deflate: tempDir() }
    for (const [compression, dir] of Object.entries(dirs) as ['none' | 'deflate', string][]) {
      const store = await openStore(dir, { compression })
      for (let round = 0; round < 4; round++) {
        for (let s = 0; s < 40; s++) {
          const n = 1 + ((s + round) % 4)
          const evs = Array.from({ length: n }, (_, i) => ({
            type: 'noted',
            data: { s, round, i, note: NOTE },
          }))
          await store.appendToStream(`cart-${s}`, evs)
        }
      }
      await store.close()
    }
    expect(walBytes(dirs.deflate)).toBeLessThan(walBytes(dirs.none) / 2)
    const plain = await openStore(dirs.none)
    const compressed = await openStore(dirs.deflate, { compression: 'deflate' })
    const strip = <T extends { time: number; id: string }>(e: T) => ({ ...e, time: 0, id: '' })
    for (let s = 0; s < 40; s += 3) {
      const stream = `cart-${s}`
      expect((await collect(compressed.readStream(stream))).map(strip)).toEqual(
        (await collect(plain.readStream(stream))).map(strip),
      )
      const back = { direction: 'backwards' as const, from: 3, maxCount: 2 }
      expect((await collect(compressed.readStream(stream, back))).map((e) => e.revision)).toEqual([3, 2])
    }
    const all = await collect(compressed.readAll({ from: 17, maxCount: 50 }))
    expect(all.map((e) => e.position)).toEqual(Array.from({ length: 50 }, (_, i) => 17 + i))
    expect(all.map(strip)).toEqual((await collect(plain.readAll({ from: 17, maxCount: 50 }))).map(strip))
    const state = await compressed.aggregateStream('cart-5', {
      initialState: () => 0,
      evolve: (n: number) => n + 1,
    })
    expect(state).toMatchObject({ state: 10, revision: 10, exists: true })
    await plain.close()
    await compressed.close()
  })
})
