/**
 * An encrypted log archived to S3 (s3rver, through the real `@aws-sdk/client-s3`): the key store is
 * an object `<prefix>keys.wzk` beside the segments, sealed; no object holds a plaintext field or a
 * plaintext data key (every byte of every object scanned); the objects copied back into a directory
 * read with the keyring; a shred replaces the key object at once, and a copy of the bucket taken after
 * it reads the subject as shredded; the key object is not listed as a segment.
 */
import { createDecipheriv, randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3'
import {
  KEY_STORE_FILE,
  type Keyring,
  type KeyStoreEntry,
  localKeyring,
  type MasterKey,
  Wal,
  type WalRecord,
} from '@waltz/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { tempDir } from '../../../test-support/temp-dir.js'
import { s3Archive } from '../src/index.js'
import { BUCKET, type S3Server, startS3 } from './s3-server.js'

const m1: MasterKey = { id: 'm1', key: randomBytes(32) }
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
async function until(done: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms
  while (!done()) {
    if (Date.now() > end) throw new Error('timed out')
    await sleep(10)
  }
}

let s3: S3Server
beforeAll(async () => {
  s3 = await startS3()
}, 30_000)
afterAll(async () => {
  await s3?.stop()
})

/** Every object under `prefix`: key and bytes. */
async function objects(prefix: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>()
  const page = await s3.client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }))
  for (const o of page.Contents ?? []) {
    const got = await s3.client.send(new GetObjectCommand({ Bucket: BUCKET, Key: o.Key! }))
    out.set(o.Key!.slice(prefix.length), Buffer.from(await got.Body!.transformToByteArray()))
  }
  return out
}

/** The plaintext data keys of a key store, opened with the keyring as only the log's owner can. */
async function plainDataKeys(entries: readonly KeyStoreEntry[], keyring: Keyring): Promise<Buffer[]> {
  const header = entries[0]
  if (header?.kind !== 'header') throw new Error('no header')
  const kek = Buffer.from(await keyring.unwrap(header.wrappedKek, header.masterKeyId))
  return entries.flatMap((e) => {
    if (e.kind !== 'key') return []
    const w = Buffer.from(e.wrapped)
    const d = createDecipheriv('aes-256-gcm', kek, w.subarray(0, 12))
    d.setAAD(Buffer.from(e.keyId))
    d.setAuthTag(w.subarray(44))
    return [Buffer.concat([d.update(w.subarray(12, 44)), d.final()])]
  })
}

/** The bucket's objects written into a fresh directory, read with the keyring: key and data (or `shredded`). */
async function readCopy(files: Map<string, Buffer>): Promise<[string, string][]> {
  const dir = tempDir()
  for (const [name, bytes] of files) writeFileSync(join(dir, name), bytes)
  const reader = await Wal.openReader({ dir, encryption: { keyring: localKeyring([m1]) } })
  const out: [string, string][] = []
  for await (const r of reader.records()) out.push(row(r))
  await reader.close()
  return out
}

function row(r: WalRecord): [string, string] {
  return [r.key!, r.shredded ? 'shredded' : Buffer.from(r.data as Uint8Array).toString()]
}

describe('an encrypted log archived to S3', () => {
  it('the bucket holds ciphertext and sealed keys only; a copy reads with the keyring; a shred replaces the key object', async () => {
    const prefix = 'enc/'
    const archive = s3Archive({ client: s3.client, bucket: BUCKET, prefix })
    const dir = tempDir()
    const wal = await Wal.open({
      dir,
      segmentSize: 4096,
      encryption: { keyring: localKeyring([m1]) },
      archive,
    })
    for (let i = 0; i < 300; i++)
      await wal.append({
        type: 'said',
        key: `subject-${i % 6}`,
        data: Buffer.from(`PII-${i}-dora@s3.example`),
      })
    const archived = () => wal.metrics().archive.pending === 0 && !wal.metrics().archive.keyStorePending
    await until(archived)

    const files = await objects(prefix)
    expect(files.has(KEY_STORE_FILE)).toBe(true)
    expect([...files.keys()].filter((k) => k.endsWith('.wal')).length).toBeGreaterThan(5)
    expect((await archive.list(AbortSignal.timeout(5000))).map((e) => e.name)).not.toContain(KEY_STORE_FILE)
    const head = await s3.client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: prefix + KEY_STORE_FILE }))
    expect(head.Metadata?.['waltz-sha256']).toMatch(/^[0-9a-f]{64}$/)
    const entries = (await wal.keyStore())!.entries
    const dataKeys = await plainDataKeys(entries, localKeyring([m1]))
    expect(dataKeys).toHaveLength(6)
    for (const [name, bytes] of files) {
      expect(bytes.includes(Buffer.from('s3.example')), name).toBe(false)
      for (const key of dataKeys) expect(bytes.includes(key), `${name}: a plaintext data key`).toBe(false)
    }
    const copy = await readCopy(files)
    expect(copy.length).toBeGreaterThan(200)
    const source: [string, string][] = []
    for await (const r of wal.records()) source.push(row(r))
    expect(copy).toEqual(source.slice(0, copy.length))

    const sealed = entries.find((e) => e.kind === 'key' && e.keyId === 'subject-4')
    if (sealed?.kind !== 'key') throw new Error('no key')
    await wal.shred('subject-4')
    await until(archived)
    expect(wal.metrics().archive.keyStoreUploads).toBeGreaterThan(1)
    const after = await objects(prefix)
    expect(after.get(KEY_STORE_FILE)!.includes(Buffer.from(sealed.wrapped))).toBe(false)
    const shredded = await readCopy(after)
    expect(shredded).toEqual(copy.map(([k, d]): [string, string] => [k, k === 'subject-4' ? 'shredded' : d]))
    await wal.close()
  })
})
