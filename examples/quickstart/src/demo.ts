// The quick-start demo: 64 concurrent producers append 20,000 events in 'always' mode (each
// acknowledged event is fdatasync'ed; group commit shares each fsync), keyed by account, then the log
// is closed, reopened as a restart would, and replayed to check every event came back intact.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Wal } from '@waltz/core'

const dir = process.argv[2] ?? mkdtempSync(join(tmpdir(), 'waltz-demo-'))
const events = 20_000
const producers = 64
const encoder = new TextEncoder()

const wal = await Wal.open({ dir, sync: 'always' })
const start = performance.now()
let next = 0
await Promise.all(
  Array.from({ length: producers }, async () => {
    while (next < events) {
      const n = next++
      await wal.append({
        type: 'deposit',
        key: `account-${n % 97}`,
        data: encoder.encode(JSON.stringify({ amount: n })),
      })
    }
  }),
)
const seconds = (performance.now() - start) / 1000
const m = wal.metrics()
await wal.close()

const reopened = await Wal.open({ dir })
const replayStart = performance.now()
let total = 0
const balances = new Map<string | undefined, number>()
const decoder = new TextDecoder()
const replayed = await reopened.replayFrom(0, (record) => {
  const { amount } = JSON.parse(decoder.decode(record.data)) as { amount: number }
  total += amount
  balances.set(record.key, (balances.get(record.key) ?? 0) + amount)
})
const replayMs = performance.now() - replayStart
await reopened.close()

const expected = (events * (events - 1)) / 2
console.log(
  `appended   ${events} events durably in ${seconds.toFixed(2)} s (${Math.round(events / seconds)}/s)`,
)
console.log(
  `fsyncs     ${m.fsyncs} for ${m.appends} appends (group commit), p99 fsync ${m.fsyncLatencyMs.p99.toFixed(2)} ms`,
)
console.log(
  `replayed   ${replayed} events of ${balances.size} accounts (record keys) after reopen in ${replayMs.toFixed(1)} ms`,
)
console.log(`checksum   ${total === expected ? 'ok' : `MISMATCH: ${total} != ${expected}`}`)
if (process.argv[2] === undefined) rmSync(dir, { recursive: true, force: true })
if (total !== expected || replayed !== events || balances.size !== 97) process.exit(1)
