/**
 * Damage to the real bytes of the stream index's table files after a clean close (bit flips in every
 * region, truncation, zero fill, missing tables, a table from another store, tables that claim more
 * than the WAL has, leftover temp files): every time the store must open, log a warning where the
 * damage can be seen, and answer exactly as a store that rebuilt its index from the WAL: every read,
 * every append decision, and again after a reopen. Then damage to a consumer's checkpoint file, which
 * must stop the consumer with `CHECKPOINT_CORRUPT` rather than restart it from the beginning.
 */
import {
  copyFileSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import { Wal } from '@waltz/core'
import { beforeAll, describe, expect, test } from 'vitest'
import { collect } from '../../../test-support/collect.js'
import { flipByte } from '../../../test-support/damage.js'
import { fileTempDir } from '../../../test-support/temp-dir.js'
import { isEventStoreError, type StoredEvent } from '../src/index.js'
import {
  type Checked,
  copyStoreDir,
  type FullAnswers,
  fullAnswers,
  rebuiltAnswers,
  tableFiles,
} from './damage-support.js'
import { json, openStore, type TestEvent } from './helpers.js'

/** Tables are only written by `close`, so the layout below does not depend on timing. */
const OPTIONS = { indexFlushEvents: 100_000 }
/** More than 32 streams, so the big table's directory has two entries. */
const MANY = Array.from({ length: 33 }, (_, i) => `s-${String(i).padStart(2, '0')}`)
const STREAMS = [...MANY, 'n-1', 'n-2', 'never']

/** The three stages of the history, each ended by a close that writes one table. */
const STAGES: ((store: Awaited<ReturnType<typeof openStore>>, prefix: string) => Promise<void>)[] = [
  async (store, p) => {
    for (let round = 0; round < 2; round++) {
      for (const s of MANY) {
        await store.appendToStream(`${p}${s}`, [
          { type: round === 1 ? 'b' : 'a', data: { s, round }, metadata: { round: String(round) } },
        ])
      }
    }
    await store.deleteStream(`${p}s-03`)
    await store.tombstoneStream(`${p}s-05`)
    await store.deleteStream(`${p}s-07`)
    await store.appendToStream(`${p}s-07`, [
      { type: 'a', data: 'again' },
      { type: 'b', data: 'again' },
    ])
  },
  async (store, p) => {
    for (let i = 0; i < 20; i++) await store.appendToStream(`${p}s-0${i % 5}`, [{ type: 'c', data: i }])
    await store.appendToStream(`${p}n-1`, [{ type: 'a', data: 1 }], { expectedRevision: 'no_stream' })
    await store.deleteStream(`${p}n-1`)
  },
  async (store, p) => {
    await store.appendToStream(`${p}s-01`, [{ type: 'd', data: 1 }], { expectedRevision: 'stream_exists' })
    await store.appendToStream(`${p}n-2`, [
      { type: 'a', data: 2 },
      { type: 'a', data: 3 },
    ])
    await store.tombstoneStream(`${p}s-02`)
  },
]

/** Runs every stage in `dir`, each in its own open and close; `after` sees the directory after each. */
async function build(dir: string, prefix: string, after: (stage: number) => void = () => {}): Promise<void> {
  for (const [k, stage] of STAGES.entries()) {
    const store = await openStore(dir, OPTIONS)
    await stage(store, prefix)
    await store.close()
    after(k + 1)
  }
}

/** Copies of the store after each stage (WAL and index), and another store with the same table layout. */
const base = { stages: [] as string[], other: '' }
const references = new Map<string, Promise<FullAnswers>>()

/** The answers of `dir` with its index rebuilt from its WAL (computed once per directory). */
function reference(dir: string): Promise<FullAnswers> {
  let r = references.get(dir)
  if (!r) {
    r = rebuiltAnswers(dir, STREAMS, OPTIONS)
    references.set(dir, r)
  }
  return r
}

beforeAll(async () => {
  const root = fileTempDir()
  const dir = join(root, 'store')
  await build(dir, '', (stage) => {
    const copy = join(root, `stage-${stage}`)
    copyStoreDir(dir, copy)
    base.stages.push(copy)
  })
  base.other = join(root, 'other')
  await build(base.other, 'o')
  // One table per stage: a big one (two directory entries), a middle one and a small last one.
  expect(tableFiles(latest())).toHaveLength(3)
  expect(readFileSync(tablePath(latest(), 0)).readUInt32LE(36)).toBe(2)
  expect(tableFiles(base.other)).toEqual(tableFiles(latest()))
}, 60_000)

function latest(): string {
  return base.stages.at(-1)!
}

/** A fresh copy of `from` to damage. */
function copyOf(from: string): string {
  const dir = join(fileTempDir(), 'store')
  copyStoreDir(from, dir)
  return dir
}

function tablePath(dir: string, which: number): string {
  return join(dir, 'index', tableFiles(dir).at(which)!)
}

/** Byte ranges [start, end) of the sections of a table file (see index-table.ts). */
function sections(
  file: string,
): Record<'header' | 'entries' | 'streams' | 'directory' | 'trailer', [number, number]> {
  const bytes = readFileSync(file)
  const streamsOffset = bytes.readUIntLE(40, 6)
  const dirOffset = bytes.readUIntLE(48, 6)
  const size = bytes.length
  return {
    header: [0, 80],
    entries: [80, streamsOffset],
    streams: [streamsOffset, dirOffset],
    directory: [dirOffset, size - 8],
    trailer: [size - 8, size],
  }
}

/** Opens the damaged store and checks it against the rebuilt one. */
async function expectRebuiltAnswers(dir: string, from: string, warns: boolean): Promise<Checked> {
  const want = await reference(from)
  const got = await fullAnswers(dir, STREAMS, OPTIONS)
  expect(got.answers).toEqual(want)
  if (warns)
    expect(got.warnings.map((w) => w.message)).toContain(
      'dropped an index table; the log re-indexes what it covered',
    )
  // The first open repaired the index: the reopen found nothing to drop.
  expect(got.laterWarnings).toEqual([])
  expect(readdirSync(join(dir, 'index')).filter((n) => n.endsWith('.tmp'))).toEqual([])
  return got
}

const TABLES = [
  ['the first table', 0],
  ['the middle table', 1],
  ['the last table', -1],
] as const
const REGIONS = ['header', 'entries', 'streams', 'directory', 'trailer'] as const

describe.concurrent('a flipped byte in a table', () => {
  for (const [label, which] of TABLES) {
    test.each(REGIONS)(`${label}: %s`, async (region) => {
      const dir = copyOf(latest())
      const file = tablePath(dir, which)
      const [start, end] = sections(file)[region]
      expect(end).toBeGreaterThan(start)
      flipByte(file, (start + end) >>> 1)
      await expectRebuiltAnswers(dir, latest(), true)
    })
  }
  test.each(REGIONS)('the first table: the first and the last byte of the %s', async (region) => {
    for (const edge of ['first', 'last'] as const) {
      const dir = copyOf(latest())
      const file = tablePath(dir, 0)
      const [start, end] = sections(file)[region]
      flipByte(file, edge === 'first' ? start : end - 1, 0x01)
      await expectRebuiltAnswers(dir, latest(), true)
    }
  })
})

describe.concurrent('a cut or zeroed table', () => {
  const cuts: [string, (size: number) => number][] = [
    ['to nothing', () => 0],
    ['inside the header', () => 79],
    ['to half', (size) => size >>> 1],
    ['by one byte', (size) => size - 1],
    ['before the trailer', (size) => size - 8],
  ]
  for (const [label, which] of TABLES) {
    test.each(cuts)(`${label}: cut %s`, async (_, length) => {
      const dir = copyOf(latest())
      const file = tablePath(dir, which)
      truncateSync(file, length(readFileSync(file).length))
      await expectRebuiltAnswers(dir, latest(), true)
    })
    test(`${label}: zero-filled`, async () => {
      const dir = copyOf(latest())
      const file = tablePath(dir, which)
      writeFileSync(file, Buffer.alloc(readFileSync(file).length))
      await expectRebuiltAnswers(dir, latest(), true)
    })
  }
  test('a zeroed 512-byte sector in the middle of the first table', async () => {
    const dir = copyOf(latest())
    const file = tablePath(dir, 0)
    const bytes = readFileSync(file)
    expect(bytes.length).toBeGreaterThan(1024)
    bytes.fill(0, 512, 1024)
    writeFileSync(file, bytes)
    await expectRebuiltAnswers(dir, latest(), true)
  })
  test('a table grown by a stray write past its end', async () => {
    const dir = copyOf(latest())
    const file = tablePath(dir, 1)
    writeFileSync(file, Buffer.concat([readFileSync(file), Buffer.from('stray')]))
    await expectRebuiltAnswers(dir, latest(), true)
  })
})

describe.concurrent('missing, foreign and misnamed tables', () => {
  test.each([
    ['the first table', 0],
    ['the middle table', 1],
  ] as const)('%s deleted', async (_, which) => {
    const dir = copyOf(latest())
    unlinkSync(tablePath(dir, which))
    await expectRebuiltAnswers(dir, latest(), true)
  })

  // Nothing tells a deleted newest table from one that a crash kept from being written: no warning.
  test('the last table deleted', async () => {
    const dir = copyOf(latest())
    unlinkSync(tablePath(dir, -1))
    await expectRebuiltAnswers(dir, latest(), false)
  })

  test('the whole index directory deleted', async () => {
    const dir = copyOf(latest())
    rmSync(join(dir, 'index'), { recursive: true })
    await expectRebuiltAnswers(dir, latest(), false)
  })

  test.each(TABLES)('%s replaced by the same-named table of another store', async (_, which) => {
    const dir = copyOf(latest())
    const name = tableFiles(dir).at(which)!
    copyFileSync(join(base.other, 'index', name), join(dir, 'index', name))
    await expectRebuiltAnswers(dir, latest(), true)
  })

  // Tables of format version 1 (seqs only, before frame locations) are dropped and re-indexed.
  test('a table of another format version', async () => {
    const dir = copyOf(latest())
    const file = tablePath(dir, 1)
    const bytes = readFileSync(file)
    bytes.writeUInt16LE(1, 4)
    bytes.writeUInt32LE(crc32(bytes.subarray(0, 76)), 76)
    writeFileSync(file, bytes)
    const { warnings } = await expectRebuiltAnswers(dir, latest(), true)
    expect(warnings.some((w) => String(w.fields?.why).includes('version 1'))).toBe(true)
  })

  test('a table renamed to a range it does not cover', async () => {
    const dir = copyOf(latest())
    const [name] = tableFiles(dir)
    const to = Number(name!.slice(17, 33))
    renameSync(
      join(dir, 'index', name!),
      join(dir, 'index', `${name!.slice(0, 17)}${String(to - 1).padStart(16, '0')}.wzi`),
    )
    await expectRebuiltAnswers(dir, latest(), true)
  })

  test('files that are not tables are left alone', async () => {
    const dir = copyOf(latest())
    writeFileSync(join(dir, 'index', 'notes.txt'), 'hello')
    writeFileSync(join(dir, 'index', '1-2.wzi'), 'short name')
    await expectRebuiltAnswers(dir, latest(), false)
    expect(readFileSync(join(dir, 'index', 'notes.txt'), 'utf8')).toBe('hello')
  })
})

describe.concurrent('tables that claim more than the WAL has', () => {
  test.each([
    ['one stage', 2],
    ['two stages', 1],
  ] as const)('the WAL is %s older than the index', async (_, stage) => {
    const older = base.stages[stage - 1]!
    const dir = copyOf(older)
    rmSync(join(dir, 'index'), { recursive: true })
    copyStoreDir(join(latest(), 'index'), join(dir, 'index'))
    await expectRebuiltAnswers(dir, older, true)
  })

  test('the WAL went back one stage and then on with other records, as far as the index', async () => {
    const diverged = copyOf(base.stages[1]!)
    const store = await openStore(diverged, OPTIONS)
    for (let i = 0; i < 4; i++) await store.appendToStream('elsewhere', [{ type: 'z', data: i }])
    await store.close()
    const dir = copyOf(diverged)
    rmSync(join(dir, 'index'), { recursive: true })
    copyStoreDir(join(latest(), 'index'), join(dir, 'index'))
    // The index's last table covers exactly the records the WAL now has, but other ones.
    expect(tableFiles(dir).at(-1)).toBe(tableFiles(diverged).at(-1))
    await expectRebuiltAnswers(dir, diverged, true)
  })
})

describe('a table whose checksums pass but whose entries point at other events', () => {
  // Damage the CRCs cannot see (a bug, a crafted file): entries swapped between two streams, body
  // checksum rewritten. A read must not hand over another stream's events.
  test('readStream refuses with EVENTSTORE_CORRUPT', async () => {
    const dir = copyOf(latest())
    const file = tablePath(dir, 0)
    const bytes = readFileSync(file)
    const [start] = sections(file).entries
    // Entries are grouped by stream in name order: s-00's come first. Swap its first entry with
    // s-01's first.
    const a = Buffer.from(bytes.subarray(start, start + 16))
    const other = start + 16 * firstEntryOf(bytes, 's-01')
    const b = Buffer.from(bytes.subarray(other, other + 16))
    a.copy(bytes, other)
    b.copy(bytes, start)
    bytes.writeUInt32LE(crc32(bytes.subarray(80, bytes.length - 8)), bytes.length - 8)
    writeFileSync(file, bytes)
    const store = await openStore(dir, OPTIONS)
    try {
      const err = await collect(store.readStream('s-00')).catch((e: unknown) => e)
      expect(err).toMatchObject({ code: 'EVENTSTORE_CORRUPT', stream: 's-00' })
    } finally {
      await store.close()
    }
  })
})

/** The index of a stream's first entry in a table file (walks the streams section). */
function firstEntryOf(bytes: Buffer, name: string): number {
  let o = bytes.readUIntLE(40, 6)
  const end = bytes.readUIntLE(48, 6)
  while (o < end) {
    const len = bytes.readUInt16LE(o)
    const found = bytes.toString('utf8', o + 2, o + 2 + len)
    const first = bytes.readUIntLE(o + 2 + len, 6)
    if (found === name) return first
    o += 2 + len + 35 // name length, name, then the fixed fields
  }
  throw new Error(`no stream ${name} in the table`)
}

describe('segments laid out anew under the same index', () => {
  // A replica writes the same records into other segments (here: much smaller ones): seqs, times and
  // keys match, but frames lie elsewhere. The tables' locations would all miss: the anchors' frame
  // offsets tell, and the index is rebuilt with the new places.
  test('every table is dropped and rebuilt, and reads hit their locations', async () => {
    const dir = join(fileTempDir(), 'relaid')
    const source = await Wal.openReader({ dir: latest() })
    const replica = await Wal.open({
      dir,
      serializer: { name: json.name, encode: (d: unknown) => d as Uint8Array, decode: (b) => b },
      segmentSize: 2048,
    })
    for await (const r of source.recordsRaw()) await replica.appendRaw([r])
    await Promise.all([source.close(), replica.close()])
    expect(readdirSync(dir).filter((n) => n.endsWith('.wal')).length).toBeGreaterThan(3)
    copyStoreDir(join(latest(), 'index'), join(dir, 'index'))
    await expectRebuiltAnswers(dir, latest(), true)
    const store = await openStore(dir, OPTIONS)
    for (const stream of STREAMS) await collect(store.readStream(stream))
    expect(store.metrics().wal.locatedReads).toMatchObject({ misses: 0 })
    expect(store.metrics().wal.locatedReads.hits).toBeGreaterThan(50)
    await store.close()
  })
})

describe('leftover temp files', () => {
  test('torn and whole temp tables are removed and ignored', async () => {
    const dir = copyOf(latest())
    const names = tableFiles(dir)
    const last = readFileSync(join(dir, 'index', names.at(-1)!))
    writeFileSync(join(dir, 'index', `${names.at(-1)!}.tmp`), last.subarray(0, last.length >>> 1))
    // A whole table under a temp name, claiming a range right after the index (never renamed).
    const to = Number(names.at(-1)!.slice(17, 33))
    writeFileSync(
      join(dir, 'index', `${String(to + 1).padStart(16, '0')}-${String(to + 9).padStart(16, '0')}.wzi.tmp`),
      last,
    )
    writeFileSync(join(dir, 'index', 'junk.wzi.tmp'), Buffer.alloc(3))
    await expectRebuiltAnswers(dir, latest(), false)
  })
})

describe('a damaged consumer checkpoint', () => {
  /** Runs a consumer over every event, stops it (storing its checkpoint) and returns its file. */
  async function consumed(dir: string): Promise<{ file: string; position: number }> {
    const store = await openStore(dir, OPTIONS)
    const [last] = await collect(store.readAll({ direction: 'backwards', maxCount: 1 }))
    let seen = 0
    let done!: () => void
    const all = new Promise<void>((resolve) => {
      done = resolve
    })
    const consumer = store.consumer({
      name: 'projection',
      handler: (events: StoredEvent<TestEvent>[]) => {
        seen = events.at(-1)!.position
        if (seen === last!.position) done()
      },
    })
    await consumer.start()
    await all
    await consumer.stop()
    await store.close()
    return { file: join(dir, 'consumers', 'projection.ckpt'), position: seen }
  }

  /** Starts the consumer again: it must fail with `code` before handling anything. */
  async function expectRefused(dir: string, code: 'CHECKPOINT_CORRUPT' | 'CHECKPOINT_AHEAD'): Promise<void> {
    const store = await openStore(dir, OPTIONS)
    try {
      const handled: number[] = []
      const consumer = store.consumer({
        name: 'projection',
        handler: (events: StoredEvent<TestEvent>[]) => {
          handled.push(...events.map((e) => e.position))
        },
      })
      const error = await consumer.start().then(
        () => undefined,
        (err: unknown) => err,
      )
      expect(isEventStoreError(error, code), String(error)).toBe(true)
      expect(handled).toEqual([])
      expect(store.metrics().consumers).toEqual({})
    } finally {
      await store.close()
    }
  }

  test('an intact checkpoint resumes after the last handled event', async () => {
    const dir = copyOf(latest())
    const { position } = await consumed(dir)
    const store = await openStore(dir, OPTIONS)
    try {
      const late = await store.appendToStream('late', [{ type: 'a', data: 'late' }])
      expect(late.position).toBeGreaterThan(position)
      const handled: number[] = []
      let done!: () => void
      const got = new Promise<void>((resolve) => {
        done = resolve
      })
      const consumer = store.consumer({
        name: 'projection',
        handler: (events: StoredEvent<TestEvent>[]) => {
          handled.push(...events.map((e) => e.position))
          done()
        },
      })
      await consumer.start()
      await got
      await consumer.stop()
      expect(handled).toEqual([late.position])
    } finally {
      await store.close()
    }
  })

  test('a flipped byte anywhere in the file', async () => {
    const dir = copyOf(latest())
    const { file } = await consumed(dir)
    const intact = readFileSync(file)
    expect(intact.length).toBe(20)
    for (let at = 0; at < intact.length; at++) {
      flipByte(file, at)
      await expectRefused(dir, 'CHECKPOINT_CORRUPT')
      writeFileSync(file, intact)
    }
  })

  test.each([
    ['empty', (b: Buffer) => b.subarray(0, 0)],
    ['cut by one byte', (b: Buffer) => b.subarray(0, b.length - 1)],
    ['one byte too long', (b: Buffer) => Buffer.concat([b, Buffer.alloc(1)])],
    ['zero-filled', (b: Buffer) => Buffer.alloc(b.length)],
  ])('a file %s', async (_, damage) => {
    const dir = copyOf(latest())
    const { file } = await consumed(dir)
    writeFileSync(file, damage(readFileSync(file)))
    await expectRefused(dir, 'CHECKPOINT_CORRUPT')
  })

  test('an intact checkpoint past the end of a WAL restored from an older copy', async () => {
    const dir = copyOf(latest())
    await consumed(dir)
    const older = copyOf(base.stages[1]!)
    copyStoreDir(join(dir, 'consumers'), join(older, 'consumers'))
    await expectRefused(older, 'CHECKPOINT_AHEAD')
  })
})
