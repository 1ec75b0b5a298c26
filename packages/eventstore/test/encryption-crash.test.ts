/**
 * An encrypted event store SIGKILLed right after `shredStream` resolved, alone and during an append
 * storm over many streams: after a restart the shredded streams read shredded (every event, with
 * revisions intact), a shred cut short by the kill erased all of its stream or none of it, every
 * acknowledged event of the other streams is there with its data, appends to a shredded stream are
 * `STREAM_SHREDDED`, and no event's plaintext is in any file of the directory.
 */
import { randomBytes } from 'node:crypto'
import { localKeyring } from '@waltz/core'
import { describe, expect, it } from 'vitest'
import { exited, onLines, requireBuilt, startNode, waitForLine } from '../../../test-support/child-process.js'
import { collect } from '../../../test-support/collect.js'
import { seededRandom } from '../../../test-support/random.mjs'
import { tempDir } from '../../../test-support/temp-dir.js'
import { allFiles, openStore } from './helpers.js'

/** SIGKILLs of the storm: a few in the normal suite, `pnpm test:crash` runs more. */
const KILLS = Math.max(3, Math.floor(Number(process.env.WALTZ_CRASH_KILLS ?? 12) / 4))
const SEED = Number(process.env.WALTZ_CRASH_SEED ?? Date.now() % 1e9)
const STORM = new URL('./fixtures/shred-storm.mjs', import.meta.url)
const STREAMS = 10

/** What the children reported, over every run on one directory. */
interface Reported {
  /** Acknowledged events: stream -> revision -> position. */
  acked: Map<string, Map<number, number>>
  /** Streams whose shredStream resolved. */
  shredded: Set<string>
  /** Streams whose shredStream was called in the last run, resolved or not. */
  shredding: Set<string>
}

/** The child's data of an event (see the fixture). */
const secretOf = (stream: string, revision: number) => `PII-${stream}-r${revision}-4111111111111111`

/** Runs one child on `dir` until it reports `shreds` resolved shreds, then SIGKILLs it at once. */
async function shredAndKill(
  dir: string,
  key: Buffer,
  mode: 'once' | 'storm',
  run: number,
  shreds: number,
  into: Reported,
) {
  requireBuilt(new URL('../dist/index.js', import.meta.url))
  const child = startNode(STORM, [dir, key.toString('hex'), String(SEED + run), String(STREAMS), mode])
  const closed = new Promise((resolve) => child.once('close', resolve))
  into.shredding.clear()
  onLines(child, (line) => {
    const [kind, stream, revision, position] = line.split(' ')
    if (kind === 'ack') {
      const revisions = into.acked.get(stream!) ?? new Map<number, number>()
      into.acked.set(stream!, revisions.set(Number(revision), Number(position)))
    } else if (kind === 'shredding') into.shredding.add(stream!)
    else if (kind === 'shredded') into.shredded.add(stream!)
  })
  try {
    await waitForLine(child, (line) => line === 'ready')
    let left = shreds
    await waitForLine(child, (line) => line.startsWith('shredded ') && --left <= 0)
  } finally {
    child.kill('SIGKILL')
    await exited(child)
    await closed
  }
}

/** Reopens the store and checks it against what the children reported. */
async function checkAfterKill(dir: string, key: Buffer, reported: Reported): Promise<void> {
  const store = await openStore(dir, { encryption: { keyring: localKeyring([{ id: 'm1', key }]) } })
  try {
    for (let s = 0; s < STREAMS; s++) {
      const stream = `s-${s}`
      const events = await collect(store.readStream(stream))
      expect(events.map((e) => e.revision)).toEqual(events.map((_, i) => i + 1))
      const acked = reported.acked.get(stream) ?? new Map<number, number>()
      for (const [revision, position] of acked) {
        expect(events[revision - 1]?.position, `${stream}@${revision}`).toBe(position)
      }
      const erased = events.filter((e) => e.shredded === true)
      if (reported.shredded.has(stream)) {
        // A shred that resolved is never undone, and covers every event, acknowledged or not.
        expect(erased.length, stream).toBe(events.length)
        expect(events.every((e) => e.data === undefined)).toBe(true)
        if (events.length > 0) {
          await expect(store.appendToStream(stream, [{ type: 'x', data: {} }])).rejects.toMatchObject({
            code: 'STREAM_SHREDDED',
          })
        }
      } else if (reported.shredding.has(stream)) {
        // Killed during its shred: the key store was replaced whole, or not at all.
        expect([0, events.length], stream).toContain(erased.length)
      } else {
        expect(erased, stream).toEqual([])
        for (const e of events)
          expect((e.data as { secret: string }).secret).toBe(secretOf(stream, e.revision))
      }
    }
  } finally {
    await store.close()
  }
  const secrets = [...reported.acked].flatMap(([stream, revisions]) =>
    [...revisions.keys()].map((r) => secretOf(stream, r)),
  )
  expect(secrets.length).toBeGreaterThan(0)
  const files = allFiles(dir)
  for (const t of secrets)
    for (const f of files) expect(f.bytes.includes(Buffer.from(t)), `${t} in ${f.name}`).toBe(false)
}

describe('an encrypted event store across SIGKILLs', () => {
  it('killed right after shredStream resolved: the data never comes back, every acknowledged event of the other streams is there', async () => {
    const dir = tempDir()
    const key = randomBytes(32)
    const reported: Reported = { acked: new Map(), shredded: new Set(), shredding: new Set() }
    await shredAndKill(dir, key, 'once', 0, 1, reported)
    expect(reported.shredded).toEqual(new Set(['s-0']))
    expect([...reported.acked.values()].reduce((n, m) => n + m.size, 0)).toBeGreaterThanOrEqual(200)
    await checkAfterKill(dir, key, reported)
  }, 60_000)

  it(
    `killed during an append storm, right after a shred resolved (${KILLS} kills, seed ${SEED})`,
    async () => {
      const dir = tempDir()
      const key = randomBytes(32)
      const rnd = seededRandom(SEED)
      const reported: Reported = { acked: new Map(), shredded: new Set(), shredding: new Set() }
      for (let run = 0; run < KILLS; run++) {
        await shredAndKill(dir, key, 'storm', run, 1 + Math.floor(rnd() * 4), reported)
        await checkAfterKill(dir, key, reported)
      }
      expect(reported.shredded.size).toBeGreaterThan(0)
    },
    60_000 + KILLS * 5_000,
  )
})
