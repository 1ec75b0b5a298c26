import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { exited, onLines, requireBuilt, startNode, waitForLine } from '../../../test-support/child-process.js'
import { collect } from '../../../test-support/collect.js'
import { seededRandom } from '../../../test-support/random.mjs'
import { tempDir } from '../../../test-support/temp-dir.js'
import type { EventStore } from '../src/index.js'
import { openStore, type TestEvent } from './helpers.js'

/** SIGKILLs of a group storm: a few in the normal suite, `pnpm test:crash` runs more. */
const KILLS = Math.max(3, Math.floor(Number(process.env.WALTZ_CRASH_KILLS ?? 12) / 3))
const SEED = Number(process.env.WALTZ_CRASH_SEED ?? Date.now() % 1e9)
const STREAMS = 40
const KILLS_PER_STORE = 5
const STORM = new URL('./fixtures/group-storm.mjs', import.meta.url)

interface Op {
  streams: string[]
  /** Result positions, when acknowledged. */
  positions?: number[]
}

/** Runs one storm child on `dir` until `acks` groups are acknowledged, SIGKILLs it, records its ops. */
async function stormAndKill(dir: string, run: number, acks: number, ops: Map<string, Op>): Promise<void> {
  requireBuilt(new URL('../dist/index.js', import.meta.url))
  const child = startNode(STORM, [dir, String(SEED + run), String(run), String(STREAMS), '8'])
  const closed = new Promise((resolve) => child.once('close', resolve))
  onLines(child, (line) => {
    const [kind, op, list] = line.split(' ')
    if (kind === 'send') ops.set(op!, { streams: list!.split(',') })
    else if (kind === 'ack') ops.get(op!)!.positions = list!.split(',').map(Number)
  })
  try {
    await waitForLine(child, (line) => line === 'ready')
    let left = acks
    await waitForLine(child, (line) => line.startsWith('ack ') && --left <= 0)
  } finally {
    child.kill('SIGKILL')
    await exited(child)
    await closed
  }
}

/** Every stream's events, as `op-j` ids with revisions and positions. */
async function streamsOf(store: EventStore<TestEvent>) {
  const out = new Map<string, { id: string; revision: number; position: number }[]>()
  for (let s = 0; s < STREAMS; s++) {
    const events = await collect(store.readStream(`g-${s}`))
    out.set(
      `g-${s}`,
      events.map((e) => ({ id: e.id, revision: e.revision, position: e.position })),
    )
  }
  return out
}

describe('appendToStreams across SIGKILLs', () => {
  it(
    `every group is stored whole or not at all, every acknowledged one whole (${KILLS} kills, seed ${SEED})`,
    async () => {
      const rnd = seededRandom(SEED)
      let acknowledged = 0
      let dir = ''
      let ops = new Map<string, Op>()
      for (let run = 0; run < KILLS; run++) {
        if (run % KILLS_PER_STORE === 0) {
          // A fresh store every few kills bounds each round's full check on long runs.
          acknowledged += [...ops.values()].filter((o) => o.positions).length
          dir = tempDir()
          ops = new Map()
        }
        await stormAndKill(dir, run, 20 + Math.floor(rnd() * 150), ops)
        const store = await openStore(dir)
        const streams = await streamsOf(store)
        await store.close()
        // Where each stored event is: op id -> stream -> position.
        const stored = new Map<string, Map<string, number>>()
        for (const [stream, events] of streams) {
          expect(events.map((e) => e.revision)).toEqual(events.map((_, i) => i + 1)) // gap-free
          for (const e of events) {
            const op = e.id.slice(0, e.id.lastIndexOf('-'))
            if (!stored.has(op)) stored.set(op, new Map())
            // Each event of a group is stored once: a second copy would be a group applied twice.
            expect(stored.get(op)!.has(stream), `${e.id} stored twice`).toBe(false)
            stored.get(op)!.set(stream, e.position)
          }
        }
        for (const [id, op] of ops) {
          const found = stored.get(id)
          if (op.positions) {
            // Acknowledged: all of it, at the positions the store returned.
            expect(found, id).toBeDefined()
            expect(op.streams.map((s) => found!.get(s))).toEqual(op.positions)
          } else if (found !== undefined) {
            // In doubt when killed: whole, or absent.
            expect(
              op.streams.every((s) => found.has(s)),
              id,
            ).toBe(true)
          }
          if (found) {
            expect(found.size).toBe(op.streams.length)
            // One batch: the group's events sit at adjacent positions, in the order of its streams.
            const positions = op.streams.map((s) => found.get(s)!)
            expect(positions).toEqual(positions.map((_, k) => positions[0]! + k))
          }
        }
        for (const id of stored.keys()) expect(ops.has(id), `unknown op ${id}`).toBe(true)
        // The recovered index answers as one rebuilt from the WAL.
        rmSync(join(dir, 'index'), { recursive: true, force: true })
        const rebuilt = await openStore(dir)
        expect(await streamsOf(rebuilt)).toEqual(streams)
        await rebuilt.close()
      }
      acknowledged += [...ops.values()].filter((o) => o.positions).length
      expect(acknowledged).toBeGreaterThanOrEqual(KILLS * 20)
    },
    KILLS * 5_000,
  )
})
