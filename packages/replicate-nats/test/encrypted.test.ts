/**
 * Replicating an encrypted log (one real nats-server): the stream carries ciphertext and sealed keys
 * only (every byte of every message scanned: no plaintext field, no plaintext data key); a restored
 * replica reads with the keyring; a shred on the primary takes the key's message off the stream,
 * reaches a following replica, and a replica restored after it reads the subject as shredded; a
 * master-key rotation reaches replicas; a replica never holds a record whose key it cannot get (a
 * stream without the key is REPLICATION_GAP); a stream that cannot carry keys is refused, and
 * ensureStream updates an old one; a replica SIGKILLed while importing keys and records comes back
 * readable.
 */
import { createDecipheriv, randomBytes } from 'node:crypto'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { type JetStreamManager, jetstream } from '@nats-io/jetstream'
import { headers, type NatsConnection } from '@nats-io/transport-node'
import {
  decodeKeyStoreEntry,
  encodeKeyStoreEntry,
  type Keyring,
  type KeyStoreEntry,
  localKeyring,
  type MasterKey,
  readKeyStore,
  type Serializer,
  silentLogger,
  Wal,
  type WalRecord,
} from '@waltz/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { exited, onLines, requireBuilt, startNode } from '../../../test-support/child-process.js'
import { tempDir } from '../../../test-support/temp-dir.js'
import {
  ensureStream,
  HEADER,
  isReplicationError,
  replicateToJetStream,
  restoreFromJetStream,
} from '../src/index.js'
import { KEY_HEADER, KEY_MESSAGE_FORMAT, KeySubjects } from '../src/key-messages.js'
import { recordHeaders } from '../src/stream.js'
import { followStream } from './helpers.js'
import { eventually, jetStreamSuite, NO_NATS_SERVER, startServer } from './nats.js'

const m1: MasterKey = { id: 'm1', key: randomBytes(32) }
const m2: MasterKey = { id: 'm2', key: randomBytes(32) }
const PII = 'pii.example'
const REPLICA = new URL('./fixtures/replica.mjs', import.meta.url)

type Pii = { type: 'signed-up'; data: { n: number; email: string } }
const piiSerializer: Serializer<'signed-up', { n: number; email: string }, Pii> = {
  name: 'pii-json/1',
  encode: (data) => Buffer.from(JSON.stringify(data)),
  decode: (bytes) => JSON.parse(Buffer.from(bytes).toString()),
}

function openSource(dir: string, keys: MasterKey[] = [m1]) {
  return Wal.open({ dir, serializer: piiSerializer, encryption: { keyring: localKeyring(keys) } })
}

/** Appends `count` records for `subjects` customers, from record `from` on (`customer-<n % subjects>`). */
async function appendPii(wal: Wal<Pii>, from: number, count: number, subjects = 7, prefix = 'customer') {
  for (let n = from; n < from + count; n += 10) {
    const batch = []
    for (let i = n; i < Math.min(n + 10, from + count); i++) {
      batch.push({
        type: 'signed-up' as const,
        key: `${prefix}-${i % subjects}`,
        data: { n: i, email: `user-${i}@${PII}` },
      })
    }
    await wal.appendBatch(batch)
  }
}

/** What a reader with `keys` reads from the log in `dir`: each record's key, and its data or `shredded`. */
async function readWith(dir: string, keys: MasterKey[] = [m1]): Promise<[string, string][]> {
  const reader = await Wal.openReader({
    dir,
    serializer: piiSerializer,
    encryption: { keyring: localKeyring(keys) },
  })
  try {
    const out: [string, string][] = []
    for await (const r of reader.records()) out.push(describe_(r))
    return out
  } finally {
    await reader.close()
  }
}

function describe_(r: WalRecord<string, { n: number; email: string }>): [string, string] {
  return [r.key!, r.shredded ? 'shredded' : r.data.email]
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

/** Every message the stream holds now: subject, headers as text, body. */
async function streamMessages(nc: NatsConnection, stream: string) {
  const out: { seq: number; subject: string; headers: string; data: Buffer }[] = []
  const consumer = await jetstream(nc).consumers.get(stream, { opt_start_seq: 1 })
  const messages = await consumer.consume({ expires: 2000 })
  for await (const m of messages) {
    out.push({
      seq: m.seq,
      subject: m.subject,
      headers: m.headers?.toString() ?? '',
      data: Buffer.from(m.data),
    })
    if (m.info.pending === 0) break
  }
  await messages.close()
  return out
}

/** Asserts that no message holds `plain` (in its body or headers) or any of `keys`. */
function expectCiphertextOnly(
  messages: { subject: string; headers: string; data: Buffer }[],
  keys: Buffer[],
) {
  expect(messages.length).toBeGreaterThan(0)
  for (const m of messages) {
    const bytes = Buffer.concat([Buffer.from(m.subject), Buffer.from(m.headers), m.data])
    expect(bytes.includes(Buffer.from(PII)), `${m.subject}: a plaintext field`).toBe(false)
    for (const key of keys) expect(bytes.includes(key), `${m.subject}: a plaintext data key`).toBe(false)
  }
}

/** The headers of a key message (a test publishing one by hand). */
function keyHeaders() {
  const h = headers()
  h.set(KEY_HEADER.format, KEY_MESSAGE_FORMAT)
  h.set(KEY_HEADER.walId, 'by-hand')
  return h
}

function sealedKey(entries: readonly KeyStoreEntry[], keyId: string): Buffer {
  const e = entries.find((x) => x.kind === 'key' && x.keyId === keyId)
  if (e?.kind !== 'key') throw new Error(`no key ${keyId}`)
  return Buffer.from(e.wrapped)
}

/** Every file under `dir`, as bytes. */
function filesOf(dir: string): Buffer[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => readFileSync(join(e.parentPath, e.name)))
}

describe.skipIf(NO_NATS_SERVER)('replicating an encrypted log', () => {
  const suite = jetStreamSuite('E', startServer, 1, { keysPollMs: 50 })
  const { newStream, replicate } = suite
  let nc: NatsConnection
  let jsm: JetStreamManager
  beforeAll(() => {
    ;({ nc, jsm } = suite)
  })

  it('carries ciphertext and sealed keys only; a restored replica reads with the keyring', async () => {
    const { stream, subject } = await newStream()
    const wal = await openSource(tempDir())
    await appendPii(wal, 0, 300)
    const replicator = replicate({ wal, nc, stream, subject })
    await appendPii(wal, 300, 300, 11, 'late')
    await replicator.waitFor(wal.lastSeq)
    await replicator.syncKeys()
    const entries = (await wal.keyStore())!.entries
    expect(entries.filter((e) => e.kind === 'key')).toHaveLength(18)
    expect(replicator.metrics().keyMessages).toBe(19)

    const messages = await streamMessages(nc, stream)
    expectCiphertextOnly(messages, await plainDataKeys(entries, localKeyring([m1])))
    // The layout: every record sealed; one message per key subject, carrying the key store entry.
    const records = messages.filter((m) => m.subject === subject)
    expect(records).toHaveLength(600)
    expect(records.every((m) => m.headers.includes(`${HEADER.sealed}: 1`))).toBe(true)
    const subjects = new KeySubjects(subject)
    const keyMessages = messages.filter((m) => m.subject !== subject)
    expect(keyMessages.map((m) => m.subject).sort()).toEqual(entries.map((e) => subjects.of(e)).sort())
    for (const m of keyMessages) {
      expect(m.headers).toContain('Waltz-Keys: 1')
      const entry = decodeKeyStoreEntry(m.data)
      expect(subjects.of(entry)).toBe(m.subject)
      expect(entries).toContainEqual(entry)
    }
    // Every key message precedes the first record sealed with it.
    const firstOf = new Map<string, number>()
    for (const m of keyMessages) firstOf.set(m.subject, m.seq)
    for (const r of records) {
      const key = /Waltz-Key: ([^\r\n]+)/.exec(r.headers)![1]!
      expect(firstOf.get(subjects.key(decodeURIComponent(key)))!).toBeLessThan(r.seq)
    }

    const dir = tempDir()
    expect(await restoreFromJetStream({ nc, stream, subject, dir })).toMatchObject({
      lastSeq: 600,
      restored: 600,
      encrypted: true,
    })
    for (const bytes of filesOf(dir)) expect(bytes.includes(Buffer.from(PII))).toBe(false)
    const source: [string, string][] = []
    for await (const r of wal.records()) source.push(describe_(r))
    expect(await readWith(dir)).toEqual(source)
    await expect(readWith(dir, [m2])).rejects.toMatchObject({ code: 'WAL_KEYRING' })
    await replicator.stop()
    await wal.close()
  })

  it('a shred reaches a following replica and takes the key off the stream; a replica restored after it reads shredded', async () => {
    const { stream, subject } = await newStream()
    const wal = await openSource(tempDir())
    // Following from before the first record: keys and records arrive in stream order.
    const followDir = tempDir()
    const following = followStream({ nc, stream, subject, dir: followDir, batchSize: 32 })
    const replicator = replicate({ wal, nc, stream, subject })
    await appendPii(wal, 0, 200)
    const earlyDir = tempDir()
    await replicator.waitFor(200)
    await restoreFromJetStream({ nc, stream, subject, dir: earlyDir })
    await eventually(async () => expect(following.progress()).toBe(200))
    const sealed = sealedKey((await wal.keyStore())!.entries, 'customer-3')
    expect(readFileSync(join(followDir, 'keys.wzk')).includes(sealed)).toBe(true)

    await wal.shred('customer-3')
    await replicator.syncKeys()
    // The stream: the subject's tombstone only; the sealed key is in no message.
    const messages = await streamMessages(nc, stream)
    for (const m of messages) expect(m.data.includes(sealed), `stream seq ${m.seq}`).toBe(false)
    const subjects = new KeySubjects(subject)
    const onSubject = messages.filter((m) => m.subject === subjects.key('customer-3'))
    expect(onSubject.map((m) => decodeKeyStoreEntry(m.data))).toEqual([
      { kind: 'shredded', keyId: 'customer-3' },
    ])
    const expected = (rows: [string, string][]) =>
      rows.map(([key, data]): [string, string] => [key, key === 'customer-3' ? 'shredded' : data])

    // The follower applies it: its key store drops the sealed key; its reader reads shredded.
    await eventually(async () => {
      const store = await readKeyStore(followDir)
      expect(store!.entries).toContainEqual({ kind: 'shredded', keyId: 'customer-3' })
    })
    expect(readFileSync(join(followDir, 'keys.wzk')).includes(sealed)).toBe(false)
    const before = await readWith(earlyDir)
    expect(await readWith(followDir)).toEqual(expected(before))
    // It goes on following (a shredded subject gets no more records).
    await appendPii(wal, 200, 50, 5, 'after')
    await eventually(async () => expect(following.progress()).toBe(250))
    expect((await following.stop()).encrypted).toBe(true)
    expect((await readWith(followDir)).filter(([, d]) => d === 'shredded')).toHaveLength(29)

    // A replica restored after the shred, and one restored before it and resumed.
    const lateDir = tempDir()
    await replicator.waitFor(250)
    await restoreFromJetStream({ nc, stream, subject, dir: lateDir })
    await restoreFromJetStream({ nc, stream, subject, dir: earlyDir })
    const now = await readWith(lateDir)
    expect(now.slice(0, 200)).toEqual(expected(before))
    expect(await readWith(earlyDir)).toEqual(now)
    for (const dir of [lateDir, earlyDir])
      expect(readFileSync(join(dir, 'keys.wzk')).includes(sealed)).toBe(false)
    await replicator.stop()
    await wal.close()
  })

  it('a restore that read past a key before it was shredded finds the tombstone for the records after', async () => {
    const { stream, subject } = await newStream()
    const wal = await openSource(tempDir())
    const replicator = replicate({ wal, nc, stream, subject })
    await appendPii(wal, 0, 1500)
    await replicator.waitFor(1500)
    // Slow on purpose (an fdatasync per record): the shred lands while it is early in the stream.
    const dir = tempDir()
    let progress = 0
    let shredAt = 0
    const restoring = restoreFromJetStream({
      nc,
      stream,
      subject,
      dir,
      batchSize: 1,
      walOptions: { sync: 'always' },
      onProgress: (seq) => {
        progress = seq
      },
    })
    await eventually(async () => expect(progress).toBeGreaterThan(20), 30_000, 5)
    await wal.shred('customer-5')
    await replicator.syncKeys()
    shredAt = progress
    expect((await restoring).lastSeq).toBe(1500)
    expect(shredAt).toBeLessThan(1400)
    const rows = await readWith(dir)
    expect(rows.filter(([key]) => key === 'customer-5').every(([, d]) => d === 'shredded')).toBe(true)
    expect(rows.filter(([, d]) => d === 'shredded')).toHaveLength(214)

    // Following, slowly: a key created and shredded while it lags reaches it as a tombstone only.
    const followDir = tempDir()
    const logged: string[] = []
    const logger = { ...silentLogger, info: (message: string) => void logged.push(message) }
    const following = followStream({
      nc,
      stream,
      subject,
      dir: followDir,
      batchSize: 1,
      walOptions: { sync: 'always' },
      logger,
    })
    await eventually(async () => expect(following.progress()).toBeGreaterThan(20), 30_000, 5)
    await appendPii(wal, 1500, 30, 3, 'brief')
    await wal.shred('brief-1')
    await replicator.syncKeys()
    expect(following.progress()).toBeLessThan(1400)
    await eventually(async () => expect(following.progress()).toBe(1530), 60_000)
    await following.stop()
    expect(logged).toContain("a record's key message is gone (shredded since): its subject read")
    const followed = await readWith(followDir)
    expect(followed.filter(([key]) => key === 'brief-1').map(([, d]) => d)).toEqual(
      Array(10).fill('shredded'),
    )
    expect(followed.filter(([key]) => key === 'brief-2').every(([, d]) => d !== 'shredded')).toBe(true)
    await replicator.stop()
    await wal.close()
  }, 120_000)

  it('a replicator that stopped between a tombstone and its erasure erases the key at its next start', async () => {
    const { stream, subject } = await newStream()
    const wal = await openSource(tempDir())
    await appendPii(wal, 0, 30)
    const before = (await wal.keyStore())!.entries
    await wal.shred('customer-2')
    // What the stream holds after such a stop: the key's message, then its tombstone.
    const subjects = new KeySubjects(subject)
    const js = jetstream(nc)
    for (const e of [...before, { kind: 'shredded' as const, keyId: 'customer-2' }]) {
      await js.publish(subjects.of(e), encodeKeyStoreEntry(e), { headers: keyHeaders() })
    }
    const sealed = sealedKey(before, 'customer-2')
    expect((await streamMessages(nc, stream)).some((m) => m.data.includes(sealed))).toBe(true)
    const replicator = replicate({ wal, nc, stream, subject })
    await replicator.waitFor(30)
    await replicator.syncKeys()
    const messages = await streamMessages(nc, stream)
    expect(messages.some((m) => m.data.includes(sealed))).toBe(false)
    expect(messages.filter((m) => m.subject !== subject)).toHaveLength(before.length)
    await replicator.stop()
    await wal.close()
  })

  it('replicating from a reader of the log (another process writes it, no keyring here): keys and shreds from its keys.wzk', async () => {
    const { stream, subject } = await newStream()
    const dir = tempDir()
    const wal = await openSource(dir)
    await appendPii(wal, 0, 50)
    const reader = await Wal.openReader({ dir })
    const replicator = replicate({ wal: reader, nc, stream, subject })
    await replicator.waitFor(50)
    await appendPii(wal, 50, 50, 3, 'more')
    await replicator.waitFor(100)
    const sealed = sealedKey((await wal.keyStore())!.entries, 'customer-1')
    await wal.shred('customer-1')
    await replicator.syncKeys()
    expect((await streamMessages(nc, stream)).some((m) => m.data.includes(sealed))).toBe(false)
    const restored = tempDir()
    await restoreFromJetStream({ nc, stream, subject, dir: restored })
    const source: [string, string][] = []
    for await (const r of wal.records()) source.push(describe_(r))
    expect(source.filter(([, d]) => d === 'shredded')).toHaveLength(7)
    expect(await readWith(restored)).toEqual(source)
    await replicator.stop()
    await reader.close()
    await wal.close()
  })

  it('a master-key rotation reaches the stream and the replicas', async () => {
    const { stream, subject } = await newStream()
    const sourceDir = tempDir()
    let wal = await openSource(sourceDir)
    let replicator = replicate({ wal, nc, stream, subject })
    await appendPii(wal, 0, 100)
    await replicator.waitFor(100)
    const followDir = tempDir()
    const following = followStream({ nc, stream, subject, dir: followDir })
    await eventually(async () => expect(following.progress()).toBe(100))
    await replicator.stop()
    await wal.close()

    wal = await openSource(sourceDir, [m2, m1])
    await wal.rotateMasterKey()
    replicator = replicate({ wal, nc, stream, subject })
    await appendPii(wal, 100, 20)
    await replicator.waitFor(120)
    await replicator.syncKeys()
    const kek = (await streamMessages(nc, stream)).filter((m) => m.subject === new KeySubjects(subject).kek)
    expect(kek.map((m) => decodeKeyStoreEntry(m.data))).toEqual([
      expect.objectContaining({ masterKeyId: 'm2' }),
    ])
    await eventually(async () => expect(following.progress()).toBe(120))
    await eventually(async () =>
      expect((await readKeyStore(followDir))!.entries[0]).toMatchObject({ masterKeyId: 'm2' }),
    )
    await following.stop()
    const restored = tempDir()
    await restoreFromJetStream({ nc, stream, subject, dir: restored })
    for (const dir of [followDir, restored]) {
      await expect(readWith(dir, [m1])).rejects.toMatchObject({ code: 'WAL_KEYRING' })
      expect(await readWith(dir, [m2])).toHaveLength(120)
    }
    await replicator.stop()
    await wal.close()
  })

  it('a sealed record whose key the stream lacks is REPLICATION_GAP; a stream that cannot carry keys is refused', async () => {
    const { stream, subject } = await newStream()
    const wal = await openSource(tempDir())
    await appendPii(wal, 0, 5)
    for await (const record of wal.recordsRaw({ from: 1, to: 1 })) {
      await jetstream(nc).publish(subject, record.data, {
        headers: recordHeaders(record, 'forged', 'pii-json/1'),
      })
    }
    const dir = tempDir()
    const gap = await restoreFromJetStream({ nc, stream, subject, dir }).catch((e: unknown) => e)
    expect(isReplicationError(gap, 'REPLICATION_GAP')).toBe(true)
    const empty = await Wal.openReader({ dir })
    expect(empty.lastSeq).toBe(0)
    await empty.close()

    // A stream made without the key subjects: refused for an encrypted log, until ensureStream updates it.
    const old = { stream: 'EOLD', subject: 'waltz.eold' }
    await jsm.streams.add({ name: old.stream, subjects: [old.subject] })
    const refused = replicateToJetStream({ wal, nc, ...old })
    await expect(refused.done).rejects.toMatchObject({ code: 'REPLICATION_INVALID_ARGUMENT' })
    const info = await ensureStream(jsm, old)
    expect(info.config.subjects).toEqual([old.subject, `${old.subject}.wzk.>`])
    const accepted = replicate({ wal, nc, ...old })
    await accepted.waitFor(5)
    await accepted.stop()
    await wal.close()
  })

  describe('a replica SIGKILLed while it imports keys and appends records', () => {
    const children: ReturnType<typeof startNode>[] = []
    afterAll(() => {
      for (const child of children) child.kill('SIGKILL')
    })

    it('comes back readable: no record without its key, shreds applied once it catches up', async () => {
      requireBuilt(
        new URL('../dist/index.js', import.meta.url),
        new URL('../../core/dist/index.js', import.meta.url),
      )
      const { stream, subject } = await newStream()
      const wal = await openSource(tempDir())
      const replicator = replicate({ wal, nc, stream, subject })
      const dir = tempDir()
      const shredded: string[] = []
      let next = 0
      for (const killAfter of [3, 9, 20, 6]) {
        const child = startNode(REPLICA, [dir, suite.group.urls.join(','), stream, subject])
        children.push(child)
        let lines = 0
        let killed = false
        onLines(child, () => {
          if (++lines >= killAfter && !killed) {
            killed = true
            child.kill('SIGKILL')
          }
        })
        // New subjects all the time (a new key per few records), and a shred now and then.
        while (!killed && child.exitCode === null) {
          await appendPii(wal, next, 20, 5, `round-${next}`)
          next += 20
          if (next % 60 === 0) {
            const victim = `round-${next - 40}-${next % 5}`
            await wal.shred(victim)
            shredded.push(victim)
          }
          await new Promise((r) => setTimeout(r, 20))
        }
        await exited(child)
        expect(child.signalCode).toBe('SIGKILL')
        // What the killed replica holds reads with the keyring, every record (shredded or not).
        await (await Wal.open({ dir, encryption: 'sealed', serializer: piiSerializer })).close()
        const rows = await readWith(dir)
        for (const [, data] of rows) if (data !== 'shredded') expect(data).toMatch(/^user-\d+@/)
        expect(rows.length).toBeGreaterThan(0)
      }
      await replicator.waitFor(wal.lastSeq)
      await replicator.syncKeys()
      expect((await restoreFromJetStream({ nc, stream, subject, dir })).lastSeq).toBe(wal.lastSeq)
      const source: [string, string][] = []
      for await (const r of wal.records()) source.push(describe_(r))
      expect(shredded.length).toBeGreaterThan(2)
      expect(source.filter(([, d]) => d === 'shredded').length).toBeGreaterThan(2)
      expect(await readWith(dir)).toEqual(source)
      await replicator.stop()
      await wal.close()
    }, 120_000)
  })
})
