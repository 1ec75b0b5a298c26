/**
 * `s3Archive` against a real S3-compatible server (s3rver in a child process, see s3-server.ts) through
 * the real `@aws-sdk/client-s3`: every sealed segment lands as an object byte-identical to the file;
 * the server stopped mid-upload holds retention back until it is back; a copy changed in the bucket is
 * copied again at the next open; a writer SIGKILLed mid-upload leaves nothing the next open does not
 * finish, and no segment twice. `list` and `get`, the reading side: only segment objects under the prefix,
 * across pages; the stored bytes and the SHA-256 recorded at upload; a missing name; the server down.
 */
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  GetObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandInput,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
} from '@aws-sdk/client-s3'
import { Wal } from '@waltz/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { exited, onLines, requireBuilt, startNode } from '../../../test-support/child-process.js'
import { payloadFor } from '../../../test-support/payload.mjs'
import { rejection } from '../../../test-support/rejection.js'
import { tempDir } from '../../../test-support/temp-dir.js'
import { s3Archive } from '../src/index.js'
import { BUCKET, clientFor, type S3Server, startS3 } from './s3-server.js'

const here = dirname(fileURLToPath(import.meta.url))
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

/** The segment files of `dir`, oldest first. */
function segments(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => n.endsWith('.wal'))
    .sort()
    .map((n) => join(dir, n))
}

/** The object keys under `prefix`. */
async function keys(prefix: string): Promise<string[]> {
  const out: string[] = []
  let token: string | undefined
  do {
    const page = await s3.client.send(
      new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix, ContinuationToken: token }),
    )
    for (const o of page.Contents ?? []) out.push(o.Key!)
    token = page.NextContinuationToken
  } while (token)
  return out.sort()
}

/** Every sealed segment of `dir` is an object under `prefix`, byte-identical; returns how many. */
async function expectInBucket(dir: string, prefix: string): Promise<number> {
  const sealed = segments(dir).slice(0, -1)
  for (const path of sealed) {
    const got = await s3.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: prefix + basename(path) }))
    const bytes = Buffer.from(await got.Body!.transformToByteArray())
    expect(bytes.equals(readFileSync(path)), basename(path)).toBe(true)
  }
  return sealed.length
}

async function fill(wal: Wal, from: number, to: number): Promise<void> {
  for (let i = from; i <= to; i++) await wal.append({ type: 'r', data: payloadFor(i, 300) })
}

describe('s3Archive', () => {
  it('uploads every sealed segment, verified, as an object byte-identical to the file', async () => {
    const dir = tempDir()
    const prefix = 'one/'
    const wal = await Wal.open({
      dir,
      segmentSize: 8 * 1024,
      archive: s3Archive({ client: s3.client, bucket: BUCKET, prefix }),
    })
    await fill(wal, 1, 300)
    await until(() => wal.metrics().archive.pending === 0)
    expect(wal.metrics().archive.failures).toBe(0)
    const sealed = await expectInBucket(dir, prefix)
    expect(sealed).toBeGreaterThan(8)
    expect(await keys(prefix)).toEqual(
      segments(dir)
        .slice(0, -1)
        .map((p) => prefix + basename(p)),
    )
    await wal.close()
  })

  it('the server stopped during uploads: retried, nothing removed locally until archived', async () => {
    const dir = tempDir()
    const prefix = 'down/'
    const wal = await Wal.open({
      dir,
      segmentSize: 8 * 1024,
      archive: s3Archive({ client: s3.client, bucket: BUCKET, prefix }),
      retention: { maxBytes: 16 * 1024, intervalMs: 20 },
    })
    await s3.stop()
    try {
      await fill(wal, 1, 300)
      await until(() => wal.metrics().archive.failures > 0)
      await sleep(200)
      expect(wal.firstSeq).toBe(1)
      expect(wal.metrics().retention.segmentsRemoved).toBe(0)
    } finally {
      await s3.start()
    }
    await until(() => wal.metrics().archive.pending === 0 && wal.firstSeq > 1)
    expect(wal.metrics().archive.pending).toBe(0)
    // Removed locally once archived: every seq below the first kept one is in the bucket.
    expect(wal.firstSeq).toBeGreaterThan(200)
    expect((await keys(prefix)).length).toBeGreaterThan(10)
    await wal.close()
  }, 60_000)

  it('a copy changed in the bucket is copied again at the next open, only that one', async () => {
    const dir = tempDir()
    const prefix = 'changed/'
    const archive = s3Archive({ client: s3.client, bucket: BUCKET, prefix })
    let wal = await Wal.open({ dir, segmentSize: 8 * 1024, archive })
    await fill(wal, 1, 200)
    await until(() => wal.metrics().archive.pending === 0)
    await wal.close()
    // Another writer puts other bytes under one segment's key, keeping waltz's metadata.
    const victim = prefix + basename(segments(dir)[2]!)
    const original = await s3.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: victim }))
    await original.Body!.transformToByteArray()
    await s3.client.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: victim,
        Body: Buffer.from('garbage'),
        Metadata: original.Metadata,
      }),
    )
    wal = await Wal.open({ dir, segmentSize: 8 * 1024, archive })
    await until(() => wal.metrics().archive.pending === 0)
    expect(wal.metrics().archive.uploadedBytes).toBe(readFileSync(segments(dir)[2]!).length)
    await expectInBucket(dir, prefix)
    await wal.close()
  })

  it('SIGKILLed mid-upload: the next open finishes the archive, each segment once, byte-identical', async () => {
    requireBuilt(join(here, '../dist/index.js'))
    const dir = tempDir()
    const prefix = 'p/'
    for (let round = 0; round < 3; round++) {
      const child = startNode(join(here, 'fixtures/archiver.mjs'), [dir, String(s3.port), BUCKET])
      await new Promise<void>((resolve, reject) => {
        child.once('exit', (code) => reject(new Error(`archiver exited early with ${code}`)))
        onLines(child, (line) => {
          if (line === 'ready') setTimeout(resolve, 300 + round * 100)
        })
      })
      child.removeAllListeners('exit')
      child.kill('SIGKILL')
      await exited(child)
    }
    const wal = await Wal.open({
      dir,
      segmentSize: 32 * 1024,
      archive: s3Archive({ client: s3.client, bucket: BUCKET, prefix }),
    })
    await until(() => wal.metrics().archive.pending === 0)
    const sealed = await expectInBucket(dir, prefix)
    expect(sealed).toBeGreaterThan(3)
    // Keys are segment names: no segment twice, none missing (the newest is not sealed yet).
    expect(await keys(prefix)).toEqual(
      segments(dir)
        .slice(0, -1)
        .map((p) => prefix + basename(p)),
    )
    await wal.close()
  }, 90_000)

  it('refuses options that are not a client and a bucket', () => {
    expect(() => s3Archive({ client: {} as never, bucket: BUCKET })).toThrow(TypeError)
    expect(() => s3Archive({ client: s3.client, bucket: '' })).toThrow(TypeError)
  })
})

/**
 * A client of the same server whose `ListObjectsV2` requests ask for pages of `maxKeys` objects (S3
 * pages at 1000, too many objects for a test): the server pages for real, and `pages` counts the
 * responses and how many of them said `IsTruncated`.
 */
function pagingClient(maxKeys: number) {
  const client = clientFor(s3.port)
  const pages = { requests: 0, truncated: 0 }
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName !== 'ListObjectsV2Command') return next(args)
      ;(args.input as ListObjectsV2CommandInput).MaxKeys = maxKeys
      const result = await next(args)
      pages.requests++
      if ((result.output as ListObjectsV2CommandOutput).IsTruncated) pages.truncated++
      return result
    },
    { step: 'initialize', name: 'testPageSize' },
  )
  return { client, pages }
}

/** Reads a download's body to its end. */
async function bytesOf(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of body) chunks.push(Buffer.from(chunk))
  return Buffer.concat(chunks)
}

describe('s3Archive list and get', () => {
  const never = new AbortController().signal
  /** A WAL archived under `prefix`, closed: its sealed segment files, oldest first. */
  async function archivedLog(prefix: string): Promise<string[]> {
    const dir = tempDir()
    const wal = await Wal.open({
      dir,
      segmentSize: 8 * 1024,
      archive: s3Archive({ client: s3.client, bucket: BUCKET, prefix }),
    })
    await fill(wal, 1, 120)
    await until(() => wal.metrics().archive.pending === 0)
    expect(wal.metrics().archive.pending).toBe(0)
    await wal.close()
    return segments(dir).slice(0, -1)
  }
  const put = (Key: string, body: string) =>
    s3.client.send(new PutObjectCommand({ Bucket: BUCKET, Key, Body: Buffer.from(body) }))

  it('list: every segment under the prefix with its size; other objects and other prefixes left out', async () => {
    const sealed = await archivedLog('lst/')
    expect(sealed.length).toBeGreaterThan(3)
    // Objects that are not segments of this archive: under the prefix, in a "subdirectory", under a
    // prefix that starts the same, under another prefix.
    await put('lst/notes.txt', 'x')
    await put('lst/00000000000000000001.wal.tmp', 'x')
    await put('lst/sub/00000000000000000001.wal', 'x')
    await put('lst-other/00000000000000000001.wal', 'x')
    await put('other/00000000000000000001.wal', 'x')
    const listed = await s3Archive({ client: s3.client, bucket: BUCKET, prefix: 'lst/' }).list(never)
    const expected = sealed.map((path) => ({ name: basename(path), size: readFileSync(path).length }))
    expect([...listed].sort((a, b) => a.name.localeCompare(b.name))).toEqual(expected)
  })

  it('list follows IsTruncated through every page the server returns', async () => {
    const sealed = await archivedLog('paged/')
    await put('paged/notes.txt', 'x')
    const { client, pages } = pagingClient(2)
    const listed = await s3Archive({ client, bucket: BUCKET, prefix: 'paged/' }).list(never)
    expect(listed.map((e) => e.name).sort()).toEqual(sealed.map((p) => basename(p)))
    // sealed.length + 1 objects in pages of 2: every page but the last said it was truncated.
    const objects = sealed.length + 1
    expect(pages.requests).toBe(Math.ceil(objects / 2))
    expect(pages.truncated).toBe(pages.requests - 1)
    expect(pages.requests).toBeGreaterThan(2)
  })

  it('list of a prefix holding nothing is empty', async () => {
    expect(await s3Archive({ client: s3.client, bucket: BUCKET, prefix: 'empty/' }).list(never)).toEqual([])
  })

  it('get streams the stored bytes, with their size and the SHA-256 recorded at upload', async () => {
    const sealed = await archivedLog('get/')
    const archive = s3Archive({ client: s3.client, bucket: BUCKET, prefix: 'get/' })
    for (const path of sealed) {
      const file = readFileSync(path)
      const download = await archive.get(basename(path), never)
      expect(download, basename(path)).toBeDefined()
      expect(download!.size).toBe(file.length)
      expect(download!.sha256).toBe(createHash('sha256').update(file).digest('hex'))
      expect((await bytesOf(download!.body)).equals(file), basename(path)).toBe(true)
    }
  })

  it('get of an object without waltz metadata has no SHA-256; of a name not held, undefined', async () => {
    await put('foreign/00000000000000000001.wal', 'not written by waltz')
    const archive = s3Archive({ client: s3.client, bucket: BUCKET, prefix: 'foreign/' })
    const download = await archive.get('00000000000000000001.wal', never)
    expect(download?.sha256).toBeUndefined()
    expect((await bytesOf(download!.body)).toString()).toBe('not written by waltz')
    expect(await archive.get('00000000000000000002.wal', never)).toBeUndefined()
  })

  it('list and get reject while the server is down, and work again once it is back', async () => {
    const sealed = await archivedLog('down-read/')
    const archive = s3Archive({ client: s3.client, bucket: BUCKET, prefix: 'down-read/' })
    const name = basename(sealed[0]!)
    await s3.stop()
    try {
      expect(await rejection(archive.get(name, never))).toBeInstanceOf(Error)
      expect(await rejection(archive.list(never))).toBeInstanceOf(Error)
    } finally {
      await s3.start()
    }
    const download = await archive.get(name, never)
    expect((await bytesOf(download!.body)).equals(readFileSync(sealed[0]!))).toBe(true)
  }, 60_000)
})
