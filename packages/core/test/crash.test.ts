import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { exited, onLines } from '../../../test-support/child-process.js'
import { collect } from '../../../test-support/collect.js'
import { compressiblePayloadFor, payloadFor } from '../../../test-support/payload.mjs'
import { seededRandom } from '../../../test-support/random.mjs'
import { tempDir } from '../../../test-support/temp-dir.js'
import { Wal } from '../src/index.js'
import { startFixture } from './helpers.js'

/** SIGKILL rounds: about 20 in the normal suite; `pnpm test:crash` runs 200 or more. */
const KILLS = Number(process.env.WALTZ_CRASH_KILLS ?? 20)
const SEED = Number(process.env.WALTZ_CRASH_SEED ?? Date.now() % 1e9)

interface Ack {
  id: number
  size: number
}

/**
 * Starts the appender child ('always' mode, concurrent appenders, singles and atomic batches, small
 * segments so it rotates), lets it run for `ms` after it is ready, then SIGKILLs it.
 */
async function runAndKill(
  dir: string,
  appenders: number,
  segmentSize: number,
  ms: number,
  blockingSync: boolean,
  compression: string | undefined,
): Promise<Map<number, Ack>> {
  const args = [dir, 'always', String(appenders), String(segmentSize), String(blockingSync)]
  if (compression !== undefined) args.push('-', '-', compression)
  const child = startFixture('appender.mjs', args)
  const acked = new Map<number, Ack>()
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`appender exited early with ${code}`)))
    onLines(child, (line) => {
      const [kind, seq, id, size] = line.split(' ')
      if (kind === 'ready') setTimeout(resolve, ms)
      else if (kind === 'ack') acked.set(Number(seq), { id: Number(id), size: Number(size) })
    })
  })
  child.removeAllListeners('exit')
  child.kill('SIGKILL')
  await exited(child)
  return acked
}

describe('crash safety (real SIGKILL)', () => {
  it.each([
    [KILLS, undefined],
    // Compressed blocks (half the rounds): a group of records in one frame, cut or kept together.
    [Math.max(1, Math.ceil(KILLS / 2)), 'deflate'],
  ] as const)(
    `every record acknowledged in 'always' mode survives %i SIGKILLs mid-write; batches stay atomic (compression: %s)`,
    async (kills, compression) => {
      const rnd = seededRandom(SEED)
      const payload = compression === undefined ? payloadFor : compressiblePayloadFor
      let compressedChecks = 0
      let dir = tempDir()
      let allAcked = new Map<number, Ack>()
      let checked = 0
      let lost = 0
      let acknowledged = 0
      let seekReads = 0
      let seekFiles = 0
      for (let round = 0; round < kills; round++) {
        // A fresh log every 25 kills keeps each round's full verification bounded on long runs.
        if (round > 0 && round % 25 === 0) {
          dir = tempDir()
          allAcked = new Map()
        }
        const before = allAcked.size
        const appenders = 1 + Math.floor(rnd() * 32)
        // Compressed logs are a few times smaller: smaller segments keep them rotating as often.
        const segmentSize = Math.floor((16 * 1024 + rnd() * 240 * 1024) / (compression === undefined ? 1 : 4))
        const ms = 30 + Math.floor(rnd() * 250)
        const acked = await runAndKill(dir, appenders, segmentSize, ms, round % 2 === 1, compression)
        for (const [seq, ack] of acked) allAcked.set(seq, ack)
        acknowledged += allAcked.size - before

        const wal = await Wal.open({ dir })
        const bySeq = new Map<number, { type: string; data: Uint8Array }>()
        let expected = 1
        for await (const r of wal.records()) {
          expect(r.seq, 'seqs are gap-free').toBe(expected++)
          bySeq.set(r.seq, r)
        }
        // Reads starting mid-segment go through the seek files the killed writer left (the kill may
        // have cut one short): each returns what the scan did.
        const reader = await Wal.openReader({ dir })
        for (let k = 0; k < 10; k++) {
          const from = 1 + Math.floor(rnd() * (expected - 1))
          const to = Math.min(expected - 1, from + 3)
          const got = await collect(reader.records({ from, to }))
          expect(got.map((r) => r.seq)).toEqual(Array.from({ length: to - from + 1 }, (_, i) => from + i))
          for (const r of got)
            expect(Buffer.from(r.data).equals(Buffer.from(bySeq.get(r.seq)!.data))).toBe(true)
          seekReads++
        }
        await reader.close()
        seekFiles += readdirSync(dir).filter((n) => n.endsWith('.seek')).length
        for (const [seq, ack] of allAcked) {
          checked++
          const record = bySeq.get(seq)
          if (!record || !Buffer.from(record.data).equals(Buffer.from(payload(ack.id, ack.size)))) lost++
        }
        if (compression !== undefined) {
          // The records really went into compressed blocks.
          let data = 0
          for (const r of bySeq.values()) data += r.data.byteLength
          const disk = readdirSync(dir)
            .filter((n) => n.endsWith('.wal'))
            .reduce((n, f) => n + statSync(join(dir, f)).size, 0)
          if (data > 64 * 1024) {
            expect(disk).toBeLessThan(data * 0.6)
            compressedChecks++
          }
        }
        // No batch is half-present: a batch's records are consecutive and all there.
        for (const [seq, r] of bySeq) {
          if (!r.type.startsWith('b:')) continue
          const [, , index, count] = r.type.split(':').map(Number)
          const first = seq - index!
          for (let s = first; s < first + count!; s++) {
            expect(bySeq.get(s)?.type.split(':')[1], `batch at ${first} half-present`).toBe(
              r.type.split(':')[1],
            )
          }
        }
        // Appending continues right after the recovered end.
        expect(await wal.append({ type: 'after-crash', data: new Uint8Array([round]) })).toBe(wal.lastSeq)
        expect(wal.lastSeq).toBe(expected)
        await wal.close()
      }
      console.info(
        `crash (seed ${SEED}, compression ${compression}): kills ${kills}, acknowledged records checked ${checked}, lost ${lost}; ` +
          `reads from a random seq ${seekReads}, seek files present ${seekFiles}`,
      )
      expect(lost).toBe(0)
      expect(acknowledged).toBeGreaterThan(kills * 10)
      if (compression !== undefined) expect(compressedChecks).toBeGreaterThan(kills / 2)
      // The reads from a random seq had seek files to go through (segments of 16 to 256 KiB rotate).
      expect(seekFiles).toBeGreaterThan(kills)
    },
    600_000,
  )
})
