import { describe, expect, it } from 'vitest'
import { Wal } from '../src/index.js'
import { exited, onLines, startFixture } from './child.js'
// @ts-expect-error: plain JS fixture shared with the child processes
import { recordData } from './fixtures/record-data.mjs'
import { collect, tempDir } from './helpers.js'

interface Ack {
  id: number
  size: number
  batch: string
}

/** Runs the appender child until it has acknowledged `acks` records, then SIGKILLs it. */
async function runAndKill(dir: string, acks: number, segmentSize: number): Promise<Map<number, Ack>> {
  const child = startFixture('appender.mjs', [dir, 'always', '16', String(segmentSize)])
  const acked = new Map<number, Ack>()
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`appender exited early with ${code}`)))
    onLines(child, (line) => {
      const [kind, seq, id, size, batch] = line.split(' ')
      if (kind !== 'ack') return
      acked.set(Number(seq), { id: Number(id), size: Number(size), batch: batch! })
      if (acked.size >= acks) resolve()
    })
  })
  child.removeAllListeners('exit')
  child.kill('SIGKILL')
  await exited(child)
  return acked
}

describe('crash safety (real SIGKILL)', () => {
  it("every record acknowledged in 'always' mode survives SIGKILL mid-write, batches stay atomic", async () => {
    const dir = tempDir()
    const allAcked = new Map<number, Ack>()
    const kills = 4
    for (let round = 0; round < kills; round++) {
      const acked = await runAndKill(dir, 300 + Math.floor(Math.random() * 700), 64 * 1024)
      for (const [seq, ack] of acked) allAcked.set(seq, ack)

      const wal = await Wal.open({ dir })
      const records = await collect(wal.records())
      // Gap-free from 1.
      expect(records.map((r) => r.seq)).toEqual(Array.from({ length: records.length }, (_, i) => i + 1))
      const bySeq = new Map(records.map((r) => [r.seq, r]))
      let checked = 0
      for (const [seq, ack] of allAcked) {
        const record = bySeq.get(seq)
        expect(record, `acknowledged seq ${seq} lost`).toBeDefined()
        expect(Buffer.from(record!.data).equals(Buffer.from(recordData(ack.id, ack.size)))).toBe(true)
        checked++
      }
      expect(checked).toBe(allAcked.size)
      // No batch is half-present: every batch's records are all there, consecutive.
      const batches = new Map<string, number[]>()
      for (const r of records) {
        if (!r.type.startsWith('b:')) continue
        const [, id, index, count] = r.type.split(':')
        const list = batches.get(id!) ?? []
        list.push(r.seq)
        batches.set(id!, list)
        expect(Number(index)).toBeLessThan(Number(count))
      }
      for (const [id, seqs] of batches) {
        const first = records[seqs[0]! - 1]!
        const count = Number(first.type.split(':')[3])
        expect(seqs.length, `batch ${id} half-present`).toBe(count)
        expect(seqs[seqs.length - 1]! - seqs[0]!).toBe(count - 1)
      }
      await wal.close()
    }
    expect(allAcked.size).toBeGreaterThan(1000)
  })
})
