import { join } from 'node:path'
import { beforeEach, describe, expect, it } from 'vitest'
import type { RecordShape } from './serializer-conformance.js'
import { tempDir } from './temp-dir.js'

// `@waltz/core` does not resolve from this folder (see serializer-conformance.ts), so the calling test
// opens the WAL and this suite only sees the part of `Wal` it uses. A core `Wal<Rec>` is assignable.

/** A record's headers (`RecordHeaders` in core). */
export type Headers = Readonly<Record<string, string>>

/** What `append` takes (`AppendInput` in core): a record of the union, and core's envelope fields. */
export type AppendLike<Rec extends RecordShape> = Rec & { time?: number; key?: string; headers?: Headers }

/** A record as the WAL returns it (`WalRecord` in core). */
export type StoredRecord<Rec extends RecordShape> = Rec & {
  seq: number
  time: number
  key?: string
  headers?: Headers
}

/** The part of core's `Wal` this suite uses. */
export interface WalLike<Rec extends RecordShape> {
  append(record: AppendLike<Rec>): Promise<number>
  appendBatch(records: readonly AppendLike<Rec>[]): Promise<number>
  replayFrom(seq: number, handler: (record: StoredRecord<Rec>) => void): Promise<number>
  records(): AsyncIterable<StoredRecord<Rec>>
  close(): Promise<void>
}

/** What {@link walRoundTrip} needs. */
export interface WalRoundTripOptions<Rec extends RecordShape> {
  /**
   * Opens (or reopens) the WAL in `dir` with the serializer under test and `sync: 'always'`. `dir` is a
   * folder inside a temporary one that is removed after each test: files kept beside the WAL (such as a
   * structures file) belong in `dirname(dir)`.
   */
  open: (dir: string) => Promise<WalLike<Rec>>
  /** Opens the WAL in `dir` with a serializer of another name: must fail `WAL_SERIALIZER_MISMATCH`. */
  openMismatched: (dir: string) => Promise<{ close(): Promise<void> }>
  /** Records appended one at a time (at least one). */
  single: readonly Rec[]
  /** Records appended as one `appendBatch`, after `single` (at least two). */
  batch: readonly Rec[]
}

const BASE_TIME = 1_700_000_000_000

/**
 * Core's envelope fields for the i-th record: a cycle of key and headers, key only, headers only and
 * neither, so every combination goes through both `append` and `appendBatch`. The empty key is a value
 * like any other and must come back as given, not dropped as absent.
 */
function envelopeOf(i: number): { time: number; key?: string; headers?: Headers } {
  const time = BASE_TIME + i * 1001
  switch (i % 4) {
    case 0:
      return { time, key: `order-${i}`, headers: { 'correlation-id': `c-${i}`, 'causation-id': 'ünï 😀' } }
    case 1:
      return { time, key: i % 8 === 1 ? '' : `κλειδί-${i}` }
    case 2:
      return { time, headers: { tenant: `t-${i}` } }
    default:
      return { time }
  }
}

/**
 * Registers tests that run a serializer through a real WAL: records appended singly and in a batch, with
 * core's envelope fields (time, key, headers) in every combination, replayed after a reopen with
 * `replayFrom` and `records()`, equal and with consecutive seqs, absent key and headers still absent;
 * and a directory written by this serializer refused to another one.
 *
 * @param name - the suite title
 * @param options - how to open the WAL, and the records
 */
export function walRoundTrip<Rec extends RecordShape>(name: string, options: WalRoundTripOptions<Rec>): void {
  const inputs: AppendLike<Rec>[] = [...options.single, ...options.batch].map((record, i) => ({
    ...record,
    ...envelopeOf(i),
  }))
  const single = inputs.slice(0, options.single.length)
  const batch = inputs.slice(options.single.length)
  const expected = inputs.map((input, i) => ({ seq: i + 1, ...input }))

  /** Asserts the records equal what was appended, and that absent key and headers are not properties. */
  const expectReplayed = (records: readonly StoredRecord<Rec>[], from = 0): void => {
    const want = expected.slice(from)
    expect(records).toEqual(want)
    for (const [i, record] of records.entries()) {
      expect('key' in record, `seq ${record.seq} key`).toBe('key' in want[i]!)
      expect('headers' in record, `seq ${record.seq} headers`).toBe('headers' in want[i]!)
    }
  }

  describe(`${name}: through a WAL`, () => {
    let dir: string
    beforeEach(() => {
      dir = join(tempDir(), 'wal')
    })

    /** Opens the WAL, runs `use`, and closes it even when `use` fails. */
    const withWal = async <T>(use: (wal: WalLike<Rec>) => Promise<T>): Promise<T> => {
      const wal = await options.open(dir)
      try {
        return await use(wal)
      } finally {
        await wal.close()
      }
    }

    const write = (): Promise<void> =>
      withWal(async (wal) => {
        for (const [i, record] of single.entries()) expect(await wal.append(record)).toBe(i + 1)
        expect(await wal.appendBatch(batch)).toBe(expected.length)
      })

    it('replays what it appended, key and headers included, after a reopen, with the right seqs', async () => {
      expect(options.single.length).toBeGreaterThan(0)
      expect(options.batch.length).toBeGreaterThan(1)
      // Enough records for every key/headers combination.
      expect(inputs.length).toBeGreaterThanOrEqual(4)
      await write()
      await withWal(async (wal) => {
        const replayed: StoredRecord<Rec>[] = []
        expect(await wal.replayFrom(0, (record) => void replayed.push(record))).toBe(expected.length)
        expectReplayed(replayed)

        const iterated: StoredRecord<Rec>[] = []
        for await (const record of wal.records()) iterated.push(record)
        expectReplayed(iterated)

        const fromBatch: StoredRecord<Rec>[] = []
        await wal.replayFrom(options.single.length, (record) => void fromBatch.push(record))
        expectReplayed(fromBatch, options.single.length)
      })
    })

    it('refuses the directory to a serializer of another name', async () => {
      await write()
      let caught: unknown
      try {
        await (await options.openMismatched(dir)).close()
      } catch (err) {
        caught = err
      }
      expect((caught as { code?: unknown } | undefined)?.code).toBe('WAL_SERIALIZER_MISMATCH')
      // The refusal left the log as it was.
      await withWal(async (wal) => {
        const replayed: StoredRecord<Rec>[] = []
        await wal.replayFrom(0, (record) => void replayed.push(record))
        expectReplayed(replayed)
      })
    })
  })
}
