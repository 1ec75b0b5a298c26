/**
 * An encrypted log's archive: the key store goes with the segments in its sealed form (no plaintext
 * field, no plaintext data key in any archived byte), so a copy of the archive reads with the
 * keyring; a shred or a master-key rotation replaces the archive's key store at once (the shredded
 * key's sealed bytes leave it), also after a restart that came before the upload; a segment counts as
 * archived only once a key store covering it is.
 */
import { randomBytes } from 'node:crypto'
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { tempDir } from '../../../test-support/temp-dir.js'
import { nodeFiles } from '../src/files.js'
import {
  type Archive,
  directoryArchive,
  KEY_STORE_FILE,
  type KeyStoreEntry,
  localKeyring,
  type MasterKey,
  readKeyStore,
  silentLogger,
  Wal,
  type WalRecord,
} from '../src/index.js'
import { KeyStore } from '../src/key-store.js'

const m1: MasterKey = { id: 'm1', key: randomBytes(32) }
const m2: MasterKey = { id: 'm2', key: randomBytes(32) }
const SUBJECTS = 6
const text = (r: WalRecord) => (r.shredded ? 'shredded' : Buffer.from(r.data as Uint8Array).toString())
const secret = (i: number) => `PII-${i}-carol.h@example.org`

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
async function until(done: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms
  while (!done()) {
    if (Date.now() > end) throw new Error('timed out')
    await sleep(5)
  }
}

async function all(wal: { records(): AsyncIterable<WalRecord> }): Promise<WalRecord[]> {
  const out: WalRecord[] = []
  for await (const r of wal.records()) out.push(r)
  return out
}

function open(dir: string, archive: Archive, keys = [m1]) {
  return Wal.open({ dir, segmentSize: 4096, encryption: { keyring: localKeyring(keys) }, archive })
}

async function fill(wal: Wal, from: number, to: number): Promise<void> {
  for (let i = from; i <= to; i++)
    await wal.append({ type: 'said', key: `subject-${i % SUBJECTS}`, data: Buffer.from(secret(i)) })
}

/** Waits until every sealed segment and the key store are archived. */
async function archived(wal: Wal): Promise<void> {
  await until(() => wal.metrics().archive.pending === 0 && !wal.metrics().archive.keyStorePending)
}

/** The plaintext data keys of the log in `dir` (read with the keyring, as only the log's owner can). */
async function plainDataKeys(dir: string, keys = [m1]): Promise<Buffer[]> {
  const store = await KeyStore.open({
    files: nodeFiles,
    dir,
    keyring: localKeyring(keys),
    readOnly: true,
    fileMode: 0o600,
    logger: silentLogger,
    logHasRecords: true,
  })
  const out = Array.from({ length: SUBJECTS }, (_, k) => Buffer.from(store.dataKey(`subject-${k}`) ?? []))
  await store.close()
  return out.filter((k) => k.length === 32)
}

function sealedKey(entries: readonly KeyStoreEntry[], keyId: string): Buffer {
  const e = entries.find((x) => x.kind === 'key' && x.keyId === keyId)
  if (e?.kind !== 'key') throw new Error(`no key ${keyId}`)
  return Buffer.from(e.wrapped)
}

/** The archive copied into a fresh directory, as `waltz archive fetch` leaves it, read with `keys`. */
async function readCopy(archiveDir: string, keys = [m1]): Promise<WalRecord[]> {
  const dir = tempDir()
  cpSync(archiveDir, dir, { recursive: true })
  const reader = await Wal.openReader({ dir, encryption: { keyring: localKeyring(keys) } })
  try {
    return await all(reader)
  } finally {
    await reader.close()
  }
}

describe('an encrypted log in the archive', () => {
  it('carries ciphertext and sealed keys only; a copy of the archive reads with the keyring', async () => {
    const dir = tempDir()
    const archiveDir = tempDir()
    const wal = await open(dir, directoryArchive(archiveDir))
    await fill(wal, 1, 300)
    await archived(wal)
    expect(wal.metrics().archive.keyStoreUploads).toBeGreaterThan(0)
    const files = readdirSync(archiveDir)
    expect(files).toContain(KEY_STORE_FILE)
    expect(files.filter((f) => f.endsWith('.wal')).length).toBeGreaterThan(5)
    const dataKeys = await plainDataKeys(dir)
    expect(dataKeys).toHaveLength(SUBJECTS)
    for (const name of files) {
      const bytes = readFileSync(join(archiveDir, name))
      expect(bytes.includes(Buffer.from('carol.h@example.org')), name).toBe(false)
      for (const key of dataKeys) expect(bytes.includes(key), `${name}: a plaintext data key`).toBe(false)
    }
    const copy = await readCopy(archiveDir)
    expect(copy.length).toBeGreaterThan(200)
    const source = await all(wal)
    expect(copy.map(text)).toEqual(source.slice(0, copy.length).map(text))
    await wal.close()
  })

  it('a shred and a rotation replace the archived key store at once; a copy reads the subject as shredded', async () => {
    const dir = tempDir()
    const archiveDir = tempDir()
    let wal = await open(dir, directoryArchive(archiveDir))
    await fill(wal, 1, 200)
    await archived(wal)
    const sealed = sealedKey((await wal.keyStore())!.entries, 'subject-2')
    expect(readFileSync(join(archiveDir, KEY_STORE_FILE)).includes(sealed)).toBe(true)
    await wal.shred('subject-2')
    expect(wal.metrics().archive.keyStorePending).toBe(true)
    await archived(wal)
    expect(readFileSync(join(archiveDir, KEY_STORE_FILE)).includes(sealed)).toBe(false)
    const copy = await readCopy(archiveDir)
    expect(copy.length).toBeGreaterThan(100)
    for (const r of copy) expect(r.shredded === true, `seq ${r.seq}`).toBe(r.key === 'subject-2')
    await wal.close()

    wal = await open(dir, directoryArchive(archiveDir), [m2, m1])
    await archived(wal)
    await wal.rotateMasterKey()
    await archived(wal)
    expect((await readKeyStore(archiveDir))!.entries[0]).toMatchObject({ kind: 'header', masterKeyId: 'm2' })
    expect((await readCopy(archiveDir, [m2])).map(text)).toEqual(copy.map(text))
    await wal.close()
  })

  it('a shred the archive missed (down, then a restart) is uploaded at the next open; leftovers go', async () => {
    const dir = tempDir()
    const archiveDir = tempDir()
    let down = false
    // One per process, as a restart makes a new one.
    const flaky = (): Archive => {
      const inner = directoryArchive(archiveDir)
      return {
        name: 'flaky',
        put: async (s, p, signal) => {
          if (down) throw new Error('ECONNREFUSED')
          return inner.put(s, p, signal)
        },
        stat: async (n, signal) => {
          if (down) throw new Error('ECONNREFUSED')
          return inner.stat(n, signal)
        },
        list: (signal) => inner.list(signal),
        get: (n, signal) => inner.get(n, signal),
      }
    }
    let wal = await open(dir, flaky())
    await fill(wal, 1, 100)
    await archived(wal)
    const sealed = sealedKey((await wal.keyStore())!.entries, 'subject-4')
    down = true
    await wal.shred('subject-4')
    await sleep(300)
    expect(wal.metrics().archive.keyStorePending).toBe(true)
    await wal.close()
    expect(readFileSync(join(archiveDir, KEY_STORE_FILE)).includes(sealed)).toBe(true)
    // What a process killed mid-upload leaves: its snapshot beside the store, a temp copy in the archive.
    writeFileSync(join(dir, `${KEY_STORE_FILE}.upload`), readFileSync(join(archiveDir, KEY_STORE_FILE)))
    writeFileSync(
      join(archiveDir, `${KEY_STORE_FILE}.tmp-99999`),
      readFileSync(join(archiveDir, KEY_STORE_FILE)),
    )
    down = false
    wal = await open(dir, flaky())
    expect(existsSync(join(dir, `${KEY_STORE_FILE}.upload`))).toBe(false)
    await archived(wal)
    expect(readFileSync(join(archiveDir, KEY_STORE_FILE)).includes(sealed)).toBe(false)
    expect(readdirSync(archiveDir).filter((f) => f.startsWith(`${KEY_STORE_FILE}.`))).toEqual([])
    expect(readdirSync(dir).filter((f) => f.startsWith(`${KEY_STORE_FILE}.`))).toEqual([])
    await wal.close()
  })

  it('a segment counts as archived only once a key store covering it is', async () => {
    const dir = tempDir()
    const archiveDir = tempDir()
    const inner = directoryArchive(archiveDir)
    let refuseKeys = true
    const archive: Archive = {
      name: 'no-keys',
      put: async (s, p, signal) => {
        if (refuseKeys && s.name === KEY_STORE_FILE) throw new Error('AccessDenied')
        return inner.put(s, p, signal)
      },
      stat: (n, signal) => inner.stat(n, signal),
      list: (signal) => inner.list(signal),
      get: (n, signal) => inner.get(n, signal),
    }
    const wal = await Wal.open({
      dir,
      segmentSize: 4096,
      encryption: { keyring: localKeyring([m1]) },
      archive,
      retention: { maxBytes: 1, intervalMs: 50 },
    })
    await fill(wal, 1, 100)
    await until(() => wal.metrics().archive.failures > 2)
    expect(wal.metrics().archive.archived).toBe(0)
    expect(readdirSync(archiveDir).filter((f) => f.endsWith('.wal'))).toEqual([])
    // Retention removes nothing that is not archived with its keys.
    expect(wal.firstSeq).toBe(1)
    refuseKeys = false
    await archived(wal)
    expect(wal.metrics().archive.archived).toBeGreaterThan(1)
    await until(() => wal.firstSeq > 1)
    // Read back through the archive: every record, with the local key store.
    const replayed: WalRecord[] = []
    await wal.replayFrom(0, (r) => void replayed.push(r))
    expect(replayed.map(text)).toEqual(Array.from({ length: 100 }, (_, i) => secret(i + 1)))
    await wal.close()
  })
})
