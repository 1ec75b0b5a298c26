/**
 * Recovery itself under simulated power loss: a writer's open that cuts a torn tail writes a side file,
 * truncates and fdatasyncs. A power cut at any point of that open leaves a log that opens again with
 * every durable record, and a cut that reached the disk always has its side file beside it.
 */
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { payloadFor } from '../../../test-support/payload.mjs'
import { seededRandom } from '../../../test-support/random.mjs'
import { tempDir } from '../../../test-support/temp-dir.js'
import { Wal } from '../src/index.js'
import { unsyncedWrite } from './helpers.js'
import { crashState, materialize, RecordingFiles, type Survival } from './power-loss.js'

describe('recovery under power loss', () => {
  it('a power cut during the open that cuts a torn tail loses no durable record and no cut byte', async () => {
    // 10 durable records, then 40 written in one unsynced write, then a crash that lost one sector
    // of that write while later sectors survived: a torn tail with intact frames after the damage.
    const { dir: torn, file, bytes } = await unsyncedWrite()
    const original = Buffer.from(bytes)
    original.fill(0, 2048, 2560)
    writeFileSync(file!, original)
    const initial = new Map(
      readdirSync(torn).map((name) => [join(torn, name), readFileSync(join(torn, name))]),
    )

    const recording = new RecordingFiles()
    const opened = await Wal.open({ dir: torn, files: recording.files })
    const cutAt = opened.recovery.truncatedAt!
    expect(cutAt).toBeGreaterThan(0)
    await opened.close()
    const ops = recording.ops
    expect(ops.some((op) => op.kind === 'truncate')).toBe(true)

    const rnd = seededRandom(11)
    let states = 0
    for (let at = 0; at <= ops.length; at++) {
      for (const survival of ['none', 'all', 'random-sectors', 'random-sectors'] as Survival[]) {
        const copy = tempDir()
        materialize(crashState(ops, at, survival, rnd, initial), copy, torn)
        rmSync(join(copy, 'LOCK'), { force: true })
        const segment = readFileSync(join(copy, file!.split('/').pop()!))
        if (segment.length < original.length) {
          // The cut reached the disk: its bytes are in a side file, whole.
          const side = readdirSync(copy).filter((n) => n.includes('.cut-'))
          expect(side.length, `cut without its side file (op ${at}, ${survival})`).toBe(1)
          expect(readFileSync(join(copy, side[0]!))).toEqual(original.subarray(cutAt))
        }
        const reopened = await Wal.open({ dir: copy })
        const seqs: number[] = []
        for await (const r of reopened.records()) {
          expect(Buffer.from(r.data).equals(Buffer.from(payloadFor(r.seq, 100)))).toBe(true)
          seqs.push(r.seq)
        }
        expect(seqs.slice(0, 10)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
        expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1))
        await reopened.close()
        states++
      }
    }
    expect(states).toBeGreaterThan(20)
  })
})
