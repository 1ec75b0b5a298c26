/**
 * An encrypted log's key store in its sealed form, and sealed copies (`encryption: 'sealed'`): a copy
 * never holds a record whose key it does not hold; imported keys make the copy readable with the
 * keyring, imported shreds and rotations reach it (the shredded key's sealed bytes leave its file);
 * a copy refuses appends, shreds and rotations of its own; a log that is not encrypted refuses sealed
 * records; entries round-trip through their bytes, damage is `WAL_CORRUPT`; a copy SIGKILLed while
 * importing keys and copying records never holds a record it cannot read and never brings back a
 * shredded key.
 */
import { randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { exited, onLines } from '../../../test-support/child-process.js'
import { tempDir } from '../../../test-support/temp-dir.js'
import {
  decodeKeyStoreEntry,
  encodeKeyStoreEntry,
  importKeys,
  KEY_STORE_FILE,
  type KeyStoreEntry,
  localKeyring,
  type MasterKey,
  parseKeyStore,
  readKeyStore,
  sealedKeyId,
  Wal,
  type WalRecord,
} from '../src/index.js'
import { startFixture } from './helpers.js'

const m1: MasterKey = { id: 'm1', key: randomBytes(32) }
const m2: MasterKey = { id: 'm2', key: randomBytes(32) }
const text = (r: WalRecord) => Buffer.from(r.data as Uint8Array).toString()

async function all<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of iterable) out.push(x)
  return out
}

async function source(dir = tempDir(), keys = [m1]) {
  const wal = await Wal.open({ dir, encryption: { keyring: localKeyring(keys) } })
  for (let i = 0; i < 12; i++)
    await wal.append({ type: 'said', key: `subject-${i % 3}`, data: Buffer.from(`secret-${i}-of-${i % 3}`) })
  return wal
}

/** The state entries leave, applied in order: header, keys and shredded ids. */
function fold(entries: readonly KeyStoreEntry[]) {
  let header: string | undefined
  const keys = new Map<string, string>()
  const shredded = new Set<string>()
  for (const e of entries) {
    if (e.kind === 'header') header = `${e.masterKeyId}:${Buffer.from(e.wrappedKek).toString('hex')}`
    else if (e.kind === 'shredded') {
      keys.delete(e.keyId)
      shredded.add(e.keyId)
    } else if (!shredded.has(e.keyId)) keys.set(e.keyId, Buffer.from(e.wrapped).toString('hex'))
  }
  return { header, keys, shredded }
}

function sealedKey(entries: readonly KeyStoreEntry[], keyId: string): Buffer {
  const e = entries.find((x) => x.kind === 'key' && x.keyId === keyId)
  if (e?.kind !== 'key') throw new Error(`no key ${keyId}`)
  return Buffer.from(e.wrapped)
}

describe('sealed copies of an encrypted log', () => {
  it('holds a record only once it holds its key; with the keys imported the keyring reads the copy', async () => {
    const src = await source()
    const raw = await all(src.recordsRaw())
    expect(raw.map((r) => sealedKeyId(r))).toEqual(raw.map((r) => r.key))
    const dir = tempDir()
    const copy = await Wal.open({ dir, encryption: 'sealed' })
    expect(await copy.keyStore()).toBeUndefined()
    await expect(copy.appendRaw(raw)).rejects.toMatchObject({
      code: 'WAL_INVALID_ARGUMENT',
      message: expect.stringContaining("key 'subject-0'"),
    })
    // The first import needs the header.
    const store = (await src.keyStore())!
    await expect(copy.importKeys(store.entries.slice(1))).rejects.toMatchObject({
      code: 'WAL_INVALID_ARGUMENT',
    })
    await copy.importKeys(store.entries)
    await copy.appendRaw(raw)
    expect(await copy.keyStore()).toMatchObject({ entries: store.entries })
    // A copy makes no keys and seals nothing itself.
    await expect(copy.append({ type: 'said', data: Buffer.from('x') })).rejects.toMatchObject({
      code: 'WAL_INVALID_ARGUMENT',
    })
    await expect(copy.appendBatch([{ type: 'said', data: Buffer.from('x') }])).rejects.toMatchObject({
      code: 'WAL_INVALID_ARGUMENT',
    })
    await expect(copy.shred('subject-0')).rejects.toMatchObject({ code: 'WAL_INVALID_ARGUMENT' })
    await expect(copy.rotateMasterKey()).rejects.toMatchObject({ code: 'WAL_INVALID_ARGUMENT' })
    // Unsealed records are refused as in any encrypted log; its own data is not readable without keys.
    await expect(
      copy.appendRaw([{ seq: 13, time: 1, type: 'said', data: Buffer.from('plain') }]),
    ).rejects.toMatchObject({ code: 'WAL_INVALID_ARGUMENT' })
    await expect(all(copy.records())).rejects.toMatchObject({ code: 'WAL_KEYRING' })
    await copy.close()
    const reader = await Wal.openReader({ dir, encryption: { keyring: localKeyring([m1]) } })
    expect((await all(reader.records())).map(text)).toEqual((await all(src.records())).map(text))
    await reader.close()
    // Reopened, the copy has its keys (and a plain writer is refused).
    await expect(Wal.open({ dir })).rejects.toMatchObject({ code: 'WAL_KEYRING' })
    const again = await Wal.open({ dir, encryption: 'sealed' })
    expect((await again.keyStore())!.entries).toEqual(store.entries)
    await again.close()
    await src.close()
  })

  it('a copy of a compressed encrypted log takes its sealed records and reads with the keyring', async () => {
    const keyring = localKeyring([m1])
    const src = await Wal.open({ dir: tempDir(), encryption: { keyring }, compression: 'deflate' })
    for (let i = 0; i < 40; i++)
      await src.append({ type: 'said', key: `s-${i % 4}`, data: Buffer.from(`secret-${i} `.repeat(20)) })
    const dir = tempDir()
    const copy = await Wal.open({ dir, encryption: 'sealed' })
    await copy.importKeys((await src.keyStore())!.entries)
    await copy.appendRaw(await all(src.recordsRaw()))
    await copy.close()
    const reader = await Wal.openReader({ dir, encryption: { keyring } })
    expect((await all(reader.records())).map(text)).toEqual((await all(src.records())).map(text))
    await reader.close()
    await src.close()
  })

  it('imported shreds and rotations reach the copy: the sealed key leaves its file, the new master key alone reads it', async () => {
    const srcDir = tempDir()
    const src = await source(srcDir)
    const dir = tempDir()
    const copy = await Wal.open({ dir, encryption: 'sealed' })
    const before = (await src.keyStore())!
    await copy.importKeys(before.entries)
    await copy.appendRaw(await all(src.recordsRaw()))
    const sealed = sealedKey(before.entries, 'subject-1')
    expect(readFileSync(join(dir, KEY_STORE_FILE)).includes(sealed)).toBe(true)

    await src.shred('subject-1')
    const after = (await src.keyStore())!
    expect(after.version).not.toBe(before.version)
    expect(after.entries.filter((e) => e.kind !== 'key').map((e) => e.kind)).toEqual(['header', 'shredded'])
    await copy.importKeys(after.entries)
    expect(readFileSync(join(dir, KEY_STORE_FILE)).includes(sealed)).toBe(false)
    // A key entry arriving after its shred (an old message) does not bring it back.
    await copy.importKeys([{ kind: 'key', keyId: 'subject-1', wrapped: sealed }])
    expect(readFileSync(join(dir, KEY_STORE_FILE)).includes(sealed)).toBe(false)

    await src.close()
    const rotating = await Wal.open({ dir: srcDir, encryption: { keyring: localKeyring([m2, m1]) } })
    await rotating.rotateMasterKey()
    await copy.importKeys((await rotating.keyStore())!.entries.slice(0, 1))
    await copy.close()
    await expect(Wal.openReader({ dir, encryption: { keyring: localKeyring([m1]) } })).rejects.toMatchObject({
      code: 'WAL_KEYRING',
    })
    const reader = await Wal.openReader({ dir, encryption: { keyring: localKeyring([m2]) } })
    const records = await all(reader.records())
    expect(records.filter((r) => r.shredded).map((r) => r.key)).toEqual(Array(4).fill('subject-1'))
    expect(records.filter((r) => !r.shredded).map(text)).toEqual(
      (await all(rotating.records())).filter((r) => !r.shredded).map(text),
    )
    await reader.close()
    await rotating.close()
  })

  it('a log that is not encrypted refuses sealed records, and two keys for one id are refused', async () => {
    const src = await source()
    const raw = await all(src.recordsRaw())
    const plain = await Wal.open({ dir: tempDir() })
    await expect(plain.appendRaw(raw)).rejects.toMatchObject({ code: 'WAL_INVALID_ARGUMENT' })
    await expect(plain.importKeys([])).rejects.toMatchObject({ code: 'WAL_INVALID_ARGUMENT' })
    expect(await plain.keyStore()).toBeUndefined()
    await plain.close()
    const other = await source()
    const copy = await Wal.open({ dir: tempDir(), encryption: 'sealed' })
    await copy.importKeys((await src.keyStore())!.entries)
    // Another log's store: another key for the same id.
    await expect(copy.importKeys((await other.keyStore())!.entries.slice(1))).rejects.toMatchObject({
      code: 'WAL_INVALID_ARGUMENT',
      message: expect.stringContaining('two keys'),
    })
    await expect(
      copy.importKeys([{ kind: 'key', keyId: 'x', wrapped: new Uint8Array(59) }]),
    ).rejects.toMatchObject({ code: 'WAL_INVALID_ARGUMENT' })
    await copy.close()
    await other.close()
    await src.close()
  })

  it('entries round-trip through their bytes; damaged bytes are WAL_CORRUPT', async () => {
    const src = await source()
    await src.shred('subject-2')
    const { entries } = (await src.keyStore())!
    for (const e of entries) expect(decodeKeyStoreEntry(encodeKeyStoreEntry(e))).toEqual(e)
    const bytes = Buffer.from(encodeKeyStoreEntry(entries[1]!))
    bytes[bytes.length - 10]! ^= 1
    expect(() => decodeKeyStoreEntry(bytes)).toThrow(expect.objectContaining({ code: 'WAL_CORRUPT' }))
    expect(() => decodeKeyStoreEntry(encodeKeyStoreEntry(entries[1]!).subarray(1))).toThrow(
      expect.objectContaining({ code: 'WAL_CORRUPT' }),
    )
    expect(() => encodeKeyStoreEntry({ kind: 'shredded', keyId: '\ud800' })).toThrow(
      expect.objectContaining({ code: 'WAL_INVALID_ARGUMENT' }),
    )
    const file = readFileSync(join(src.dir, KEY_STORE_FILE))
    expect(parseKeyStore(file)).toEqual(entries)
    expect(() => parseKeyStore(file.subarray(0, file.length - 3))).toThrow(
      expect.objectContaining({ code: 'WAL_CORRUPT' }),
    )
    await src.close()
  })

  it('a reader reads the store from disk as the writer holds it; the version follows every change', async () => {
    const src = await source()
    const reader = await Wal.openReader({ dir: src.dir })
    const first = (await reader.keyStore())!
    expect(first.entries).toEqual((await src.keyStore())!.entries)
    expect(await reader.keyStoreVersion()).toBe(first.version)
    expect(await readKeyStore(src.dir)).toEqual(first)
    const writerVersion = await src.keyStoreVersion()
    await src.append({ type: 'said', key: 'new-subject', data: Buffer.from('x') })
    expect(await src.keyStoreVersion()).not.toBe(writerVersion)
    expect(await reader.keyStoreVersion()).not.toBe(first.version)
    const second = (await reader.keyStore())!
    await src.shred('subject-0')
    expect(await reader.keyStoreVersion()).not.toBe(second.version)
    expect((await reader.keyStore())!.entries).toEqual((await src.keyStore())!.entries)
    await reader.close()
    await src.close()
  })

  it("a writer's keyStore(since) hands over what was added since, and never a version ahead of its state", async () => {
    const src = await source()
    const first = (await src.keyStore())!
    expect(first.incremental).toBe(false)
    await src.append({ type: 'said', key: 'new-1', data: Buffer.from('x') })
    await src.appendBatch([
      { type: 'said', key: 'new-2', data: Buffer.from('x') },
      { type: 'said', key: 'new-3', data: Buffer.from('x') },
    ])
    const added = (await src.keyStore(first.version))!
    expect(added.incremental).toBe(true)
    expect(added.entries.map((e) => e.kind === 'key' && e.keyId)).toEqual(['new-1', 'new-2', 'new-3'])
    expect((await src.keyStore(added.version))!.entries).toEqual([])
    // Read while shreds and appends run: each version, followed up later, gives the final store.
    const seen: { version: string; entries: readonly KeyStoreEntry[] }[] = []
    let done = false
    const work = (async () => {
      for (let i = 0; i < 5; i++) {
        await src.append({ type: 'said', key: `later-${i}`, data: Buffer.from('x') })
        await src.shred(`later-${i}`)
      }
      // Only appends after the last rewrite: a version read during it must not pass for this state.
      await src.append({ type: 'said', key: 'tail', data: Buffer.from('x') })
      done = true
    })()
    while (!done) {
      seen.push((await src.keyStore())!)
      await new Promise((r) => setImmediate(r))
    }
    await work
    const final = fold((await src.keyStore())!.entries)
    expect(seen.length).toBeGreaterThan(3)
    for (const { version, entries } of seen) {
      const later = (await src.keyStore(version))!
      expect(fold(later.incremental ? [...entries, ...later.entries] : later.entries), version).toEqual(final)
    }
    // Another object's version is never taken for this one's.
    const other = await source()
    expect((await other.keyStore((await src.keyStore())!.version))!.incremental).toBe(false)
    await other.close()
    await src.close()
  })

  it('importKeys merges into the key store of a directory no writer has open', async () => {
    const src = await source()
    const early = (await src.keyStore())!.entries
    const dir = tempDir()
    expect(await importKeys(dir, early)).toBe(true)
    expect(await importKeys(dir, early)).toBe(false)
    await src.append({ type: 'said', key: 'later', data: Buffer.from('x') })
    await src.shred('subject-0')
    expect(await importKeys(dir, (await src.keyStore())!.entries)).toBe(true)
    expect((await readKeyStore(dir))!.entries).toEqual((await src.keyStore())!.entries)
    expect(readFileSync(join(dir, KEY_STORE_FILE)).includes(sealedKey(early, 'subject-0'))).toBe(false)
    await expect(importKeys(tempDir(), early.slice(1))).rejects.toMatchObject({
      code: 'WAL_INVALID_ARGUMENT',
    })
    // A damaged store is not written over.
    const path = join(dir, KEY_STORE_FILE)
    const damaged = readFileSync(path)
    damaged[30]! ^= 0xff
    writeFileSync(path, damaged)
    await expect(importKeys(dir, early)).rejects.toMatchObject({ code: 'WAL_CORRUPT' })
    await src.close()
  })

  it('SIGKILLed while importing keys and copying records: every copied record reads, no shredded key comes back', async () => {
    const sourceDir = tempDir()
    const copyDir = tempDir()
    const master = randomBytes(32)
    const keyring = localKeyring([{ id: 'm1', key: master }])
    const copied = new Map<number, { subject: string; text: string }>()
    const shredded = new Map<string, Buffer>()
    for (const [run, killAfter] of [
      [1, 40],
      [2, 130],
      [3, 260],
      [4, 77],
    ] as const) {
      const child = startFixture('sealed-copy-writer.mjs', [
        sourceDir,
        copyDir,
        master.toString('base64'),
        String(run),
      ])
      let lines = 0
      onLines(child, (line) => {
        const [what, a, b, c] = line.split(' ')
        if (what === 'copied') copied.set(Number(a), { subject: b!, text: c! })
        if (what === 'shredded') shredded.set(a!, Buffer.from(b!, 'hex'))
        if (++lines >= killAfter) child.kill('SIGKILL')
      })
      await exited(child)
      expect(child.signalCode).toBe('SIGKILL')
      // A writer's open cuts a torn key store entry; then the keyring reads every record.
      await (await Wal.open({ dir: copyDir, encryption: 'sealed' })).close()
      const reader = await Wal.openReader({ dir: copyDir, encryption: { keyring } })
      const bySeq = new Map((await all(reader.records())).map((r) => [r.seq, r]))
      await reader.close()
      for (const [seq, { subject, text: t }] of copied) {
        const r = bySeq.get(seq)
        expect(r?.key, `seq ${seq}`).toBe(subject)
        if (shredded.has(subject)) expect(r?.shredded, `seq ${seq} of shredded ${subject}`).toBe(true)
        else if (r?.shredded !== true && t !== '-') expect(text(r!)).toBe(t)
      }
      const file = readFileSync(join(copyDir, KEY_STORE_FILE))
      for (const [subject, sealed] of shredded) expect(file.includes(sealed), subject).toBe(false)
    }
    expect(copied.size).toBeGreaterThan(100)
    expect(shredded.size).toBeGreaterThan(5)
  }, 90_000)
})
