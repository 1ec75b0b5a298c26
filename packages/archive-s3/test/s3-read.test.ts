/**
 * Reads through `s3Archive` against a real S3-compatible server (s3rver, see s3-server.ts): with most
 * segments only in the bucket, `replayFrom(0)` returns every record in order; an object damaged in the
 * bucket fails its recorded SHA-256 (`WAL_CORRUPT` naming it) before any of its records is delivered;
 * the server down is `WAL_ARCHIVE`, and the same read succeeds once it is back.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Wal, type WalRecord } from '@waltz/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { payloadFor } from '../../../test-support/payload.mjs'
import { tempDir } from '../../../test-support/temp-dir.js'
import { s3Archive } from '../src/index.js'
import { BUCKET, type S3Server, startS3 } from './s3-server.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
async function until(done: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms
  while (!done() && Date.now() < end) await sleep(10)
}

let s3: S3Server
beforeAll(async () => {
  s3 = await startS3()
}, 30_000)
afterAll(async () => {
  await s3?.stop()
})

const RECORDS = 1_500
const SEGMENT_SIZE = 16 * 1024

/** A log whose sealed segments are in the bucket under `prefix`, all but the newest two removed locally. */
async function bucketLog(prefix: string) {
  const dir = tempDir()
  const archive = s3Archive({ client: s3.client, bucket: BUCKET, prefix })
  const wal = await Wal.open({
    dir,
    segmentSize: SEGMENT_SIZE,
    archive,
    retention: { maxBytes: 2 * SEGMENT_SIZE },
    archiveCache: { dir: tempDir() },
  })
  for (let i = 1; i <= RECORDS; i += 10) {
    await wal.appendBatch(Array.from({ length: 10 }, (_, j) => ({ type: 'r', data: payloadFor(i + j, 100) })))
  }
  await until(() => wal.metrics().archive.pending === 0 && wal.metrics().segments <= 3)
  expect(wal.metrics().segments).toBeLessThanOrEqual(3)
  expect(wal.firstSeq).toBeGreaterThan(RECORDS * 0.8)
  return { dir, wal }
}

function expectInOrder(records: WalRecord[], count: number): void {
  expect(records.length).toBe(count)
  records.forEach((r, i) => {
    expect(r.seq).toBe(i + 1)
    expect(Buffer.from(r.data as Uint8Array).equals(Buffer.from(payloadFor(i + 1, 100)))).toBe(true)
  })
}

/** The file s3rver keeps an object's bytes in. */
function objectFile(key: string): string {
  const dir = join(s3.dataDir, BUCKET, ...key.split('/').slice(0, -1))
  const name = readdirSync(dir).find((n) => n.startsWith(key.split('/').at(-1)!) && n.endsWith('_object'))
  if (name === undefined) throw new Error(`no stored object for ${key} in ${dir}`)
  return join(dir, name)
}

describe('reads through s3Archive', () => {
  it('replayFrom(0) returns every record in order with 80% of the log only in the bucket', async () => {
    const { wal } = await bucketLog('read-all/')
    const seen: WalRecord[] = []
    await wal.replayFrom(0, (r) => void seen.push(r))
    expectInOrder(seen, RECORDS)
    expect(wal.metrics().archive.fetched).toBeGreaterThan(5)
    await wal.close()
  })

  it('an object damaged in the bucket is WAL_CORRUPT naming it, none of its records delivered', async () => {
    const prefix = 'damaged/'
    const { wal } = await bucketLog(prefix)
    const name = '00000000000000000001.wal'
    const file = objectFile(prefix + name)
    const bytes = readFileSync(file)
    bytes[100]! ^= 0x01
    writeFileSync(file, bytes)
    const seen: number[] = []
    const err = await wal.replayFrom(0, (r) => void seen.push(r.seq)).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'WAL_CORRUPT' })
    expect((err as Error).message).toContain(`s3://${BUCKET}/${prefix}${name}`)
    expect((err as Error).message).toContain('SHA-256')
    expect(seen).toEqual([])
    await wal.close()
  })

  it('the server down is WAL_ARCHIVE; the same read succeeds once it is back', async () => {
    const { wal } = await bucketLog('down/')
    await s3.stop()
    try {
      await expect(wal.replayFrom(0, () => {})).rejects.toMatchObject({ code: 'WAL_ARCHIVE' })
    } finally {
      await s3.start()
    }
    const seen: WalRecord[] = []
    await wal.replayFrom(0, (r) => void seen.push(r))
    expectInOrder(seen, RECORDS)
    await wal.close()
  }, 60_000)
})
