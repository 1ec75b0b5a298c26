/**
 * `repairLog` under simulated power loss: it goes through the `Files` interface, so the power-loss
 * model sees every operation. A power cut at any point of a repair leaves either the damaged log as it
 * was or its valid prefix, never fewer records than the cut keeps, and every byte repair dropped is in
 * its backup before it is gone from the log.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { payloadFor } from '../../../test-support/payload.mjs'
import { seededRandom } from '../../../test-support/random.mjs'
import { tempDir } from '../../../test-support/temp-dir.js'
import { FRAME_HEADER_SIZE, parseSegmentHeader } from '../src/format.js'
import { Wal } from '../src/index.js'
import { repairLog } from '../src/inspect.js'
import { segmentFiles } from './helpers.js'
import { crashState, materialize, RecordingFiles, type Survival } from './power-loss.js'

/** Reads what a log directory holds: records in order until the end or the first error. */
async function readable(dir: string): Promise<{ seqs: number[]; error: string | undefined }> {
  const seqs: number[] = []
  try {
    const reader = await Wal.openReader({ dir })
    try {
      for await (const r of reader.records()) {
        expect(Buffer.from(r.data).equals(Buffer.from(payloadFor(r.seq, 60)))).toBe(true)
        seqs.push(r.seq)
      }
    } finally {
      await reader.close()
    }
    return { seqs, error: undefined }
  } catch (err) {
    return { seqs, error: (err as { code?: string }).code ?? String(err) }
  }
}

describe('repairLog under power loss', () => {
  it('every crash state of a repair holds at least the valid prefix, and nothing dropped is lost', async () => {
    const dir = tempDir()
    const wal = await Wal.open({ dir, sync: 'always', segmentSize: 1024 })
    for (let seq = 1; seq <= 60; seq++) await wal.append({ type: 'r', data: payloadFor(seq, 60) })
    await wal.close()
    const segments = segmentFiles(dir)
    expect(segments.length).toBeGreaterThan(4)
    // Damage a frame in the middle of the second segment: repair keeps what is before it.
    const damaged = segments[1]!
    const bytes = readFileSync(damaged)
    const header = parseSegmentHeader(bytes)
    if (typeof header === 'string') throw new Error(header)
    const at = header.headerSize + 3 * (FRAME_HEADER_SIZE + 1 + 1 + 1 + 6 + 1 + 1 + 60) + 30
    bytes[at] = bytes[at]! ^ 0x20
    writeFileSync(damaged, bytes)
    const keptSeq = Number(damaged.slice(-24, -4)) + 2 // three valid frames before the damage
    const initial = new Map(readdirSync(dir).map((name) => [join(dir, name), readFileSync(join(dir, name))]))

    const recording = new RecordingFiles()
    const plan = await repairLog(dir, { apply: true, files: recording.files })
    expect(plan.lastSeqAfter).toBe(keptSeq)
    const ops = recording.ops
    expect(ops.some((op) => op.kind === 'unlink')).toBe(true)

    const rnd = seededRandom(7)
    let states = 0
    for (let at = 0; at <= ops.length; at++) {
      for (const survival of ['none', 'all', 'random-sectors', 'random-sectors'] as Survival[]) {
        const state = crashState(ops, at, survival, rnd, initial)
        const copy = tempDir()
        materialize(state, copy, dir)
        const { seqs, error } = await readable(copy)
        // Never fewer records than repair keeps, always in order from 1.
        expect(seqs.slice(0, keptSeq)).toEqual(Array.from({ length: keptSeq }, (_, i) => i + 1))
        // Either the damage is still there (reported), or the log ends cleanly at or after the cut.
        if (error !== undefined) expect(['WAL_CORRUPT', 'WAL_TRUNCATED']).toContain(error)
        // Every segment repair removed from the log is in the backup.
        const backup = readdirSync(copy).find((n) => n.startsWith('repair-'))
        for (const file of plan.droppedSegments) {
          const name = file.split('/').pop()!
          if (!readdirSync(copy).includes(name)) {
            expect(backup, `${name} gone without a backup (op ${at}, ${survival})`).toBeDefined()
            expect(readFileSync(join(copy, backup!, name))).toEqual(initial.get(file))
          }
        }
        states++
      }
    }
    expect(states).toBeGreaterThan(20)
  })
})
