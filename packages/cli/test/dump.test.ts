import { once } from 'node:events'
import { basename } from 'node:path'
import { Wal } from '@waltz/core'
import { binarySerializer } from '@waltz/serializer-binary'
import { jsonSerializer } from '@waltz/serializer-json'
import { protoSerializer } from '@waltz/serializer-proto'
import { describe, expect, it } from 'vitest'
import {
  BYTES_FRAME,
  bytesRecord,
  flipByte,
  headerSize,
  lines,
  ORDER_EVENTS_PROTO,
  orderEventTypes,
  segmentFiles,
  tempDir,
  waltz,
  waltzAsync,
  writeLog,
  z,
} from './helpers.js'

const iso = (seq: number) => new Date(1_700_000_000_000 + seq * 1000).toISOString()

/** The ndjson line of record `seq` as written by `writeLog`. */
const record = (seq: number, type: string, data: unknown, extra: { v?: number } = {}) => ({
  seq,
  type,
  time: iso(seq),
  timeMs: 1_700_000_000_000 + seq * 1000,
  ...extra,
  data,
})

describe('waltz dump', () => {
  it('ndjson of a range of a bytes log: seq, type, time (ISO and ms), data as base64', async () => {
    const dir = tempDir()
    await writeLog(dir, 30, bytesRecord, { segmentSize: 512 })
    const r = waltz('dump', dir, '--from', '9', '--to', '21')
    expect(r.code).toBe(0)
    expect(r.stderr).toBe('')
    const records = lines(r.stdout)
    expect(records).toHaveLength(13)
    expect(records[0]).toEqual({
      seq: 9,
      type: 'evt',
      time: iso(9),
      timeMs: 1_700_000_009_000,
      data: { $bytes: Buffer.from([9, 1, 2]).toString('base64') },
    })
    expect(records.map((x) => (x as { seq: number }).seq)).toEqual(
      Array.from({ length: 13 }, (_, i) => i + 9),
    )
    expect(lines(waltz('dump', dir).stdout)).toHaveLength(30)
  })

  it('binary (msgpackr) records: bigint, Date, Map, Set and bytes in their documented JSON form', async () => {
    const dir = tempDir()
    await writeLog(
      dir,
      3,
      (seq) => ({
        type: 'OrderPlaced',
        data: {
          id: `o-${seq}`,
          price: 10n ** 20n + BigInt(seq),
          at: new Date(0),
          legs: new Map([['a', 1]]),
          tags: new Set(['x']),
          raw: new Uint8Array([255]),
        },
      }),
      { serializer: binarySerializer() },
    )
    const r = waltz('dump', dir, '--from', '2', '--to', '2')
    expect(r.code).toBe(0)
    expect(lines(r.stdout)).toEqual([
      {
        seq: 2,
        type: 'OrderPlaced',
        time: iso(2),
        timeMs: 1_700_000_002_000,
        data: {
          id: 'o-2',
          price: { $bigint: '100000000000000000002' },
          at: { $date: '1970-01-01T00:00:00.000Z' },
          legs: { $map: [['a', 1]] },
          tags: { $set: ['x'] },
          raw: { $bytes: '/w==' },
        },
      },
    ])
  })

  it('json records are shown as stored (with v), and stderr says they are not validated', async () => {
    const dir = tempDir()
    const serializer = jsonSerializer({
      schemas: { Deposit: z.object({ account: z.string(), amount: z.int() }) },
    })
    await writeLog(
      dir,
      5,
      (seq) => ({ type: 'Deposit' as const, data: { account: `a${seq}`, amount: seq * 10 } }),
      {
        serializer,
      },
    )
    const r = waltz('dump', dir, '--to', '2')
    expect(r.code).toBe(0)
    expect(lines(r.stdout)).toEqual([
      record(1, 'Deposit', { account: 'a1', amount: 10 }, { v: 1 }),
      record(2, 'Deposit', { account: 'a2', amount: 20 }, { v: 1 }),
    ])
    expect(r.stderr).toContain(
      'waltz-json/1 records are shown as stored: not validated by the schemas, not upcast',
    )
    const table = waltz('dump', dir, '--format', 'table', '--from', '5')
    expect(table.stdout.split('\n')).toEqual([
      '       SEQ  TIME                      TYPE                  DATA',
      `         5  ${iso(5)}  Deposit               {"account":"a5","amount":50}`,
      '',
    ])
  })

  it('proto records: the envelope without --proto, the payload decoded with --proto', async () => {
    const dir = tempDir()
    const serializer = protoSerializer({ types: orderEventTypes() })
    await writeLog(
      dir,
      2,
      (seq) => ({ type: 'OrderCancelled', data: { orderId: `o-${seq}`, reason: 'user' } }),
      {
        serializer: serializer as never,
      },
    )
    const bare = waltz('dump', dir, '--to', '1')
    expect(bare.code).toBe(0)
    expect(lines(bare.stdout)).toEqual([record(1, 'OrderCancelled', { $bytes: expect.any(String) })])
    expect(bare.stderr).toContain('pass --proto <file.proto> to decode it')
    const decoded = waltz('dump', dir, '--proto', ORDER_EVENTS_PROTO)
    expect(decoded.code).toBe(0)
    expect(decoded.stderr).toBe('')
    expect(lines(decoded.stdout).map((x) => (x as { data: unknown }).data)).toEqual([
      { orderId: 'o-1', reason: 'user' },
      { orderId: 'o-2', reason: 'user' },
    ])
  })

  it('table, hex and --serializer raw formats', async () => {
    const dir = tempDir()
    await writeLog(dir, 5, bytesRecord)
    const first = segmentFiles(dir)[0]!
    const table = waltz('dump', dir, '--format', 'table', '--to', '2')
    expect(table.stdout.split('\n')).toEqual([
      '       SEQ  TIME                      TYPE                  DATA',
      `         1  ${iso(1)}  evt                   {"$bytes":"AQEC"}`,
      `         2  ${iso(2)}  evt                   {"$bytes":"AgEC"}`,
      '',
    ])
    const hex = waltz('dump', dir, '--format', 'hex', '--from', '3', '--to', '3')
    const offset = headerSize(first) + 2 * BYTES_FRAME
    const payload = Buffer.alloc(15)
    payload.writeDoubleLE(1_700_000_003_000, 0)
    payload.set([3, 0x65, 0x76, 0x74, 3, 1, 2], 8)
    expect(hex.stdout).toBe(
      `seq 3  ${basename(first)} @ ${offset}  (15 B)\n` +
        `  00000000  ${[...payload.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ')}  03 65 76 74 03 01 02     |${[...payload.subarray(0, 8)].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('')}.evt...|\n`,
    )
    const raw = waltz('dump', dir, '--serializer', 'raw', '--from', '3', '--to', '3')
    expect(lines(raw.stdout)).toEqual([
      { seq: 3, size: 15, file: basename(first), offset, payload: payload.toString('base64') },
    ])
    const rawTable = waltz('dump', dir, '--serializer', 'raw', '--format', 'table', '--to', '1')
    expect(rawTable.stdout).toMatch(/^ {9}1 {2}- {25}- {21}\(raw\) [0-9a-f]+$/m)
  })

  it('a forced serializer that does not fit prints each failure and exits 1', async () => {
    const dir = tempDir()
    await writeLog(dir, 3, bytesRecord)
    const r = waltz('dump', dir, '--serializer', 'json')
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('warning: the log was written by waltz-bytes/1; decoding as json as requested')
    expect(r.stderr).toContain('3 record(s) could not be decoded')
    expect(lines(r.stdout)).toHaveLength(3)
    expect(lines(r.stdout)[0]).toMatchObject({
      seq: 1,
      error: expect.any(String),
      payload: expect.any(String),
    })
  })

  it('stops with WAL_CORRUPT, file and offset at corruption in a sealed segment, after the records before it', async () => {
    const dir = tempDir()
    await writeLog(dir, 60, bytesRecord, { segmentSize: 1024 })
    const second = segmentFiles(dir)[1]!
    const bad = headerSize(second) + BYTES_FRAME
    flipByte(second, bad + 30)
    const r = waltz('dump', dir)
    expect(r.code).toBe(1)
    const secondFirst = Number(basename(second).slice(0, 20))
    expect(lines(r.stdout)).toHaveLength(secondFirst) // everything up to the first frame of the second segment
    expect(r.stderr).toBe(`waltz dump: WAL_CORRUPT: ${second} at offset ${bad}: frame checksum mismatch\n`)
  })

  it('works on a live log (a writer holds the lock) and stops at its last committed record', async () => {
    const dir = tempDir()
    const wal = await Wal.open({ dir, sync: 'always' })
    try {
      for (let i = 1; i <= 5; i++) await wal.append(bytesRecord(i))
      const r = waltz('dump', dir)
      expect(r.code).toBe(0)
      expect(lines(r.stdout)).toHaveLength(5)
    } finally {
      await wal.close()
    }
  })

  it('exits 0 quietly when the reader of its output goes away (EPIPE)', async () => {
    const dir = tempDir()
    await writeLog(dir, 3000, bytesRecord, { segmentSize: 64 * 1024 })
    const child = waltzAsync('dump', dir, '--format', 'hex')
    let stderr = ''
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()))
    const [first] = (await once(child.stdout, 'data')) as [Buffer]
    expect(first.toString()).toMatch(/^seq 1 /)
    child.stdout.destroy()
    const [code] = (await once(child, 'exit')) as [number | null]
    expect(stderr).toBe('')
    expect(code).toBe(0)
  })
})
