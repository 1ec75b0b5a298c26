import { createHash } from 'node:crypto'
import { crc32 } from 'node:zlib'
import type { MsgHdrs, NatsConnection } from '@nats-io/transport-node'
import { Wal } from '@waltz/core'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { collect } from '../../../test-support/collect.js'
import { tempDir } from '../../../test-support/temp-dir.js'
import {
  escapeHeaderValue,
  HEADER,
  isReplicationError,
  parseReplicatedMessage,
  ReplicationError,
  replicaSerializer,
  replicateToJetStream,
  restoreFromJetStream,
} from '../src/index.js'
import { KeySubjects, keyMessage, parseKeyMessage } from '../src/key-messages.js'
import { carriesRecord, recordHeaders, subjectMatches } from '../src/stream.js'

// No server here: the message layout, the errors and the option checks.

describe('header values', () => {
  it('leaves typical names alone and escapes spaces, % and non-ASCII', () => {
    expect(escapeHeaderValue('OrderPlaced')).toBe('OrderPlaced')
    expect(escapeHeaderValue('waltz-bytes/1')).toBe('waltz-bytes/1')
    expect(escapeHeaderValue(' a b%\r\n')).toBe('%20a%20b%25%0D%0A')
    expect(escapeHeaderValue('ünï')).toBe('%C3%BCn%C3%AF')
    expect(escapeHeaderValue('\ud800')).toBeUndefined()
  })

  it('round-trips any string through decodeURIComponent', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (s) => {
        const escaped = escapeHeaderValue(s)!
        expect(escaped).toMatch(/^[\x21-\x7e]*$/)
        expect(decodeURIComponent(escaped)).toBe(s)
      }),
      { seed: 42, numRuns: 500 },
    )
  })
})

/**
 * The headers as a consumer receives them: encoded as on the wire and decoded by the client (whose
 * `MsgHdrsImpl` the client packages do not export, hence the constructor).
 */
function throughWire(h: MsgHdrs): MsgHdrs {
  const wire = h as MsgHdrs & { encode(): Uint8Array; constructor: { decode(bytes: Uint8Array): MsgHdrs } }
  return wire.constructor.decode(wire.encode())
}

describe('an encrypted log on the stream', () => {
  it('a sealed record carries Waltz-Sealed: 1, read back as sealed and compared as such', () => {
    const sealed = { seq: 3, time: 5, type: 't', key: 'k', encrypted: true as const }
    const h = recordHeaders(sealed, 'w', 's')
    expect(h.toString().split('\r\n')).toEqual([
      'NATS/1.0',
      'Waltz-Format: 2',
      'Waltz-Seq: 3',
      'Waltz-Type: t',
      'Waltz-Time: 5',
      'Waltz-Key: k',
      'Waltz-Serializer: s',
      'Waltz-Wal-Id: w',
      'Waltz-Sealed: 1',
      '',
      '',
    ])
    const data = new Uint8Array([9])
    const parsed = parseReplicatedMessage({ seq: 1, data, headers: throughWire(h) })
    expect(parsed.sealed).toBe(true)
    expect(carriesRecord(parsed, { ...sealed, data })).toBe(true)
    const { encrypted: _, ...plain } = sealed
    expect(carriesRecord(parsed, { ...plain, data })).toBe(false)
    const bad = recordHeaders(sealed, 'w', 's')
    bad.set(HEADER.sealed, 'yes')
    expect(() => parseReplicatedMessage({ seq: 1, data, headers: bad })).toThrow(
      expect.objectContaining({ code: 'REPLICATION_BAD_MESSAGE' }),
    )
  })

  it('a key message: its subject, headers and body (the key store entry) exactly', () => {
    const subjects = new KeySubjects('waltz.orders')
    const wrapped = new Uint8Array(60).fill(7)
    const entry = { kind: 'key' as const, keyId: 'customer-7', wrapped }
    const m = keyMessage(entry, subjects, 'primary%2F1', 5000)
    // sha256('customer-7')
    expect(m.subject).toBe(`waltz.orders.wzk.key.${createHash('sha256').update('customer-7').digest('hex')}`)
    expect((m.options.headers as MsgHdrs).toString().split('\r\n')).toEqual([
      'NATS/1.0',
      'Waltz-Keys: 1',
      'Waltz-Wal-Id: primary%2F1',
      '',
      '',
    ])
    // u32 body length | kind 2 | u16 id length | id | 60 bytes | CRC-32 of kind and body
    const id = Buffer.from('customer-7')
    const body = Buffer.concat([Buffer.from([id.length, 0]), id, wrapped])
    const kindAndBody = Buffer.concat([Buffer.from([2]), body])
    const crc = Buffer.alloc(4)
    crc.writeUInt32LE(crc32(kindAndBody))
    const length = Buffer.alloc(4)
    length.writeUInt32LE(body.length)
    expect(Buffer.from(m.payload)).toEqual(Buffer.concat([length, kindAndBody, crc]))
    expect(
      parseKeyMessage({ seq: 9, subject: m.subject, data: m.payload, headers: m.options.headers }, subjects),
    ).toEqual({
      entry: { ...entry, wrapped: Buffer.from(wrapped) },
      subject: m.subject,
      streamSeq: 9,
    })
    const header = { kind: 'header' as const, masterKeyId: 'm1', wrappedKek: new Uint8Array(60) }
    expect(keyMessage(header, subjects, 'w', 1).subject).toBe('waltz.orders.wzk.kek')
    expect(subjects.holds('waltz.orders.wzk.kek') && !subjects.holds('waltz.orders')).toBe(true)
    // On another subject than its own, or damaged: REPLICATION_BAD_MESSAGE.
    const other = { seq: 9, subject: subjects.key('x'), data: m.payload, headers: m.options.headers }
    expect(() => parseKeyMessage(other, subjects)).toThrow(
      expect.objectContaining({ code: 'REPLICATION_BAD_MESSAGE' }),
    )
    const damaged = Buffer.from(m.payload)
    damaged[20]! ^= 1
    expect(() =>
      parseKeyMessage({ seq: 9, subject: m.subject, data: damaged, headers: m.options.headers }, subjects),
    ).toThrow(expect.objectContaining({ code: 'REPLICATION_BAD_MESSAGE' }))
  })
})

describe('message layout', () => {
  const payload = new Uint8Array([1, 2, 3])
  const record = {
    seq: 42,
    time: 1_700_000_000_123,
    type: 'a b',
    key: 'order 7/ü',
    headers: { 'correlation-id': 'c-1', 'Caus: ätion %id': ' v\r\n', A: 'upper', a: 'lower', '': '' },
  }

  it('carries the envelope in headers, one per record header, all printable ASCII', () => {
    // The message a replicator publishes for `record` (body: the data bytes as stored), exactly.
    const h = recordHeaders(record, 'primary%2F1', 'json%20v1')
    expect(h.toString().split('\r\n')).toEqual([
      'NATS/1.0',
      'Waltz-Format: 2',
      'Waltz-Seq: 42',
      'Waltz-Type: a%20b',
      'Waltz-Time: 1700000000123',
      'Waltz-Key: order%207/%C3%BC',
      'Waltz-Headers: 5',
      'Waltz-Header-correlation-id: c-1',
      'Waltz-Header-Caus%3A%20%C3%A4tion%20%25id: %20v%0D%0A',
      'Waltz-Header-A: upper',
      'Waltz-Header-a: lower',
      'Waltz-Header-: ',
      'Waltz-Serializer: json%20v1',
      'Waltz-Wal-Id: primary%2F1',
      '',
      '',
    ])
    // Without key and headers, neither `Waltz-Key` nor `Waltz-Headers` is there; `{}` is `Waltz-Headers: 0`.
    const bare = recordHeaders({ seq: 1, time: 0, type: '' }, 'w', 's')
    expect(bare.keys()).toEqual([
      HEADER.format,
      HEADER.seq,
      HEADER.type,
      HEADER.time,
      HEADER.serializer,
      HEADER.walId,
    ])
    const empty = recordHeaders({ seq: 1, time: 0, type: 't', key: '', headers: {} }, 'w', 's')
    expect(empty.get(HEADER.headerCount)).toBe('0')
    expect(empty.has(HEADER.key)).toBe(true)
  })

  it('reads back what a replicator writes, key and headers absent where absent', () => {
    const h = recordHeaders(record, 'primary%2F1', 'json%20v1')
    // Through the wire encoding, as a consumer receives it.
    const received = throughWire(h)
    const parsed = parseReplicatedMessage({ seq: 7, data: payload, headers: received })
    expect(parsed).toStrictEqual({
      seq: 42,
      streamSeq: 7,
      type: 'a b',
      time: 1_700_000_000_123,
      key: 'order 7/ü',
      headers: record.headers,
      serializer: 'json v1',
      walId: 'primary/1',
      payload,
    })
    expect(carriesRecord(parsed, { ...record, data: payload })).toBe(true)
    expect(carriesRecord(parsed, { ...record, headers: { ...record.headers, a: 'x' }, data: payload })).toBe(
      false,
    )
    expect(carriesRecord(parsed, { ...record, key: undefined as never, data: payload })).toBe(false)
    expect(carriesRecord(parsed, { ...record, data: new Uint8Array([1, 2]) })).toBe(false)

    const bare = parseReplicatedMessage({
      seq: 1,
      data: payload,
      header: recordHeaders({ seq: 1, time: 0, type: '' }, 'w', 's'),
    })
    expect(bare).toStrictEqual({
      seq: 1,
      streamSeq: 1,
      type: '',
      time: 0,
      serializer: 's',
      walId: 'w',
      payload,
    })
    expect('key' in bare || 'headers' in bare).toBe(false)
    const proto = recordHeaders(
      { seq: 1, time: 0, type: 't', headers: JSON.parse('{"__proto__":"p"}') },
      'w',
      's',
    )
    const withProto = parseReplicatedMessage({ seq: 1, data: payload, headers: proto })
    expect(Object.getPrototypeOf(withProto.headers)).toBe(Object.prototype)
    expect(Object.entries(withProto.headers!)).toEqual([['__proto__', 'p']])
  })

  it('round-trips any key, header name and header value', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme' }),
        fc.dictionary(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' })),
        (key, headers) => {
          const h = throughWire(recordHeaders({ seq: 3, time: 5, type: 't', key, headers }, 'w', 's'))
          const parsed = parseReplicatedMessage({ seq: 1, data: payload, headers: h })
          expect(parsed.key).toBe(key)
          expect(parsed.headers).toStrictEqual({ ...headers }) // fast-check dictionaries have no prototype
        },
      ),
      { seed: 42, numRuns: 300 },
    )
  })

  it('rejects messages without the headers, or of another layout, with a typed error', () => {
    const check = (msg: Parameters<typeof parseReplicatedMessage>[0], pattern: RegExp) => {
      try {
        parseReplicatedMessage(msg)
        expect.fail('parsed')
      } catch (err) {
        expect(isReplicationError(err, 'REPLICATION_BAD_MESSAGE')).toBe(true)
        expect(err).toMatchObject({ name: 'ReplicationError', streamSeq: msg.seq })
        expect((err as Error).message).toMatch(pattern)
      }
    }
    const broken = (change: (h: MsgHdrs) => void) => {
      const h = recordHeaders({ seq: 1, time: 1, type: 't', headers: { x: '1' } }, 'w', 's')
      change(h)
      return h
    }
    check({ seq: 3, data: payload }, /^REPLICATION_BAD_MESSAGE: stream message 3: no headers/)
    // The layout before core v2: no Waltz-Format, the whole encoded record in the body.
    check(
      { seq: 4, data: payload, headers: broken((h) => h.delete(HEADER.format)) },
      /Waltz-Format '', not 2 \(published by an older replicator\?\)/,
    )
    check({ seq: 4, data: payload, headers: broken((h) => h.set(HEADER.seq, '1.5')) }, /bad Waltz-Seq '1.5'/)
    check(
      { seq: 4, data: payload, headers: broken((h) => h.set(HEADER.time, '1.5')) },
      /bad Waltz-Time '1.5'/,
    )
    check(
      { seq: 4, data: payload, headers: broken((h) => h.set(HEADER.time, String(2 ** 48))) },
      /bad Waltz-Time/,
    )
    check(
      { seq: 5, data: payload, headers: broken((h) => h.delete(HEADER.serializer)) },
      /no Waltz-Serializer/,
    )
    check({ seq: 5, data: payload, headers: broken((h) => h.delete(HEADER.type)) }, /no Waltz-Type/)
    check({ seq: 6, data: payload, headers: broken((h) => h.set(HEADER.type, '%E0%A4%A')) }, /bad Waltz-Type/)
    check({ seq: 6, data: payload, headers: broken((h) => h.set(HEADER.key, '%E0%A4%A')) }, /bad Waltz-Key/)
    check(
      { seq: 7, data: payload, headers: broken((h) => h.set(HEADER.headerCount, '2')) },
      /Waltz-Headers says 2, the message has 1/,
    )
    check(
      { seq: 7, data: payload, headers: broken((h) => h.delete(HEADER.headerCount)) },
      /Waltz-Header-\* headers without Waltz-Headers/,
    )
    check(
      { seq: 7, data: payload, headers: broken((h) => h.append(`${HEADER.headerPrefix}x`, '2')) },
      /2 values of Waltz-Header-x/,
    )
  })
})

describe('subjects', () => {
  it('matches NATS wildcards', () => {
    expect(subjectMatches('waltz.orders', 'waltz.orders')).toBe(true)
    expect(subjectMatches('waltz.*', 'waltz.orders')).toBe(true)
    expect(subjectMatches('waltz.>', 'waltz.orders.eu')).toBe(true)
    expect(subjectMatches('>', 'a')).toBe(true)
    expect(subjectMatches('waltz.*', 'waltz.orders.eu')).toBe(false)
    expect(subjectMatches('waltz.>', 'waltz')).toBe(false)
    expect(subjectMatches('waltz.orders', 'waltz')).toBe(false)
  })
})

describe('errors and options', () => {
  it('ReplicationError carries a stable code, seq, stream seq and cause', () => {
    const cause = new Error('timeout')
    const err = new ReplicationError('REPLICATION_GAP', 'seq 5 is missing', { seq: 5, streamSeq: 9, cause })
    expect(err).toBeInstanceOf(Error)
    expect(err).toMatchObject({
      name: 'ReplicationError',
      code: 'REPLICATION_GAP',
      seq: 5,
      streamSeq: 9,
      cause,
    })
    expect(err.message).toBe('REPLICATION_GAP: seq 5 is missing')
    expect(isReplicationError(err)).toBe(true)
    expect(isReplicationError(err, 'REPLICATION_DIVERGED')).toBe(false)
    expect(isReplicationError({ name: 'ReplicationError', code: 'REPLICATION_GAP' }, 'REPLICATION_GAP')).toBe(
      true,
    )
    expect(isReplicationError(new Error('x'))).toBe(false)
    expect(isReplicationError(null)).toBe(false)
  })

  it('rejects bad options before touching the connection', async () => {
    const wal = await Wal.open({ dir: tempDir() })
    const nc = {} as NatsConnection // never used: the checks come first
    const invalid = (options: Partial<Parameters<typeof replicateToJetStream>[0]>) => {
      try {
        replicateToJetStream({ wal, nc, stream: 'S', subject: 'a.b', ...options })
        expect.fail('accepted')
      } catch (err) {
        expect(isReplicationError(err, 'REPLICATION_INVALID_ARGUMENT')).toBe(true)
      }
    }
    invalid({ subject: 'a.*' })
    invalid({ subject: 'a..b' })
    invalid({ subject: '' })
    invalid({ stream: '' })
    invalid({ walId: 'has space' })
    invalid({ walId: '' })
    invalid({ maxInFlight: 0 })
    invalid({ publishTimeoutMs: 1.5 })
    await expect(restoreFromJetStream({ nc, stream: 'S', subject: 'a.>', dir: tempDir() })).rejects.toSatisfy(
      (err) => isReplicationError(err, 'REPLICATION_INVALID_ARGUMENT'),
    )
    await expect(
      restoreFromJetStream({ nc, stream: 'S', subject: 'a', dir: tempDir(), batchSize: 0 }),
    ).rejects.toSatisfy((err) => isReplicationError(err, 'REPLICATION_INVALID_ARGUMENT'))
    await wal.close()
  })

  it('replicaSerializer stores data as it is under the source name, with no envelope of its own', async () => {
    const dir = tempDir()
    const bytes = new Uint8Array([9, 8, 7])
    const replica = await Wal.open({ dir, serializer: replicaSerializer('custom/2'), firstSeq: 41 })
    expect(await replica.append({ type: 't', time: 5, key: 'k', data: bytes })).toBe(41)
    expect(await replica.appendRaw([{ seq: 42, type: 'u', time: 6, data: new Uint8Array(0) }])).toBe(42)
    const records = (await collect(replica.records())).map((r) => ({ ...r, data: [...r.data] }))
    expect(records).toStrictEqual([
      { seq: 41, time: 5, type: 't', key: 'k', data: [9, 8, 7] },
      { seq: 42, time: 6, type: 'u', data: [] },
    ])
    expect(replica.serializerName).toBe('custom/2')
    await replica.close()
  })
})
