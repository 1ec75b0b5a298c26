import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type EncodableRecord, Wal } from '@waltz/core'
import { afterEach, expect } from 'vitest'
import {
  type RestoreOptions,
  type RestoreResult,
  replicaSerializer,
  restoreFromJetStream,
} from '../src/index.js'
import { type Event, eventSerializer } from './fixtures/events.mjs'

export { appendEvents, type Event, eventAt, eventSerializer } from './fixtures/events.mjs'

const dirs: string[] = []
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

/** A fresh temporary directory, removed after the current test. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'waltz-replicate-'))
  dirs.push(dir)
  return dir
}

/** Opens a source WAL with the test serializer. */
export function openSource(dir: string, segmentSize?: number): Promise<Wal<Event>> {
  return Wal.open({ dir, serializer: eventSerializer, ...(segmentSize === undefined ? {} : { segmentSize }) })
}

/** Every stored frame of an open WAL: `[seq, payload]`. */
export async function frames(wal: Wal<EncodableRecord>): Promise<[number, Buffer][]> {
  const out: [number, Buffer][] = []
  const last = wal.lastSeq
  if (last < wal.firstSeq) return out
  const stop = new AbortController()
  for await (const f of wal.tailFrames({ from: wal.firstSeq, signal: stop.signal })) {
    out.push([f.seq, Buffer.from(f.payload)])
    if (f.seq >= last) break
  }
  return out
}

/**
 * Asserts that the replica in `dir` holds exactly the source's records (seqs and bytes), and that it
 * opens with the application's serializer.
 */
export async function expectReplicaEquals(source: Wal<Event>, dir: string): Promise<void> {
  const replica = await Wal.open({ dir, serializer: replicaSerializer(source.serializerName) })
  try {
    const [theirs, ours] = [
      await frames(source as Wal<EncodableRecord>),
      await frames(replica as Wal<EncodableRecord>),
    ]
    expect(ours.length).toBe(theirs.length)
    expect(replica.firstSeq).toBe(source.firstSeq)
    expect(replica.lastSeq).toBe(source.lastSeq)
    for (let i = 0; i < theirs.length; i++) {
      if (ours[i]![0] !== theirs[i]![0] || !ours[i]![1].equals(theirs[i]![1])) {
        expect.fail(`record ${i}: replica seq ${ours[i]![0]} differs from source seq ${theirs[i]![0]}`)
      }
    }
  } finally {
    await replica.close()
  }
  const typed = await Wal.open({ dir, serializer: eventSerializer, readOnly: true })
  try {
    const last = await typed.records({ from: typed.lastSeq }).next()
    if (!last.done) expect(last.value.data.n).toBe(typed.lastSeq)
  } finally {
    await typed.close()
  }
}

/** A restore in follow mode: its progress (the replica's last seq), and `stop()` to abort and await it. */
export function followStream(options: Omit<RestoreOptions, 'follow' | 'signal' | 'onProgress'>): {
  progress: () => number
  signal: AbortSignal
  stop: () => Promise<RestoreResult>
} {
  const abort = new AbortController()
  let progress = 0
  const done = restoreFromJetStream({
    ...options,
    follow: true,
    signal: abort.signal,
    onProgress: (seq) => {
      progress = seq
    },
  })
  done.catch(() => {}) // awaited by stop(); no unhandled rejection if a test fails first
  return {
    progress: () => progress,
    signal: abort.signal,
    stop: () => {
      abort.abort()
      return done
    },
  }
}
