import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { compressiblePayloadFor, payloadFor } from '../../../test-support/payload.mjs'
import { tempDir } from '../../../test-support/temp-dir.js'
import { FRAME_HEADER_SIZE } from '../src/format.js'
import { isWalError, Wal, type WalErrorCode } from '../src/index.js'

const SEED = Number(process.env.WALTZ_FUZZ_SEED ?? 20261125)
const RUNS = Number(process.env.WALTZ_FUZZ_RUNS ?? 250)
const SECTOR = 512

/** Errors reading a damaged log may raise; anything else is a bug. */
const DOCUMENTED: WalErrorCode[] = [
  'WAL_CORRUPT',
  'WAL_FORMAT_UNSUPPORTED',
  'WAL_SERIALIZER_MISMATCH',
  'WAL_SERIALIZER_ERROR',
  'WAL_TRUNCATED',
]

interface Base {
  names: string[]
  files: Buffer[]
  /** The exact record written at each seq: type and data. */
  written: Map<number, { type: string; data: Buffer }>
}

/** The logs damaged: one of plain frames, one of compressed blocks (groups of several records). */
const bases = new Map<Compression, Base>()
type Compression = 'none' | 'deflate'
const VARIANTS: Compression[] = ['none', 'deflate']

async function writeBase(compression: Compression): Promise<Base> {
  const dir = tempDir()
  const payload = compression === 'none' ? payloadFor : compressiblePayloadFor
  const wal = await Wal.open({ dir, sync: 'background', segmentSize: 3000, compression })
  const written = new Map<number, { type: string; data: Buffer }>()
  for (let i = 1; i <= 60; i++) {
    const data = payload(i, (i * 37) % 400)
    if (i % 10 === 0) {
      const batch = [0, 1, 2].map((k) => ({ type: `b${i}-${k}`, time: i, data: payload(i * 100 + k, 150) }))
      const last = await wal.appendBatch(batch)
      batch.forEach((r, k) => {
        written.set(last - 2 + k, { type: r.type, data: Buffer.from(r.data) })
      })
    } else {
      const seq = await wal.append({ type: `r${i}`, time: i, data })
      written.set(seq, { type: `r${i}`, data: Buffer.from(data) })
    }
  }
  await wal.close()
  const names = readdirSync(dir)
    .filter((n) => n.endsWith('.wal'))
    .sort()
  return { names, files: names.map((n) => readFileSync(join(dir, n))), written }
}

beforeAll(async () => {
  for (const v of VARIANTS) bases.set(v, await writeBase(v))
  // The compressed log holds blocks (fewer frames than records), or its fuzzing proves nothing new.
  const frames = (b: Base) => b.files.reduce((n, f) => n + frameStarts(f).length, 0)
  expect(frames(bases.get('deflate')!)).toBeLessThan(frames(bases.get('none')!) - 3)
})

type Mutation =
  | { kind: 'flip'; file: number; at: number; bit: number }
  | { kind: 'truncate'; file: number; at: number }
  | { kind: 'zeroSector'; file: number; sector: number }
  | { kind: 'duplicateSector'; file: number; from: number; to: number }
  | { kind: 'garbage'; file: number; at: number; bytes: Uint8Array }
  | { kind: 'hugeLength'; file: number; frame: number; length: number }
  | { kind: 'swap'; a: number; b: number }
  | { kind: 'delete'; file: number }

const ratio = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true })
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant('flip' as const),
    file: ratio,
    at: ratio,
    bit: fc.integer({ min: 0, max: 7 }),
  }),
  fc.record({ kind: fc.constant('truncate' as const), file: ratio, at: ratio }),
  fc.record({ kind: fc.constant('zeroSector' as const), file: ratio, sector: ratio }),
  fc.record({ kind: fc.constant('duplicateSector' as const), file: ratio, from: ratio, to: ratio }),
  fc.record({
    kind: fc.constant('garbage' as const),
    file: ratio,
    at: ratio,
    bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }),
  }),
  fc.record({
    kind: fc.constant('hugeLength' as const),
    file: ratio,
    frame: fc.integer({ min: 0, max: 20 }),
    length: fc.oneof(fc.constant(0xffffffff), fc.integer({ min: 17 * 1024 * 1024, max: 0xfffffffe })),
  }),
  fc.record({ kind: fc.constant('swap' as const), a: ratio, b: ratio }),
  fc.record({ kind: fc.constant('delete' as const), file: ratio }),
)

function pick(n: number, r: number): number {
  return Math.min(n - 1, Math.floor(r * n))
}

function frameStarts(buf: Buffer): number[] {
  if (buf.length < 8) return []
  const headerSize = buf.readUInt16LE(6)
  const starts: number[] = []
  for (
    let at = headerSize;
    at + FRAME_HEADER_SIZE <= buf.length;
    at += FRAME_HEADER_SIZE + buf.readUInt32LE(at + 4)
  ) {
    starts.push(at)
  }
  return starts
}

function apply(files: (Buffer | null)[], m: Mutation): void {
  const live = files.map((f, i) => (f ? i : -1)).filter((i) => i >= 0)
  if (live.length === 0) return
  if (m.kind === 'swap') {
    const a = live[pick(live.length, m.a)]!
    const b = live[pick(live.length, m.b)]!
    ;[files[a], files[b]] = [files[b]!, files[a]!]
    return
  }
  const index = live[pick(live.length, m.file)]!
  const f = files[index]!
  if (f.length === 0 && m.kind !== 'delete') return
  switch (m.kind) {
    case 'delete':
      files[index] = null
      break
    case 'flip': {
      const at = pick(f.length, m.at)
      f[at] = f[at]! ^ (1 << m.bit)
      break
    }
    case 'truncate':
      files[index] = f.subarray(0, pick(f.length + 1, m.at))
      break
    case 'zeroSector': {
      const s = pick(Math.ceil(f.length / SECTOR), m.sector) * SECTOR
      f.fill(0, s, Math.min(f.length, s + SECTOR))
      break
    }
    case 'duplicateSector': {
      const sectors = Math.ceil(f.length / SECTOR)
      const from = pick(sectors, m.from) * SECTOR
      const to = pick(sectors, m.to) * SECTOR
      Buffer.from(f.subarray(from, from + SECTOR)).copy(f, to)
      break
    }
    case 'garbage':
      Buffer.from(m.bytes).copy(f, pick(f.length, m.at))
      break
    case 'hugeLength': {
      const starts = frameStarts(f)
      if (starts.length > 0) f.writeUInt32LE(m.length, starts[pick(starts.length, m.frame / 21)]! + 4)
      break
    }
  }
}

describe('fuzzing damaged segment files', () => {
  it.each(VARIANTS)(
    'never a record that was not written, never an undocumented error, bounded memory (compression %s)',
    async (compression) => {
      const base = bases.get(compression)!
      const root = tempDir()
      let run = 0
      const rssBefore = process.memoryUsage().rss
      const outcomes = { clean: 0, corruptReported: 0, otherTyped: 0 }
      await fc.assert(
        fc.asyncProperty(
          fc.array(mutation, { minLength: 1, maxLength: 3 }),
          fc.boolean(),
          async (mutations, readOnly) => {
            const dir = join(root, `run-${run++}`)
            mkdirSync(dir)
            const files: (Buffer | null)[] = base.files.map((f) => Buffer.from(f))
            for (const m of mutations) apply(files, m)
            files.forEach((f, i) => {
              if (f) writeFileSync(join(dir, base.names[i]!), f)
            })
            try {
              const wal = readOnly ? await Wal.openReader({ dir }) : await Wal.open({ dir })
              try {
                let expectedSeq = wal.firstSeq
                for await (const r of wal.records()) {
                  expect(r.seq).toBe(expectedSeq++)
                  const w = base.written.get(r.seq)
                  expect(w, `seq ${r.seq} was never written`).toBeDefined()
                  expect(r.type).toBe(w!.type)
                  expect(Buffer.from(r.data).equals(w!.data)).toBe(true)
                }
                outcomes.clean++
              } finally {
                await wal.close()
              }
            } catch (err) {
              if (!isWalError(err) || !DOCUMENTED.includes(err.code)) throw err
              if (err.code === 'WAL_CORRUPT') {
                // Reported with the file, and with the offset when it concerns a frame.
                expect(err.file).toMatch(/\.wal$/)
                outcomes.corruptReported++
              } else {
                outcomes.otherTyped++
              }
            } finally {
              rmSync(dir, { recursive: true, force: true })
            }
          },
        ),
        { seed: SEED, numRuns: RUNS },
      )
      // No allocation followed a corrupt length: memory grew by far less than one huge record.
      expect(process.memoryUsage().rss - rssBefore).toBeLessThan(256 * 1024 * 1024)
      expect(outcomes.corruptReported).toBeGreaterThan(0)
      console.info(`fuzz: ${RUNS} damaged logs (seed ${SEED}, compression ${compression}):`, outcomes)
    },
    120_000,
  )

  it.each(VARIANTS)(
    'a bit flip anywhere in a sealed segment is reported with its file and offset (compression %s)',
    async (compression) => {
      const base = bases.get(compression)!
      const root = tempDir()
      const sealed = base.files[0]!
      const starts = frameStarts(sealed)
      let checked = 0
      for (let at = starts[0]!; at < sealed.length; at += 7) {
        const dir = join(root, `flip-${at}`)
        mkdirSync(dir)
        base.files.forEach((f, i) => {
          const copy = Buffer.from(f)
          if (i === 0) copy[at] = copy[at]! ^ 0x01
          writeFileSync(join(dir, base.names[i]!), copy)
        })
        const wal = await Wal.openReader({ dir })
        const err = await (async () => {
          for await (const _ of wal.records());
        })().catch((e: unknown) => e)
        await wal.close()
        expect(isWalError(err, 'WAL_CORRUPT'), `flip at ${at} went unnoticed`).toBe(true)
        const frame = starts.filter((s) => s <= at).pop()!
        expect(err).toMatchObject({ file: join(dir, base.names[0]!), offset: frame })
        checked++
      }
      expect(checked).toBeGreaterThan(50)
    },
  )
})
