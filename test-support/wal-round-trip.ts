import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { EncodableRecord } from './serializer-conformance.js'

// `@waltz/core` does not resolve from this folder (see serializer-conformance.ts), so the calling test
// opens the WAL and this suite only sees the part of `Wal` it uses. A core `Wal<Rec>` is assignable.

/** A record as the WAL returns it. */
export type StoredRecord<Rec extends EncodableRecord> = Rec & { seq: number }

/** The part of core's `Wal` this suite uses. */
export interface WalLike<Rec extends EncodableRecord> {
  append(record: Rec): Promise<number>
  appendBatch(records: readonly Rec[]): Promise<number>
  replayFrom(seq: number, handler: (record: StoredRecord<Rec>) => void): Promise<number>
  records(): AsyncIterable<StoredRecord<Rec>>
  close(): Promise<void>
}

/** What {@link walRoundTrip} needs. */
export interface WalRoundTripOptions<Rec extends EncodableRecord> {
  /**
   * Opens (or reopens) the WAL in `dir` with the serializer under test and `sync: 'always'`. `dir` is a
   * folder inside a temporary one that is removed after each test: files kept beside the WAL (such as a
   * structures file) belong in `dirname(dir)`.
   */
  open: (dir: string) => Promise<WalLike<Rec>>
  /** Opens the WAL in `dir` with a serializer of another name: must fail `WAL_SERIALIZER_MISMATCH`. */
  openMismatched: (dir: string) => Promise<{ close(): Promise<void> }>
  /** Records appended one at a time, with their `time` set. */
  single: readonly Rec[]
  /** Records appended as one `appendBatch`, after `single`. */
  batch: readonly Rec[]
}

/**
 * Registers tests that run a serializer through a real WAL: records appended singly and in a batch,
 * replayed after a reopen with `replayFrom` and `records()`, equal and with consecutive seqs; and a
 * directory written by this serializer refused to another one.
 *
 * @param name - the suite title
 * @param options - how to open the WAL, and the records
 */
export function walRoundTrip<Rec extends EncodableRecord>(
  name: string,
  options: WalRoundTripOptions<Rec>,
): void {
  const expected = [...options.single, ...options.batch].map((record, i) => ({ ...record, seq: i + 1 }))

  describe(`${name}: through a WAL`, () => {
    let root: string
    let dir: string
    beforeEach(async () => {
      root = await mkdtemp(join(tmpdir(), 'waltz-serializer-wal-'))
      dir = join(root, 'wal')
    })
    afterEach(async () => {
      await rm(root, { recursive: true, force: true })
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
        for (const [i, record] of options.single.entries()) expect(await wal.append(record)).toBe(i + 1)
        expect(await wal.appendBatch(options.batch)).toBe(expected.length)
      })

    it('replays what it appended, after a reopen, with the right seqs', async () => {
      expect(options.single.length).toBeGreaterThan(0)
      expect(options.batch.length).toBeGreaterThan(1)
      await write()
      await withWal(async (wal) => {
        const replayed: StoredRecord<Rec>[] = []
        expect(await wal.replayFrom(0, (record) => void replayed.push(record))).toBe(expected.length)
        expect(replayed).toEqual(expected)

        const iterated: StoredRecord<Rec>[] = []
        for await (const record of wal.records()) iterated.push(record)
        expect(iterated).toEqual(expected)

        const fromBatch: StoredRecord<Rec>[] = []
        await wal.replayFrom(options.single.length, (record) => void fromBatch.push(record))
        expect(fromBatch).toEqual(expected.slice(options.single.length))
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
        expect(replayed).toEqual(expected)
      })
    })
  })
}
