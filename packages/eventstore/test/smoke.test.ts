import { expect, test } from 'vitest'
import { collect } from '../../../test-support/collect.js'
import { tempDir } from '../../../test-support/temp-dir.js'
import { events, openStore } from './helpers.js'

test('smoke', async () => {
  const dir = tempDir()
  const store = await openStore(dir, { sync: 'always' })
  for (let i = 0; i < 50; i++) {
    await store.appendToStream(`s-${i % 7}`, events(3, 'e', i * 3), { expectedRevision: 'any' })
  }
  const r = await collect(store.readStream('s-1'))
  expect(r.map((e) => e.revision)).toEqual(Array.from({ length: r.length }, (_, i) => i + 1))
  await store.close()
  const again = await openStore(dir)
  const r2 = await collect(again.readStream('s-1'))
  expect(r2).toEqual(r)
  console.log(again.metrics().index)
  await again.close()
})
