/**
 * Workload 8: archive throughput (tiered storage). `archive-prepare` writes a log with a real `Wal`
 * until it has N sealed segments of `segmentMiB`; `archive-throughput` copies them with `Archive.put`
 * to one archive (`directoryArchive`, or `s3Archive` on s3rver in a child process, on loopback), one at
 * a time and oldest first as the WAL's uploader does, then reads each back with `Archive.get`, streamed
 * to a file with its SHA-256 checked, and finally replays the whole log with `replayFrom(0)` through a
 * `WalReader` whose directory holds only the newest segment (every sealed one is read from the archive,
 * through the reader's cache), against a replay of the same log from local disk. After a warm-up pass
 * of two segments, `passes` timed passes, each into a fresh prefix or directory; the median pass is
 * reported.
 */
import { createHash } from 'node:crypto'
import {
  copyFileSync,
  createWriteStream,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
} from 'node:fs'
import { basename, join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { s3Archive } from '@waltz/archive-s3'
import { type Archive, type ArchivedSegment, directoryArchive, Wal } from '@waltz/core'
import { type Metrics, median, num, type Params, payloadPool, str } from './common.js'
import { startS3rver } from './s3rver.js'

const MiB = 1 << 20
const LOG = 'log'

async function archivePrepare(dir: string, p: Params): Promise<Metrics> {
  const segments = num(p, 'segments')
  const segmentSize = num(p, 'segmentMiB') * MiB
  const pool = payloadPool(1024)
  const wal = await Wal.open({ dir: join(dir, LOG), sync: 'background', segmentSize })
  const started = performance.now()
  let n = 0
  // Until `segments` are sealed (the newest, still open, is not archived). Batches of 64 KiB: a
  // segment is sealed when the next batch does not fit, so it ends within a batch of `segmentSize`.
  while (wal.metrics().segments <= segments) {
    const batch = []
    for (let i = 0; i < 64; i++, n++) batch.push({ type: 'e', data: pool[n & 1023]! })
    await wal.appendBatch(batch)
  }
  await wal.close()
  return { records: n, ms: performance.now() - started }
}

/** The first `count` sealed segments of the log, with the name, size and SHA-256 `put` takes. */
function sealedSegments(logDir: string, count: number): { path: string; segment: ArchivedSegment }[] {
  const names = readdirSync(logDir)
    .filter((n) => n.endsWith('.wal'))
    .sort()
    .slice(0, -1)
  if (names.length < count) throw new Error(`the log has ${names.length} sealed segments, not ${count}`)
  return names.slice(0, count).map((name) => {
    const path = join(logDir, name)
    const bytes = readFileSync(path)
    const sha256 = createHash('sha256').update(bytes).digest('hex')
    return { path, segment: { name, size: bytes.length, sha256 } }
  })
}

/**
 * Puts every segment, then gets every one back into `outDir` (hashing as it streams, checked against the
 * SHA-256 the archive recorded, or the known one when it records none).
 */
async function pass(
  archive: Archive,
  segments: readonly { path: string; segment: ArchivedSegment }[],
  outDir: string,
): Promise<{ putMs: number; getMs: number }> {
  const signal = new AbortController().signal
  mkdirSync(outDir, { recursive: true })
  const putStarted = performance.now()
  for (const { path, segment } of segments) await archive.put(segment, path, signal)
  const putMs = performance.now() - putStarted
  const getStarted = performance.now()
  for (const { segment } of segments) {
    const download = await archive.get(segment.name, signal)
    if (download === undefined) throw new Error(`${archive.name} lost ${segment.name}`)
    const hash = createHash('sha256')
    await pipeline(
      download.body,
      async function* (source: AsyncIterable<Uint8Array>) {
        for await (const chunk of source) {
          hash.update(chunk)
          yield chunk
        }
      },
      createWriteStream(join(outDir, segment.name)),
    )
    const sha256 = hash.digest('hex')
    if (sha256 !== (download.sha256 ?? segment.sha256)) throw new Error(`${segment.name} came back changed`)
  }
  const getMs = performance.now() - getStarted
  rmSync(outDir, { recursive: true, force: true })
  return { putMs, getMs }
}

/**
 * `replayFrom(0)` of a log whose local directory holds only its newest segment (`newest`), so every
 * sealed segment comes from `archive`; the cache lives under `work`.
 *
 * @returns the time taken and the records replayed
 */
async function replayThroughArchive(archive: Archive, newest: string, work: string) {
  const dir = mkdtempSync(join(work, 'reader-'))
  copyFileSync(newest, join(dir, basename(newest)))
  const reader = await Wal.openReader({ dir, archive, archiveCache: { dir: join(work, 'cache') } })
  const started = performance.now()
  let records = 0
  await reader.replayFrom(0, () => {
    records++
  })
  const ms = performance.now() - started
  const lastSeq = reader.lastSeq
  await reader.close()
  rmSync(dir, { recursive: true, force: true })
  return { ms, records, lastSeq }
}

/** The same records, seqs 1..`to`, read from local disk (the page cache warm). */
async function replayLocal(logDir: string, to: number) {
  const reader = await Wal.openReader({ dir: logDir })
  const started = performance.now()
  let records = 0
  for await (const _ of reader.records({ from: 1, to })) records++
  const ms = performance.now() - started
  await reader.close()
  return { ms, records }
}

async function archiveThroughput(dir: string, p: Params): Promise<Metrics> {
  const system = str(p, 'system')
  const passes = num(p, 'passes')
  const segments = sealedSegments(join(dir, LOG), num(p, 'segments'))
  const bytes = segments.reduce((n, s) => n + s.segment.size, 0)
  // The log directory is shared by the runs: each one works in a directory of its own.
  const work = mkdtempSync(join(dir, 'work-'))
  const server = system === 's3' ? await startS3rver(join(work, 's3'), 'bench') : undefined
  try {
    const archiveFor = (name: string): Archive => {
      if (server === undefined) return directoryArchive(join(work, name))
      return s3Archive({ client: server.client, bucket: server.bucket, prefix: `${name}/` })
    }
    if (server === undefined && system !== 'directory') throw new Error(`unknown archive system ${system}`)
    await pass(archiveFor('warmup'), segments.slice(0, 2), join(work, 'fetched'))
    const logDir = join(dir, LOG)
    const newest = join(
      logDir,
      readdirSync(logDir)
        .filter((n) => n.endsWith('.wal'))
        .sort()[segments.length]!,
    )
    const logBytes = bytes + readFileSync(newest).length
    const put: number[] = []
    const get: number[] = []
    const replay: number[] = []
    const local: number[] = []
    let replayed = 0
    for (let i = 0; i < passes; i++) {
      const archiveName = `pass-${i}`
      const archive = archiveFor(archiveName)
      const { putMs, getMs } = await pass(archive, segments, join(work, 'fetched'))
      // MB/s as everywhere in the bench: 10^6 bytes a second.
      put.push(bytes / putMs / 1000)
      get.push(bytes / getMs / 1000)
      const fromArchive = await replayThroughArchive(archive, newest, work)
      const fromDisk = await replayLocal(logDir, fromArchive.lastSeq)
      if (fromArchive.records !== fromDisk.records) {
        throw new Error(
          `replay through the archive returned ${fromArchive.records} records, not ${fromDisk.records}`,
        )
      }
      replayed = fromDisk.records
      replay.push(logBytes / fromArchive.ms / 1000)
      local.push(logBytes / fromDisk.ms / 1000)
      // A directory archive's copies are not needed again (S3's stay in s3rver's directory, under `work`).
      if (server === undefined) rmSync(join(work, archiveName), { recursive: true, force: true })
    }
    return {
      segments: segments.length,
      bytes,
      passes,
      putMBps: median(put),
      getMBps: median(get),
      records: replayed,
      replayMBps: median(replay),
      localReplayMBps: median(local),
    }
  } finally {
    await server?.stop()
    rmSync(work, { recursive: true, force: true })
  }
}

/** The tasks `worker.ts` runs for this workload. */
export const archiveTasks = { 'archive-prepare': archivePrepare, 'archive-throughput': archiveThroughput }
