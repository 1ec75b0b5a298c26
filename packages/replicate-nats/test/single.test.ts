import { join } from 'node:path'
import { type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream'
import type { NatsConnection } from '@nats-io/transport-node'
import { Wal } from '@waltz/core'
import { beforeAll, describe, expect, it } from 'vitest'
import { tempDir } from '../../../test-support/temp-dir.js'
import {
  ensureStream,
  HEADER,
  isReplicationError,
  parseReplicatedMessage,
  replicateToJetStream,
  restoreFromJetStream,
} from '../src/index.js'
import { recordHeaders } from '../src/stream.js'
import {
  appendEvents,
  type Event,
  eventAt,
  eventSerializer,
  expectReplicaEquals,
  followStream,
  openSource,
} from './helpers.js'
import { eventually, jetStreamSuite, NO_NATS_SERVER, startServer } from './nats.js'

describe.skipIf(NO_NATS_SERVER)('single JetStream server', () => {
  const suite = jetStreamSuite('S', startServer)
  const { newStream, replicate } = suite
  let nc: NatsConnection
  let jsm: JetStreamManager
  beforeAll(() => {
    ;({ nc, jsm } = suite)
  })

  it('publishes every record with its headers and message id, and a restore equals the source', async () => {
    const { stream, subject } = await newStream()
    const wal = await openSource(tempDir())
    await appendEvents(wal, 1500)
    const replicator = replicate({ wal, nc, stream, subject, walId: 'primary-1' })
    await appendEvents(wal, 500)
    await replicator.waitFor(wal.lastSeq)
    const m = replicator.metrics()
    expect(m).toMatchObject({
      state: 'replicating',
      replicatedSeq: 2000,
      lag: 0,
      published: 2000,
      duplicates: 0,
    })

    const info = await jsm.streams.info(stream)
    expect(info.state.messages).toBe(2000)
    const stored = await jsm.streams.getMessage(stream, { seq: 2 })
    expect(stored!.header.get('Nats-Msg-Id')).toBe('primary-1:2')
    expect(stored!.header.get(HEADER.format)).toBe('2')
    expect(stored!.header.get(HEADER.seq)).toBe('2')
    expect(stored!.header.get(HEADER.walId)).toBe('primary-1')
    expect(stored!.header.get(HEADER.serializer)).toBe('test-json/1')
    expect(stored!.header.get(HEADER.type)).toBe('note%20with%20spaces/%C3%BCn%C3%AFcode')
    expect(stored!.header.get(HEADER.time)).toBe('1700000000002')
    expect(stored!.header.get(HEADER.key)).toBe('account%202/%C3%BC')
    expect(stored!.header.get(HEADER.headerCount)).toBe('5')
    expect(stored!.header.get(`${HEADER.headerPrefix}Caus%3A%20%C3%A4tion%20%25id`)).toBe(
      '%20v%202%0D%0A%2520',
    )
    // The body is the record's data as stored, not decoded and re-encoded.
    expect(Buffer.from(stored!.data).toString()).toBe('{"n":2,"text":"xx"}')
    // Keys and headers whose names and values need escaping come back exactly, through the server.
    const parsed = parseReplicatedMessage(stored!)
    expect(parsed).toStrictEqual({
      seq: 2,
      streamSeq: 2,
      type: 'note with spaces/ünïcode',
      time: 1_700_000_000_002,
      key: 'account 2/ü',
      headers: { ...eventAt(2).headers },
      serializer: 'test-json/1',
      walId: 'primary-1',
      payload: stored!.data,
    })
    expect(Object.keys(parsed.headers!)).toEqual(['Caus: ätion %id', 'A', 'a', '', '__proto__'])
    expect(eventSerializer.decode(parsed.payload, parsed.type as Event['type'])).toEqual({ n: 2, text: 'xx' })
    expect(parseReplicatedMessage((await jsm.streams.getMessage(stream, { seq: 6 }))!)).toMatchObject({
      key: '',
    })
    const bare = parseReplicatedMessage((await jsm.streams.getMessage(stream, { seq: 20 }))!)
    expect('key' in bare || 'headers' in bare).toBe(false)

    const dir = join(tempDir(), 'replica')
    const restored = await restoreFromJetStream({ nc, stream, subject, dir })
    expect(restored).toEqual({
      firstSeq: 1,
      lastSeq: 2000,
      restored: 2000,
      serializer: 'test-json/1',
      encrypted: false,
    })
    await expectReplicaEquals(wal, dir)
    await replicator.stop()
    expect(replicator.metrics().state).toBe('stopped')
    await wal.close()
  })

  it("resumes after a stop from the stream's last record: no gap, no duplicate", async () => {
    const { stream, subject } = await newStream()
    const wal = await openSource(tempDir())
    await appendEvents(wal, 700)
    const first = replicate({ wal, nc, stream, subject, maxInFlight: 16 })
    await first.waitFor(700)
    await first.stop()
    await appendEvents(wal, 300)
    expect((await jsm.streams.info(stream)).state.messages).toBe(700)
    const second = replicate({ wal, nc, stream, subject })
    await second.waitFor(1000)
    expect(second.metrics()).toMatchObject({ replicatedSeq: 1000, published: 300, duplicates: 0, retries: 0 })
    const info = await jsm.streams.info(stream)
    expect(info.state).toMatchObject({ messages: 1000, first_seq: 1, last_seq: 1000 })
    // A third start with nothing new publishes nothing.
    await second.stop()
    const third = replicate({ wal, nc, stream, subject })
    await third.waitFor(1000)
    await new Promise((r) => setTimeout(r, 100))
    expect(third.metrics()).toMatchObject({ published: 0, duplicates: 0, lag: 0 })
    await third.stop()
    const dir = tempDir()
    await restoreFromJetStream({ nc, stream, subject, dir })
    await expectReplicaEquals(wal, dir)
    await wal.close()
  })

  it('restores incrementally into an existing replica, and follows the stream until aborted', async () => {
    const { stream, subject } = await newStream()
    const wal = await openSource(tempDir())
    await appendEvents(wal, 400)
    const replicator = replicate({ wal, nc, stream, subject })
    await replicator.waitFor(400)
    const dir = tempDir()
    expect(await restoreFromJetStream({ nc, stream, subject, dir })).toMatchObject({
      lastSeq: 400,
      restored: 400,
    })
    await appendEvents(wal, 250)
    await replicator.waitFor(650)
    expect(await restoreFromJetStream({ nc, stream, subject, dir })).toEqual({
      firstSeq: 1,
      lastSeq: 650,
      restored: 250,
      serializer: 'test-json/1',
      encrypted: false,
    })
    expect(await restoreFromJetStream({ nc, stream, subject, dir })).toMatchObject({
      lastSeq: 650,
      restored: 0,
    })

    // Follow: records appended to the source reach the replica, which a reader tails read-only.
    const following = followStream({ nc, stream, subject, dir, batchSize: 64 })
    const reader = await Wal.openReader({ dir, serializer: eventSerializer })
    const seen: number[] = []
    const tailing = (async () => {
      for await (const r of reader.tail({ from: 651, signal: following.signal })) {
        expect(r.data.n).toBe(r.seq)
        seen.push(r.seq)
      }
    })()
    for (let i = 0; i < 5; i++) {
      await appendEvents(wal, 60, 7)
      await new Promise((r) => setTimeout(r, 20))
    }
    await eventually(async () => expect(following.progress()).toBe(950))
    await eventually(async () => expect(seen.length).toBe(300))
    expect(await following.stop()).toMatchObject({ lastSeq: 950, restored: 300 })
    await tailing
    await reader.close()
    await expectReplicaEquals(wal, dir)
    await replicator.stop()
    await wal.close()
  })

  it('replicates a log whose first segments were truncated: the replica starts at the same seq', async () => {
    const { stream, subject } = await newStream()
    const wal = await openSource(tempDir(), 4096)
    await appendEvents(wal, 600, 10)
    await wal.truncateBefore(400)
    expect(wal.firstSeq).toBeGreaterThan(1)
    const replicator = replicate({ wal, nc, stream, subject })
    await replicator.waitFor(600)
    expect(replicator.metrics().published).toBe(600 - wal.firstSeq + 1)
    const dir = tempDir()
    expect(await restoreFromJetStream({ nc, stream, subject, dir })).toMatchObject({
      firstSeq: wal.firstSeq,
      lastSeq: 600,
    })
    await expectReplicaEquals(wal, dir)

    // Records truncated locally before they were replicated: a gap, reported, never skipped.
    await replicator.stop()
    await appendEvents(wal, 600, 10)
    await wal.truncateBefore(1000)
    const gapped = replicate({ wal, nc, stream, subject })
    await expect(gapped.done).rejects.toSatisfy((err) => isReplicationError(err, 'REPLICATION_GAP'))
    expect(gapped.metrics().state).toBe('failed')
    await expect(gapped.waitFor(1200)).rejects.toSatisfy((err) =>
      isReplicationError(err, 'REPLICATION_CLOSED'),
    )
    await wal.close()
  })

  it('refuses to publish a log that is not the one the stream holds', async () => {
    const { stream, subject } = await newStream()
    const wal = await openSource(tempDir())
    await appendEvents(wal, 50)
    const replicator = replicate({ wal, nc, stream, subject })
    await replicator.waitFor(50)
    await replicator.stop()

    // A new, shorter log (the primary's disk was lost): the stream is ahead of it.
    const fresh = await openSource(tempDir())
    await appendEvents(fresh, 10)
    const ahead = replicate({ wal: fresh, nc, stream, subject })
    await expect(ahead.done).rejects.toSatisfy((err) => isReplicationError(err, 'REPLICATION_DIVERGED'))
    // Another log of the same length with other bytes at the stream's last seq.
    await fresh.appendBatch(
      Array.from({ length: 40 }, () => ({ type: 'deposit' as const, data: { n: 0, text: '' } })),
    )
    const other = replicate({ wal: fresh, nc, stream, subject })
    await expect(other.done).rejects.toSatisfy((err) => isReplicationError(err, 'REPLICATION_DIVERGED'))
    // A log whose record at the stream's last seq has the same data bytes but another key.
    const rekeyed = await openSource(tempDir())
    await appendEvents(rekeyed, 49)
    await rekeyed.append({ ...eventAt(50), key: 'another key' })
    const keyed = replicate({ wal: rekeyed, nc, stream, subject })
    await expect(keyed.done).rejects.toThrow(/seq 50 is another record in the stream than in the WAL/)
    // A log of another serializer.
    const bytes = await Wal.open({ dir: tempDir() })
    await bytes.append({ type: 'x', data: new Uint8Array([1]) })
    const serializer = replicate({ wal: bytes, nc, stream, subject })
    await expect(serializer.done).rejects.toThrow(/serializer 'test-json\/1', the WAL 'waltz-bytes\/1'/)
    expect((await jsm.streams.info(stream)).state.messages).toBe(50)

    // A replica that is not a prefix of the stream.
    const replicaDir = tempDir()
    await restoreFromJetStream({ nc, stream, subject: `${subject}`, dir: replicaDir })
    const { subject: otherSubject, stream: otherStream } = await newStream()
    const otherPrimary = replicate({ wal: fresh, nc, stream: otherStream, subject: otherSubject })
    await otherPrimary.waitFor(50)
    await otherPrimary.stop()
    await expect(
      restoreFromJetStream({ nc, stream: otherStream, subject: otherSubject, dir: replicaDir }),
    ).rejects.toSatisfy((err) => isReplicationError(err, 'REPLICATION_DIVERGED'))
    // A replica whose last record differs from the stream's only in its key.
    const { subject: keyedSubject, stream: keyedStream } = await newStream()
    const keyedPrimary = replicate({ wal: rekeyed, nc, stream: keyedStream, subject: keyedSubject })
    await keyedPrimary.waitFor(50)
    await keyedPrimary.stop()
    await expect(
      restoreFromJetStream({ nc, stream: keyedStream, subject: keyedSubject, dir: replicaDir }),
    ).rejects.toThrow(/seq 50 of the replica in .* differs from the stream's/)
    await Promise.all([wal.close(), fresh.close(), rekeyed.close(), bytes.close()])
  })

  it('reports a gap or a foreign message in the stream instead of skipping it', async () => {
    const { stream, subject } = await newStream()
    const js = jetstream(nc)
    const publish = (seq: number) => {
      const { type, time, data } = eventAt(seq)
      const h = recordHeaders({ seq, type, time: time! }, 'by-hand', 'test-json/1')
      return js.publish(subject, eventSerializer.encode(data, type), { headers: h })
    }
    await publish(1)
    await publish(2)
    await publish(4)
    const dir = tempDir()
    const gap = await restoreFromJetStream({ nc, stream, subject, dir }).catch((err: unknown) => err)
    expect(isReplicationError(gap, 'REPLICATION_GAP')).toBe(true)
    expect(gap).toMatchObject({ seq: 3, streamSeq: 3 })
    // What came before the gap was kept: a later restore resumes there, and fails at the same place.
    const replica = await Wal.openReader({ dir, serializer: eventSerializer })
    expect(replica.lastSeq).toBe(2)
    await replica.close()

    const { stream: s2, subject: sub2 } = await newStream()
    await js.publish(sub2, new Uint8Array([1, 2, 3]))
    await expect(restoreFromJetStream({ nc, stream: s2, subject: sub2, dir: tempDir() })).rejects.toSatisfy(
      (err) => isReplicationError(err, 'REPLICATION_BAD_MESSAGE'),
    )
    // An empty stream restores nothing and creates nothing.
    const { stream: s3, subject: sub3 } = await newStream()
    expect(
      await restoreFromJetStream({ nc, stream: s3, subject: sub3, dir: join(tempDir(), 'none') }),
    ).toEqual({
      firstSeq: 0,
      lastSeq: 0,
      restored: 0,
      serializer: undefined,
      encrypted: false,
    })
  })

  it('refuses to resume over a hole in the stream (a message deleted or lost): REPLICATION_GAP, never lag 0', async () => {
    const { stream, subject } = await newStream()
    const wal = await openSource(tempDir())
    await appendEvents(wal, 20)
    const first = replicate({ wal, nc, stream, subject })
    await first.waitFor(20)
    await first.stop()
    // The last message is intact, so resuming after it alone would look right.
    expect(await jsm.streams.deleteMessage(stream, 7)).toBe(true)
    await appendEvents(wal, 5)
    const second = replicate({ wal, nc, stream, subject })
    const err = await second.done.catch((e: unknown) => e)
    expect(isReplicationError(err, 'REPLICATION_GAP')).toBe(true)
    expect((err as Error).message).toMatch(/holds 19 messages from seq 1 to 20, not 20/)
    expect(second.metrics()).toMatchObject({ state: 'failed', replicatedSeq: 0 })
    await wal.close()
  })

  it('replicates a log that a WalReader follows while another writer appends', async () => {
    const { stream, subject } = await newStream()
    const dir = tempDir()
    const wal = await openSource(dir)
    await appendEvents(wal, 300)
    const reader = await Wal.openReader({ dir, serializer: eventSerializer })
    const replicator = replicate({ wal: reader, nc, stream, subject })
    await appendEvents(wal, 200, 20) // seen by the reader's polling tail
    await replicator.waitFor(500)
    expect(replicator.metrics()).toMatchObject({ replicatedSeq: 500, published: 500 })
    const replica = tempDir()
    await restoreFromJetStream({ nc, stream, subject, dir: replica })
    await expectReplicaEquals(wal, replica)
    await replicator.stop()
    await reader.close()
    await wal.close()
    // An empty log opened without a serializer has no serializer name to publish.
    const empty = await Wal.openReader({ dir: tempDir() })
    expect(() => replicateToJetStream({ wal: empty, nc, stream, subject })).toThrow(
      /holds no record and the reader has no serializer/,
    )
    await empty.close()
  })

  it('stops at once when stop() is called while it is starting', async () => {
    const { stream, subject } = await newStream()
    const wal = await openSource(tempDir())
    await appendEvents(wal, 10)
    const replicator = replicate({ wal, nc, stream, subject })
    expect(replicator.metrics().state).toBe('starting')
    const stopped = await Promise.race([
      replicator.stop().then(() => 'stopped'),
      new Promise((resolve) => setTimeout(() => resolve('still running after 3 s'), 3000)),
    ])
    expect(stopped).toBe('stopped')
    expect(replicator.metrics().state).toBe('stopped')
    await wal.close()
  })

  it('pauses during a JetStream outage while the WAL keeps appending, then catches up', async () => {
    const own = await startServer()
    const conn = await own.connect()
    await ensureStream(await jetstreamManager(conn), { stream: 'OUTAGE', subject: 'waltz.outage' })
    const wal = await openSource(tempDir())
    const replicator = replicate({
      wal,
      nc: conn,
      stream: 'OUTAGE',
      subject: 'waltz.outage',
      publishTimeoutMs: 1000,
      retryMaxMs: 500,
    })
    await appendEvents(wal, 500)
    await replicator.waitFor(500)

    await own.servers[0]!.stop()
    await appendEvents(wal, 1000, 50) // the WAL does not wait for JetStream
    expect(wal.lastSeq).toBe(1500)
    await eventually(async () => expect(replicator.metrics().state).toBe('paused'))
    const paused = replicator.metrics()
    expect(paused.lag).toBeGreaterThan(0)
    expect(paused.replicatedSeq).toBeLessThan(1500)
    expect(paused.lastError).toBeInstanceOf(Error)

    await own.servers[0]!.start()
    await appendEvents(wal, 100)
    await replicator.waitFor(1600)
    const after = replicator.metrics()
    expect(after).toMatchObject({ state: 'replicating', lag: 0, replicatedSeq: 1600 })
    expect(after.retries).toBeGreaterThan(0)
    expect(after.maxLag).toBeGreaterThan(0)
    const info = await (await jetstreamManager(conn)).streams.info('OUTAGE')
    expect(info.state).toMatchObject({ messages: 1600, last_seq: 1600 })
    const dir = tempDir()
    await restoreFromJetStream({ nc: conn, stream: 'OUTAGE', subject: 'waltz.outage', dir })
    await expectReplicaEquals(wal, dir)
    await replicator.stop()
    await wal.close()
    await conn.close()
  })
})
