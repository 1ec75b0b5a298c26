import { once } from 'node:events'
import { BYTES_SERIALIZER_NAME, type RecordShape, Wal } from '@waltz/core'
import { scanLog } from '@waltz/core/inspect'
import { binarySerializer } from '@waltz/serializer-binary'
import { JSON_SERIALIZER_NAME, jsonSerializer } from '@waltz/serializer-json'
import { PROTO_SERIALIZER_NAME, protoSerializer } from '@waltz/serializer-proto'
import { describe, expect, it } from 'vitest'
import { flipByte } from '../../../test-support/damage.js'
import { tempDir } from '../../../test-support/temp-dir.js'
import {
  bytesRecord,
  headerSize,
  lines,
  ORDER_EVENTS_PROTO,
  orderEventTypes,
  segmentFiles,
  timeOf,
  waltz,
  waltzAsync,
  writeLog,
  z,
} from './helpers.js'

const iso = (seq: number) => new Date(timeOf(seq)).toISOString()

/** The ndjson envelope of record `seq` as written by `writeLog`. */
const envelope = (
  seq: number,
  type: string,
  extra: { key?: string; headers?: Record<string, string> } = {},
) => ({
  seq,
  type,
  time: iso(seq),
  timeMs: timeOf(seq),
  ...extra,
})

/** Some records carry a key, some headers, some both, some neither. */
const keyed = (seq: number) => ({
  ...(seq % 2 === 1 ? { key: `order-${seq}` } : {}),
  ...(seq % 3 === 0 ? { headers: { 'correlation-id': `c-${seq}`, user: 'ann' } } : {}),
})

const hex = (bytes: number[]) => Buffer.from(bytes).toString('hex')

describe('waltz dump', () => {
  it('ndjson of a range of a bytes log: seq, type, time (ISO and ms), key, headers, data', async () => {
    const dir = tempDir()
    await writeLog(dir, 30, (seq) => ({ ...bytesRecord(seq), ...keyed(seq) }), { segmentSize: 512 })
    const r = await waltz('dump', dir, '--from', '9', '--to', '21')
    expect(r.code).toBe(0)
    expect(r.stderr).toBe('')
    const records = lines(r.stdout)
    expect(records).toHaveLength(13)
    expect(records.slice(0, 2)).toEqual([
      { ...envelope(9, 'evt', keyed(9)), data: { $bytes: Buffer.from([9, 1, 2]).toString('base64') } },
      { ...envelope(10, 'evt'), data: { $bytes: Buffer.from([10, 1, 2]).toString('base64') } },
    ])
    expect(records[0]).toMatchObject({ key: 'order-9', headers: { 'correlation-id': 'c-9', user: 'ann' } })
    expect(records.map((x) => (x as { seq: number }).seq)).toEqual(
      Array.from({ length: 13 }, (_, i) => i + 9),
    )
    expect(lines((await waltz('dump', dir)).stdout)).toHaveLength(30)
  })

  it('binary (msgpackr) data: bigint, Date, Map, Set and bytes in their documented JSON form', async () => {
    const dir = tempDir()
    await writeLog(
      dir,
      3,
      (seq) => ({
        type: 'OrderPlaced',
        key: `o-${seq}`,
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
    const r = await waltz('dump', dir, '--from', '2', '--to', '2')
    expect(r.code).toBe(0)
    expect(lines(r.stdout)).toEqual([
      {
        ...envelope(2, 'OrderPlaced', { key: 'o-2' }),
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

  it('a JSON log: every record with type, key and headers, data as stored (stderr says: not validated)', async () => {
    const dir = tempDir()
    const serializer = jsonSerializer({
      schemas: { Deposit: z.object({ account: z.string(), amount: z.int() }) },
    })
    const deposit = (seq: number) => ({ account: `a${seq}`, amount: seq * 10 })
    await writeLog(dir, 5, (seq) => ({ type: 'Deposit' as const, data: deposit(seq), ...keyed(seq) }), {
      serializer,
    })
    // Without the application's schemas the CLI shows the stored JSON value (the package reads it).
    const stored = (seq: number): unknown => deposit(seq)
    const r = await waltz('dump', dir)
    expect(r.code).toBe(0)
    expect(lines(r.stdout)).toEqual(
      [1, 2, 3, 4, 5].map((seq) => ({ ...envelope(seq, 'Deposit', keyed(seq)), data: stored(seq) })),
    )
    expect(JSON.stringify(lines(r.stdout)[1])).toContain('"data":{"account":"a2","amount":20}')
    expect(r.stderr).toBe(
      `note: ${JSON_SERIALIZER_NAME} data is shown as stored: not validated by the schemas, not upcast\n`,
    )
    const table = await waltz('dump', dir, '--format', 'table', '--from', '3', '--to', '4')
    const cut = (seq: number) => JSON.stringify(stored(seq)) // 28 characters: fits the column
    expect(table.stdout.split('\n')).toEqual([
      '     SEQ  TIME                      TYPE                KEY             HEADERS             DATA',
      `       3  ${iso(3)}  Deposit             order-3         {"correlation-id"…  ${cut(3)}`,
      `       4  ${iso(4)}  Deposit             -               -                   ${cut(4)}`,
      '',
    ])
  })

  it('a protobuf log without the schema: every record with type, key and headers, data as size and hex', async () => {
    const dir = tempDir()
    const types = orderEventTypes()
    const serializer = protoSerializer({ types })
    const cancelled = (seq: number) => ({ orderId: `o-${seq}`, reason: 'user' })
    await writeLog(
      dir,
      6,
      (seq) => ({ type: 'OrderCancelled' as const, data: cancelled(seq), ...keyed(seq) }),
      {
        serializer,
      },
    )
    const bare = await waltz('dump', dir)
    expect(bare.code).toBe(0)
    expect(bare.stderr).toBe(
      `note: ${PROTO_SERIALIZER_NAME} data is shown as hex: pass --proto <file.proto> to decode it\n`,
    )
    const records = lines(bare.stdout) as { size: number; hex: string }[]
    expect(records.map(({ size: _, hex: __, ...rest }) => rest)).toEqual(
      [1, 2, 3, 4, 5, 6].map((seq) => envelope(seq, 'OrderCancelled', keyed(seq))),
    )
    for (const r of records) {
      expect(r.size).toBeGreaterThan(0)
      expect(r.hex).toMatch(new RegExp(`^[0-9a-f]{${2 * r.size}}$`))
    }

    const decoded = await waltz('dump', dir, '--proto', ORDER_EVENTS_PROTO)
    expect(decoded.code).toBe(0)
    expect(decoded.stderr).toBe('')
    expect(lines(decoded.stdout)).toEqual(
      [1, 2, 3, 4, 5, 6].map((seq) => ({
        ...envelope(seq, 'OrderCancelled', keyed(seq)),
        data: cancelled(seq),
      })),
    )
  })

  it('a log of a serializer the CLI does not know: envelopes, data as hex, and a note', async () => {
    const dir = tempDir()
    const acme = {
      name: 'acme-codec/3',
      encode: (data: string) => new TextEncoder().encode(data),
      decode: (bytes: Uint8Array) => new TextDecoder().decode(bytes),
    }
    await writeLog<RecordShape<string, string>>(
      dir,
      2,
      (seq) => ({ type: 'note', data: 'hi', ...keyed(seq) }),
      {
        serializer: acme,
      },
    )
    const r = await waltz('dump', dir)
    expect(r.code).toBe(0)
    expect(r.stderr).toBe('note: unknown serializer acme-codec/3: data is shown as hex\n')
    expect(lines(r.stdout)).toEqual([
      { ...envelope(1, 'note', keyed(1)), size: 2, hex: '6869' },
      { ...envelope(2, 'note'), size: 2, hex: '6869' },
    ])
  })

  it('table, hex and --serializer raw formats', async () => {
    const dir = tempDir()
    await writeLog(dir, 5, (seq) => ({ ...bytesRecord(seq), ...keyed(seq) }))
    const table = await waltz('dump', dir, '--format', 'table', '--to', '2')
    expect(table.stdout.split('\n')).toEqual([
      '     SEQ  TIME                      TYPE                KEY             HEADERS             DATA',
      `       1  ${iso(1)}  evt                 order-1         -                   {"$bytes":"AQEC"}`,
      `       2  ${iso(2)}  evt                 -               -                   {"$bytes":"AgEC"}`,
      '',
    ])
    const dumped = await waltz('dump', dir, '--format', 'hex', '--from', '2', '--to', '3')
    expect(dumped.stdout).toBe(
      `seq 2  type evt  (3 B)\n  00000000  02 01 02${' '.repeat(42)}|...|\n` +
        `seq 3  type evt  key order-3  headers {"correlation-id":"c-3","user":"ann"}  (3 B)\n` +
        `  00000000  03 01 02${' '.repeat(42)}|...|\n`,
    )
    const raw = await waltz('dump', dir, '--serializer', 'raw', '--from', '3', '--to', '3')
    expect(lines(raw.stdout)).toEqual([{ ...envelope(3, 'evt', keyed(3)), size: 3, hex: hex([3, 1, 2]) }])
    const rawTable = await waltz('dump', dir, '--serializer', 'raw', '--format', 'table', '--to', '1')
    expect(rawTable.stdout).toMatch(/^ {7}1 {2}\S+ {2}evt +order-1 +- +\(3 B\) 010102$/m)
  })

  it('a forced serializer that does not fit prints each failure with the stored data and exits 1', async () => {
    const dir = tempDir()
    await writeLog(dir, 3, bytesRecord)
    const r = await waltz('dump', dir, '--serializer', 'json')
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(
      `warning: the log was written by ${BYTES_SERIALIZER_NAME}; decoding as json as requested`,
    )
    expect(r.stderr).toContain('3 record(s) could not be decoded')
    expect(lines(r.stdout)).toHaveLength(3)
    expect(lines(r.stdout)[0]).toEqual({
      ...envelope(1, 'evt'),
      error: expect.any(String),
      size: 3,
      hex: '010102',
    })
    const binary = await waltz('dump', dir, '--serializer', 'binary', '--to', '1')
    expect(binary.stderr).toContain(`decoding as binary as requested`)
  })

  it('stops with WAL_CORRUPT, file and offset at corruption in a sealed segment, after the records before it', async () => {
    const dir = tempDir()
    await writeLog(dir, 60, bytesRecord, { segmentSize: 512 })
    const second = (await segmentFiles(dir))[1]!
    flipByte(second, headerSize(second) + 45) // inside the second frame
    const report = await scanLog(dir)
    const judged = report.segments[1]!
    expect(judged.verdict).toBe('corrupt')
    const r = await waltz('dump', dir)
    expect(r.code).toBe(1)
    expect(lines(r.stdout)).toHaveLength(judged.lastSeq) // every record before the damaged frame
    expect(r.stderr).toBe(
      `waltz dump: WAL_CORRUPT: ${second} at offset ${judged.problem!.offset}: ${judged.problem!.reason}\n`,
    )
  })

  it('works on a live log (a writer holds the lock) and stops at its last committed record', async () => {
    const dir = tempDir()
    const wal = await Wal.open({ dir, sync: 'always' })
    try {
      for (let i = 1; i <= 5; i++) await wal.append(bytesRecord(i))
      const r = await waltz('dump', dir)
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
