import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { Wal } from '@waltz/core'
import { describe, expect, it } from 'vitest'
import { exited, onLines, requireBuilt, startNode } from '../../../test-support/child-process.js'
import { tempDir } from '../../../test-support/temp-dir.js'
import { recover, SnapshotStore } from '../src/index.js'
import { type Accounts, accounts } from './fixtures/accounts.mjs'
import { fullReplay, stateHash } from './helpers.js'

const CHILD = new URL('./fixtures/crash-child.mjs', import.meta.url)

type KillAt = 'acks' | 'snapshot-start' | 'snapshot-saved'

interface Round {
  acked: Map<number, string>
  /** The last snapshot event the parent saw before the kill. */
  lastEvent: 'snapshot-start' | 'snapshot-saved' | undefined
}

/** Starts the child and SIGKILLs it at a random point of the kind `killAt`. */
async function runAndKill(walDir: string, snapshotDir: string, killAt: KillAt, seed: number): Promise<Round> {
  requireBuilt(
    new URL('../dist/index.js', import.meta.url),
    new URL('../../core/dist/index.js', import.meta.url),
  )
  const proc = startNode(CHILD, [walDir, snapshotDir, '150', String(seed)])
  const round: Round = { acked: new Map(), lastEvent: undefined }
  const target =
    killAt === 'acks' ? 100 + Math.floor(Math.random() * 1500) : 1 + Math.floor(Math.random() * 3)
  const delayMs = Math.floor(Math.random() * 4) // 0: at once; else after a timer
  let seen = 0
  await new Promise<void>((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`the child exited early with ${code}`)))
    const kill = () => {
      proc.kill('SIGKILL')
      resolve()
    }
    onLines(proc, (line) => {
      const [kind, seq, data] = line.split(' ')
      if (kind === 'ack') round.acked.set(Number(seq), data!)
      if (kind === 'snapshot-start' || kind === 'snapshot-saved') round.lastEvent = kind
      if (kind === killAt || (killAt === 'acks' && kind === 'ack')) {
        if (++seen === target) {
          if (delayMs === 0) kill()
          else setTimeout(kill, delayMs)
        }
      }
    })
  })
  proc.removeAllListeners('exit')
  await exited(proc)
  return round
}

describe('crash safety (real SIGKILL while snapshotting and appending)', () => {
  it('after every kill, recover() gives exactly the state of a full replay, and no ack is lost', async () => {
    const root = tempDir()
    const walDir = join(root, 'wal')
    const snapshotDir = join(root, 'snapshots')
    const kinds: KillAt[] = ['snapshot-start', 'acks', 'snapshot-saved']
    const acked = new Map<number, string>()
    let killedMidSnapshot = 0
    let tempFilesLeft = 0
    let recoveredFromSnapshot = 0
    for (let i = 0; i < 12; i++) {
      const round = await runAndKill(walDir, snapshotDir, kinds[i % kinds.length]!, 1000 + i)
      for (const [seq, data] of round.acked) acked.set(seq, data)
      if (round.lastEvent === 'snapshot-start') killedMidSnapshot++
      const temps = readdirSync(snapshotDir).filter((n) => n.endsWith('.tmp'))
      tempFilesLeft += temps.length

      const wal = await Wal.open({ dir: walDir })
      const store = await SnapshotStore.open<Accounts>({ dir: snapshotDir })
      expect(readdirSync(snapshotDir).filter((n) => !/^snapshot-\d{20}\.snap$/.test(n))).toEqual([])
      const recovered = await recover({ wal, store, aggregate: accounts })
      // A crash never leaves a half-written snapshot taken as good, nor one ahead of the 'always' WAL.
      expect(recovered.skipped).toEqual([])
      if (recovered.snapshotFile !== undefined) {
        recoveredFromSnapshot++
        expect(recovered.snapshotFile).toMatch(/snapshot-\d{20}\.snap$/)
      }
      expect(recovered.seq).toBe(wal.lastSeq)
      expect(stateHash(recovered.state)).toBe(stateHash(await fullReplay(wal)))

      // Every acknowledged record is in the WAL, with its content.
      const maxAcked = Math.max(...acked.keys())
      expect(wal.lastSeq).toBeGreaterThanOrEqual(maxAcked)
      for await (const record of wal.records({ from: 1, to: maxAcked })) {
        const data = acked.get(record.seq)
        if (data !== undefined) expect(Buffer.from(record.data).toString('hex')).toBe(data)
      }
      await wal.close()
    }
    console.info(
      `crash test: ${acked.size} acked batches, ${killedMidSnapshot} kills mid-snapshot, ` +
        `${tempFilesLeft} temp files left by kills, ${recoveredFromSnapshot} recoveries from a snapshot`,
    )
    expect(killedMidSnapshot).toBeGreaterThan(0)
    expect(recoveredFromSnapshot).toBeGreaterThan(0)
  }, 120_000)
})
