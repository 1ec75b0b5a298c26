/**
 * The key store of an encrypted log (`keys.wzk`): keys survive reopening; a wrong master key is
 * `WAL_KEYRING`; shredding rewrites the file without the key's wrapped bytes; master-key rotation
 * re-wraps the store's key so the old master key is no longer needed; a torn last entry is cut at
 * open, damage before it is `WAL_CORRUPT`; a process SIGKILLed while creating and shredding keys
 * never loses an acknowledged key and never brings back a shredded one.
 */
import { randomBytes } from 'node:crypto'
import { readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { exited, onLines } from '../../../test-support/child-process.js'
import { tempDir } from '../../../test-support/temp-dir.js'
import { nodeFiles } from '../src/files.js'
import { KEY_STORE_FILE, KeyStore } from '../src/key-store.js'
import { localKeyring, type MasterKey } from '../src/keyring.js'
import { silentLogger } from '../src/logger.js'
import { startFixture } from './helpers.js'

const m1: MasterKey = { id: 'm1', key: randomBytes(32) }
const m2: MasterKey = { id: 'm2', key: randomBytes(32) }

function openStore(dir: string, keys: MasterKey[] = [m1], readOnly = false) {
  return KeyStore.open({
    files: nodeFiles,
    dir,
    keyring: localKeyring(keys),
    readOnly,
    fileMode: 0o600,
    logger: silentLogger,
    logHasRecords: false,
  })
}

describe('key store', () => {
  it('creates data keys durably and finds the same keys after reopening', async () => {
    const dir = tempDir()
    const store = await openStore(dir)
    await Promise.all([store.ensure(['a', 'b']), store.ensure(['b', 'c'])])
    const keys = ['a', 'b', 'c'].map((id) => Buffer.from(store.dataKey(id)!))
    expect(new Set(keys.map((k) => k.toString('hex'))).size).toBe(3)
    expect(store.state('d')).toBe('unknown')
    await store.close()
    const again = await openStore(dir, [m1], true)
    expect(['a', 'b', 'c'].map((id) => again.dataKey(id)!.toString('hex'))).toEqual(
      keys.map((k) => k.toString('hex')),
    )
    await again.close()
    // Each key was appended once.
    const file = readFileSync(join(dir, KEY_STORE_FILE))
    for (const id of ['a', 'b', 'c']) expect(file.includes(Buffer.from(`\u0001\u0000${id}`))).toBe(true)
  })

  it('a wrong or missing master key is WAL_KEYRING, and so is a reader finding no key store', async () => {
    const dir = tempDir()
    const store = await openStore(dir)
    await store.ensure(['a'])
    await store.close()
    await expect(openStore(dir, [m2])).rejects.toMatchObject({ code: 'WAL_KEYRING' })
    await expect(openStore(dir, [{ id: 'm1', key: randomBytes(32) }])).rejects.toMatchObject({
      code: 'WAL_KEYRING',
    })
    await expect(openStore(tempDir(), [m1], true)).rejects.toMatchObject({ code: 'WAL_KEYRING' })
  })

  it('shred rewrites the file without the wrapped key; the id reads as shredded after reopening', async () => {
    const dir = tempDir()
    const store = await openStore(dir)
    await store.ensure(['alice', 'bob'])
    const before = readFileSync(join(dir, KEY_STORE_FILE))
    const at = before.indexOf(Buffer.from('alice')) + 5
    const wrappedAlice = before.subarray(at, at + 60)
    expect(wrappedAlice.length).toBe(60)
    await store.shred('alice')
    expect(store.state('alice')).toBe('shredded')
    expect(store.dataKey('alice')).toBeUndefined()
    await expect(store.ensure(['alice'])).rejects.toMatchObject({ code: 'WAL_INVALID_ARGUMENT' })
    const bob = store.dataKey('bob')!.toString('hex')
    await store.close()
    const after = readFileSync(join(dir, KEY_STORE_FILE))
    expect(after.includes(wrappedAlice)).toBe(false)
    const again = await openStore(dir)
    expect(again.state('alice')).toBe('shredded')
    expect(again.dataKey('bob')!.toString('hex')).toBe(bob)
    await again.close()
  })

  it('rotating the master key: afterwards only the new one opens the store, with the same data keys', async () => {
    const dir = tempDir()
    const store = await openStore(dir)
    await store.ensure(['a'])
    const a = store.dataKey('a')!.toString('hex')
    await store.close()
    const rotating = await openStore(dir, [m2, m1])
    await rotating.rotateMasterKey()
    expect(rotating.masterKey).toBe('m2')
    await rotating.close()
    await expect(openStore(dir, [m1])).rejects.toMatchObject({ code: 'WAL_KEYRING' })
    const again = await openStore(dir, [m2])
    expect(again.dataKey('a')!.toString('hex')).toBe(a)
    await again.close()
  })

  it('cuts a torn last entry at open; damage before the last entry is WAL_CORRUPT', async () => {
    const dir = tempDir()
    const store = await openStore(dir)
    await store.ensure(['a'])
    await store.ensure(['b'])
    await store.close()
    const path = join(dir, KEY_STORE_FILE)
    const whole = readFileSync(path)
    truncateSync(path, whole.length - 7)
    const reader = await openStore(dir, [m1], true)
    expect(reader.state('a')).toBe('present')
    expect(reader.state('b')).toBe('unknown')
    await reader.close()
    expect(readFileSync(path).length).toBe(whole.length - 7) // a reader changes nothing
    const writer = await openStore(dir)
    expect(writer.state('b')).toBe('unknown')
    await writer.ensure(['c'])
    await writer.close()
    const again = await openStore(dir)
    expect([again.state('a'), again.state('b'), again.state('c')]).toEqual(['present', 'unknown', 'present'])
    await again.close()

    const damaged = readFileSync(path)
    damaged[damaged.indexOf(Buffer.from('a')) + 10]! ^= 0xff // inside key a's entry, not the last
    writeFileSync(path, damaged)
    await expect(openStore(dir)).rejects.toMatchObject({ code: 'WAL_CORRUPT' })
  })

  it('a corrupt length does not allocate: WAL_CORRUPT', async () => {
    const dir = tempDir()
    const store = await openStore(dir)
    await store.ensure(['a', 'b'])
    await store.close()
    const path = join(dir, KEY_STORE_FILE)
    const bytes = readFileSync(path)
    bytes.writeUInt32LE(0xfffffff0, 0)
    writeFileSync(path, bytes)
    await expect(openStore(dir)).rejects.toMatchObject({ code: 'WAL_CORRUPT' })
  })

  it('SIGKILLed while creating and shredding keys: every acknowledged key is there, no shredded one comes back', async () => {
    const dir = tempDir()
    const master = randomBytes(32)
    const keys: MasterKey[] = [{ id: 'm1', key: master }]
    const acked = new Set<string>()
    const shredded = new Set<string>()
    for (const killAfter of [5, 40, 90, 150]) {
      const child = startFixture('key-store-writer.mjs', [dir, master.toString('base64')])
      let lines = 0
      onLines(child, (line) => {
        const [what, id] = line.split(' ')
        if (what === 'key') acked.add(id!)
        if (what === 'shredded') shredded.add(id!)
        if (++lines >= killAfter) child.kill('SIGKILL')
      })
      await exited(child)
      expect(child.signalCode).toBe('SIGKILL')
      const store = await openStore(dir, keys)
      for (const id of acked) {
        const state = store.state(id)
        if (shredded.has(id)) expect(state, id).toBe('shredded')
        else expect(['present', 'shredded'], id).toContain(state)
      }
      for (const id of acked) if (store.state(id) === 'present') expect(store.dataKey(id)).toHaveLength(32)
      await store.close()
    }
    expect(acked.size).toBeGreaterThan(100)
    expect(shredded.size).toBeGreaterThan(5)
  }, 60_000)

  it('a damaged length in the middle is WAL_CORRUPT, never a cut of the keys after it', async () => {
    const dir = tempDir()
    const store = await openStore(dir)
    for (const id of ['a', 'b', 'c', 'd']) await store.ensure([id])
    await store.close()
    const path = join(dir, KEY_STORE_FILE)
    const bytes = readFileSync(path)
    const at = bytes.indexOf(Buffer.from('\u0001\u0000b')) - 5 // key b's entry: length, kind, id length
    bytes[at + 1]! ^= 0x01 // its length now points past the end of the file
    writeFileSync(path, bytes)
    await expect(openStore(dir)).rejects.toMatchObject({ code: 'WAL_CORRUPT' })
    expect(readFileSync(path).equals(bytes)).toBe(true) // nothing was cut
  })

  it('a torn last entry is kept beside the store when cut', async () => {
    const dir = tempDir()
    const store = await openStore(dir)
    await store.ensure(['a'])
    await store.ensure(['b'])
    await store.close()
    const path = join(dir, KEY_STORE_FILE)
    truncateSync(path, readFileSync(path).length - 5)
    const again = await openStore(dir)
    expect(again.state('b')).toBe('unknown')
    await again.close()
    expect(readdirSync(dir).some((n) => n.startsWith(`${KEY_STORE_FILE}.torn-`))).toBe(true)
  })

  it('refuses ids that do not round-trip through UTF-8, and master key ids that would not read back', async () => {
    const dir = tempDir()
    const store = await openStore(dir)
    await expect(store.shred('x\uD800')).rejects.toMatchObject({ code: 'WAL_INVALID_ARGUMENT' })
    await store.close()
    const longId = { id: 'k'.repeat(300), key: randomBytes(32) }
    const kms = { currentKeyId: longId.id, wrap: (k: Uint8Array) => k, unwrap: (k: Uint8Array) => k }
    await expect(
      KeyStore.open({
        files: nodeFiles,
        dir: tempDir(),
        keyring: kms,
        readOnly: false,
        fileMode: 0o600,
        logger: silentLogger,
        logHasRecords: false,
      }),
    ).rejects.toMatchObject({ code: 'WAL_KEYRING' })
  })

  it('a key creation racing a shred of the same id is refused; the id stays shredded', async () => {
    const dir = tempDir()
    const store = await openStore(dir)
    await store.ensure(['x', 'y'])
    const first = store.shred('y')
    const second = store.shred('x') // queued behind the first rewrite
    await expect(store.ensure(['x'])).rejects.toMatchObject({ code: 'WAL_INVALID_ARGUMENT' })
    await Promise.all([first, second])
    expect(store.state('x')).toBe('shredded')
    await store.close()
    const again = await openStore(dir)
    expect([again.state('x'), again.state('y')]).toEqual(['shredded', 'shredded'])
    await again.close()
  })

  it('a writer of a log with records never creates a new key store in place of a lost one', async () => {
    const options = {
      files: nodeFiles,
      dir: tempDir(),
      keyring: localKeyring([m1]),
      readOnly: false,
      fileMode: 0o600,
      logger: silentLogger,
      logHasRecords: true,
    }
    await expect(KeyStore.open(options)).rejects.toMatchObject({ code: 'WAL_KEYRING' })
  })
})
