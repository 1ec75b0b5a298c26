/**
 * `waltz archive verify | fetch` on an encrypted log's archive (a directory, and S3 on s3rver): the key
 * store is checked (recorded SHA-256, every entry) and every encrypted record's key is found in it (a
 * missing or foreign key store is KEYS-MISSING); fetch restores it beside the segments, so the keyring
 * reads the fetched directory; after a shred, a fetch reads the subject as shredded, also into a
 * directory fetched before the shred (its key store is merged: the shredded key leaves it); a foreign
 * key store in the way is EXISTS.
 */
import { randomBytes } from 'node:crypto'
import { copyFileSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { s3Archive } from '@waltz/archive-s3'
import {
  type Archive,
  directoryArchive,
  KEY_STORE_FILE,
  type KeyStoreEntry,
  localKeyring,
  type MasterKey,
  Wal,
  type WalRecord,
} from '@waltz/core'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { tempDir } from '../../../test-support/temp-dir.js'
import { BUCKET, type S3Server, startS3 } from '../../archive-s3/test/s3-server.js'
import { waltz } from './helpers.js'

const m1: MasterKey = { id: 'm1', key: randomBytes(32) }
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const linesStarting = (text: string, prefix: string) => text.split('\n').filter((l) => l.startsWith(prefix))

/** An encrypted log in segments of about 4 KiB, archived to `archive`; left open (shred it, then wait). */
async function encryptedLog(archive: Archive, subject = 'subject') {
  const dir = tempDir()
  const wal = await Wal.open({ dir, segmentSize: 4096, encryption: { keyring: localKeyring([m1]) }, archive })
  for (let i = 1; i <= 200; i++)
    await wal.append({
      type: 'said',
      key: `${subject}-${i % 5}`,
      data: Buffer.from(`PII-${i}-erin@cli.example`),
    })
  await archived(wal)
  return { dir, wal }
}

async function archived(wal: Wal): Promise<void> {
  const end = Date.now() + 20_000
  while (wal.metrics().archive.pending > 0 || wal.metrics().archive.keyStorePending) {
    if (Date.now() > end) throw new Error('not archived')
    await sleep(10)
  }
}

/** What the keyring reads in `dir`: key and data, or `shredded`. */
async function readWith(dir: string): Promise<[string, string][]> {
  const reader = await Wal.openReader({ dir, encryption: { keyring: localKeyring([m1]) } })
  const out: [string, string][] = []
  for await (const r of reader.records()) out.push(row(r))
  await reader.close()
  return out
}

function row(r: WalRecord): [string, string] {
  return [r.key!, r.shredded ? 'shredded' : Buffer.from(r.data as Uint8Array).toString()]
}

function sealedKey(entries: readonly KeyStoreEntry[], keyId: string): Buffer {
  const e = entries.find((x) => x.kind === 'key' && x.keyId === keyId)
  if (e?.kind !== 'key') throw new Error(`no key ${keyId}`)
  return Buffer.from(e.wrapped)
}

describe('waltz archive on an encrypted log (directory)', () => {
  it('verify checks the key store; fetch restores it, and after a shred the subject reads as shredded', async () => {
    const archiveDir = tempDir()
    const { wal } = await encryptedLog(directoryArchive(archiveDir))
    const verify = await waltz('archive', 'verify', '--archive', archiveDir)
    expect(verify.code).toBe(0)
    expect(linesStarting(verify.stdout, 'ok       keys.wzk')).toEqual([
      'ok       keys.wzk  (5 keys, 0 shredded, master key m1)',
    ])
    expect(verify.stdout).toMatch(/^OK: \d+ segment\(s\) and keys\.wzk, seq 1\.\.\d+, /m)
    const json = JSON.parse((await waltz('archive', 'verify', '--archive', archiveDir, '--json')).stdout)
    expect(json.keyStore).toMatchObject({
      name: 'keys.wzk',
      keys: 5,
      shredded: 0,
      masterKeyId: 'm1',
      ok: true,
    })

    const out = tempDir()
    const fetch = await waltz('archive', 'fetch', '1..', '--archive', archiveDir, '--out', out)
    expect(fetch.code).toBe(0)
    expect(linesStarting(fetch.stdout, 'fetched  keys.wzk')).toEqual([
      'fetched  keys.wzk  (5 keys, 0 shredded)',
    ])
    const source: [string, string][] = []
    for await (const r of wal.records()) source.push(row(r))
    const fetched = await readWith(out)
    expect(fetched.length).toBeGreaterThan(100)
    expect(fetched).toEqual(source.slice(0, fetched.length))
    for (const name of readdirSync(out)) {
      expect(readFileSync(join(out, name)).includes(Buffer.from('cli.example')), name).toBe(false)
    }

    const sealed = sealedKey((await wal.keyStore())!.entries, 'subject-3')
    await wal.shred('subject-3')
    await archived(wal)
    const shredded = fetched.map(([k, d]): [string, string] => [k, k === 'subject-3' ? 'shredded' : d])
    // Into a fresh directory, and into the one fetched before the shred (its key store is merged).
    const fresh = tempDir()
    expect((await waltz('archive', 'fetch', '1..', '--archive', archiveDir, '--out', fresh)).code).toBe(0)
    expect(await readWith(fresh)).toEqual(shredded)
    const again = await waltz('archive', 'fetch', '1..', '--archive', archiveDir, '--out', out)
    expect(again.code).toBe(0)
    expect(linesStarting(again.stdout, 'merged   keys.wzk')).toHaveLength(1)
    expect(await readWith(out)).toEqual(shredded)
    for (const dir of [archiveDir, fresh, out]) {
      expect(readFileSync(join(dir, KEY_STORE_FILE)).includes(sealed), dir).toBe(false)
    }
    await wal.close()
  })

  it('verify: a damaged, missing or foreign key store is named, exit 1; fetch does not merge a foreign one', async () => {
    const archiveDir = tempDir()
    const { wal } = await encryptedLog(directoryArchive(archiveDir))
    await wal.close()
    const path = join(archiveDir, KEY_STORE_FILE)
    const original = readFileSync(path)

    const damaged = Buffer.from(original)
    damaged[40]! ^= 0xff
    writeFileSync(path, damaged)
    const corrupt = await waltz('archive', 'verify', '--archive', archiveDir)
    expect(corrupt.code).toBe(1)
    expect(linesStarting(corrupt.stdout, 'CORRUPT  keys.wzk offset')).toHaveLength(1)

    // Another log's key store: the records' keys are not in it.
    const otherArchive = tempDir()
    const other = await encryptedLog(directoryArchive(otherArchive), 'customer')
    await other.wal.close()
    copyFileSync(join(otherArchive, KEY_STORE_FILE), path)
    const foreign = await waltz('archive', 'verify', '--archive', archiveDir)
    expect(foreign.code).toBe(1)
    const missing = linesStarting(foreign.stdout, 'KEYS-MISSING')
    expect(missing.length).toBeGreaterThan(3)
    expect(missing[0]).toMatch(
      /^KEYS-MISSING 0+1\.wal: seq 1 is sealed with key 'subject-1', which the archived keys\.wzk does not hold/,
    )

    rmSync(path)
    const none = await waltz('archive', 'verify', '--archive', archiveDir, '--json')
    expect(none.code).toBe(1)
    const json = JSON.parse(none.stdout)
    expect(json.keyStore).toBeNull()
    expect(json.segments[0].problems).toEqual([
      expect.objectContaining({ code: 'keys-missing', reason: expect.stringContaining('no keys.wzk') }),
    ])

    // fetch: the archive's own key store back; into a directory holding another log's (other keys for
    // the same ids), EXISTS.
    writeFileSync(path, original)
    const twinArchive = tempDir()
    const twin = await encryptedLog(directoryArchive(twinArchive))
    await twin.wal.close()
    const out = tempDir()
    copyFileSync(join(twinArchive, KEY_STORE_FILE), join(out, KEY_STORE_FILE))
    const exists = await waltz('archive', 'fetch', '1..', '--archive', archiveDir, '--out', out)
    expect(exists.code).toBe(1)
    expect(linesStarting(exists.stdout, 'EXISTS   keys.wzk')).toEqual([
      expect.stringContaining('two keys for the id'),
    ])
    expect(
      readFileSync(join(out, KEY_STORE_FILE)).equals(readFileSync(join(twinArchive, KEY_STORE_FILE))),
    ).toBe(true)
  })
})

describe('waltz archive on an encrypted log (S3, s3rver)', () => {
  let s3: S3Server
  beforeAll(async () => {
    s3 = await startS3()
  }, 30_000)
  afterAll(async () => {
    await s3?.stop()
  })
  afterEach(() => {
    vi.unstubAllEnvs()
  })
  const s3Args = () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'S3RVER')
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'S3RVER')
    vi.stubEnv('AWS_PROFILE', undefined)
    return ['--endpoint', `http://127.0.0.1:${s3.port}`, '--path-style']
  }

  it('verify with the recorded SHA-256; fetch after a shred reads the subject as shredded', async () => {
    const prefix = 'cli-keys/'
    const location = `s3://${BUCKET}/${prefix}`
    const { wal } = await encryptedLog(s3Archive({ client: s3.client, bucket: BUCKET, prefix }))
    const verify = await waltz('archive', 'verify', '--archive', location, ...s3Args())
    expect(verify.code).toBe(0)
    expect(linesStarting(verify.stdout, 'ok       keys.wzk')).toEqual([
      'ok       keys.wzk  (5 keys, 0 shredded, master key m1, SHA-256 as recorded)',
    ])
    await wal.shred('subject-2')
    await archived(wal)
    const out = tempDir()
    const fetch = await waltz('archive', 'fetch', '1..', '--archive', location, '--out', out, ...s3Args())
    expect(fetch.code).toBe(0)
    expect(linesStarting(fetch.stdout, 'fetched  keys.wzk')).toEqual([
      'fetched  keys.wzk  (4 keys, 1 shredded)',
    ])
    const rows = await readWith(out)
    expect(rows.length).toBeGreaterThan(100)
    for (const [key, data] of rows) expect(data === 'shredded', `${key}: ${data}`).toBe(key === 'subject-2')
    await wal.close()
  })
})
