import type { NatsConnection } from '@nats-io/transport-node'
import { Wal } from '@waltz/core'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
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
import { recordHeaders, subjectMatches } from '../src/stream.js'
import { tempDir } from './helpers.js'

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

describe('parseReplicatedMessage', () => {
  const payload = new Uint8Array([1, 2, 3])

  it('reads what a replicator writes', () => {
    const h = recordHeaders(42, 'primary%2F1', 'json%20v1', 'a b', 1.5)
    expect(h.get(HEADER.seq)).toBe('42')
    expect(parseReplicatedMessage({ seq: 7, data: payload, headers: h })).toEqual({
      seq: 42,
      streamSeq: 7,
      type: 'a b',
      time: 1.5,
      serializer: 'json v1',
      walId: 'primary/1',
      payload,
    })
    const noType = recordHeaders(1, 'w', 's', undefined, undefined)
    expect(parseReplicatedMessage({ seq: 1, data: payload, header: noType })).toMatchObject({
      type: undefined,
      time: undefined,
    })
  })

  it('rejects messages without the headers, with a typed error', () => {
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
    check({ seq: 3, data: payload }, /^REPLICATION_BAD_MESSAGE: stream message 3: no headers/)
    const badSeq = recordHeaders(1, 'w', 's', 't', 1)
    badSeq.set(HEADER.seq, '1.5')
    check({ seq: 4, data: payload, headers: badSeq }, /bad Waltz-Seq '1.5'/)
    const noSerializer = recordHeaders(1, 'w', 's', 't', 1)
    noSerializer.delete(HEADER.serializer)
    check({ seq: 5, data: payload, headers: noSerializer }, /no Waltz-Serializer/)
    const badType = recordHeaders(1, 'w', 's', 't', 1)
    badType.set(HEADER.type, '%E0%A4%A')
    check({ seq: 6, data: payload, headers: badType }, /bad Waltz-Type/)
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

  it('replicaSerializer stores and returns the bytes verbatim under the source name', async () => {
    const dir = tempDir()
    const bytes = new Uint8Array([9, 8, 7])
    const replica = await Wal.open({ dir, serializer: replicaSerializer('custom/2'), firstSeq: 41 })
    expect(await replica.append({ type: '', time: 0, data: bytes })).toBe(41)
    expect([...(await replica.records().next()).value!.data]).toEqual([9, 8, 7])
    expect(replica.serializerName).toBe('custom/2')
    await replica.close()
  })
})
