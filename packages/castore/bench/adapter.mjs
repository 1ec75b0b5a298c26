// The figures of the README's performance notes, on the built dist (run `tsc -b` first):
//   node packages/castore/bench/adapter.mjs [--aggregates 10000] [--sync always]
// 64 concurrent writers push 5 events per aggregate through a castore EventStore, then getAggregate on
// random aggregates, then one listAggregateIds page (a scan of every event under the prefix).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { EventStore as CastoreEventStore, EventType } from '@castore/core'
import { EventStore } from '@waltz/eventstore'
import { WaltzEventStorageAdapter } from '../dist/index.js'

const { values } = parseArgs({
  options: { aggregates: { type: 'string', default: '10000' }, sync: { type: 'string', default: 'always' } },
})
const aggregates = Number(values.aggregates)
const sync = values.sync
const writers = 64

// Plain JSON, no schema checks: the adapter's cost, not a validator's.
const json = {
  name: 'bench-json/1',
  encode: (d) => (d === undefined ? new Uint8Array(0) : Buffer.from(JSON.stringify(d))),
  decode: (b) => (b.byteLength === 0 ? undefined : JSON.parse(Buffer.from(b).toString('utf8'))),
}
const dir = mkdtempSync(join(tmpdir(), 'waltz-castore-bench-'))
const store = await EventStore.open({ dir, serializer: json, sync })
const pokemons = new CastoreEventStore({
  eventStoreId: 'pokemons',
  eventTypes: [new EventType({ type: 'APPEARED' }), new EventType({ type: 'LEVELED_UP' })],
  reducer: (p, e) =>
    e.type === 'APPEARED'
      ? { aggregateId: e.aggregateId, version: e.version, level: 1 }
      : { ...p, version: e.version, level: p.level + 1 },
  eventStorageAdapter: new WaltzEventStorageAdapter({ store }),
})

try {
  let next = 0
  const writer = async () => {
    while (next < aggregates) {
      const aggregateId = `p${next++}`
      await pokemons.pushEvent({ aggregateId, version: 1, type: 'APPEARED', payload: { name: aggregateId } })
      for (let version = 2; version <= 5; version++) {
        await pokemons.pushEvent({ aggregateId, version, type: 'LEVELED_UP' })
      }
    }
  }
  const start = performance.now()
  await Promise.all(Array.from({ length: writers }, writer))
  const pushSeconds = (performance.now() - start) / 1000

  const latencies = []
  for (let i = 0; i < 2000; i++) {
    const t = performance.now()
    await pokemons.getAggregate(`p${(i * 7919) % aggregates}`)
    latencies.push(performance.now() - t)
  }
  latencies.sort((a, b) => a - b)

  const t = performance.now()
  const page = await pokemons.listAggregateIds({ limit: 100 })
  const listMs = performance.now() - t
  if (page.aggregateIds.length !== Math.min(100, aggregates))
    throw new Error('listAggregateIds lost aggregates')

  console.log(
    `node ${process.version}, sync '${sync}', ${aggregates} aggregates x 5 events, ${writers} writers`,
  )
  console.log(`pushEvent: ${Math.round((aggregates * 5) / pushSeconds)} events/s`)
  console.log(
    `getAggregate (5 events): p50 ${latencies[1000].toFixed(3)} ms, p99 ${latencies[1980].toFixed(3)} ms`,
  )
  console.log(
    `listAggregateIds, first page of 100 (scans ${aggregates * 5} events): ${Math.round(listMs)} ms`,
  )
} finally {
  await store.close()
  rmSync(dir, { recursive: true, force: true })
}
