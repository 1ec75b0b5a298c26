/**
 * The two damage scenarios of the core v2 issue, and the torn-vs-corrupt rule around them: damage in
 * acknowledged data of the newest segment is WAL_CORRUPT (nothing cut); only a torn final write is cut,
 * and what is cut is kept in a side file.
 */
import { readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { payloadFor } from '../../../test-support/payload.mjs'
import { tempDir } from '../../../test-support/temp-dir.js'
import { FRAME_HEADER_SIZE, parseSegmentHeader } from '../src/format.js'
import { isWalError, type Serializer, Wal } from '../src/index.js'
import { scanLog } from '../src/inspect.js'
import { segmentFiles, unsyncedWrite } from './helpers.js'

function firstFrameOffset(file: string): number {
  const header = parseSegmentHeader(readFileSync(file))
  if (typeof header === 'string') throw new Error(header)
  return header.headerSize
}

/** 600 records of 100 bytes in 'always' mode, sequentially or from 16 concurrent appenders. */
async function writeAlwaysLog(dir: string, concurrent: boolean): Promise<void> {
  const wal = await Wal.open({ dir, sync: 'always', segmentSize: 4096 })
  const record = (i: number) => ({ type: 'r', key: `k${i % 7}`, data: payloadFor(i, 100) })
  if (concurrent) {
    let next = 1
    await Promise.all(
      Array.from({ length: 16 }, async () => {
        while (next <= 600) await wal.append(record(next++))
      }),
    )
  } else {
    for (let i = 1; i <= 600; i++) await wal.append(record(i))
  }
  await wal.close()
}

describe('damage in acknowledged data of the newest segment', () => {
  for (const concurrent of [false, true]) {
    it(`a bit flip in its first frame is WAL_CORRUPT, nothing is cut, verify reports it (${concurrent ? '16 appenders' : '1 appender'})`, async () => {
      const dir = tempDir()
      await writeAlwaysLog(dir, concurrent)
      const files = segmentFiles(dir)
      const newest = files[files.length - 1]!
      const at = firstFrameOffset(newest)
      const bytes = readFileSync(newest)
      bytes[at + FRAME_HEADER_SIZE + 20] = bytes[at + FRAME_HEADER_SIZE + 20]! ^ 0x04
      writeFileSync(newest, bytes)
      const err = await Wal.open({ dir, sync: 'always' }).catch((e: unknown) => e)
      expect(isWalError(err, 'WAL_CORRUPT')).toBe(true)
      expect(err).toMatchObject({ file: newest, offset: at })
      expect(readFileSync(newest)).toEqual(bytes)
      expect(readdirSync(dir).some((n) => n.includes('.cut-'))).toBe(false)
      const report = await scanLog(dir)
      expect(report.segments[report.segments.length - 1]!.verdict).toBe('corrupt')
      expect(report.corruption).toEqual([
        expect.objectContaining({ file: newest, offset: at, code: 'frame-checksum' }),
      ])
    })
  }

  it('the newest segment truncated to 10 bytes is WAL_CORRUPT and stays on disk', async () => {
    const dir = tempDir()
    await writeAlwaysLog(dir, false)
    const files = segmentFiles(dir)
    const newest = files[files.length - 1]!
    truncateSync(newest, 10)
    await expect(Wal.open({ dir })).rejects.toMatchObject({ code: 'WAL_CORRUPT', file: newest })
    expect(segmentFiles(dir)).toEqual(files)
    const report = await scanLog(dir)
    expect(report.corruption).toEqual([expect.objectContaining({ file: newest, code: 'header' })])
  })
})

describe('a torn final write', () => {
  const lostAt = 2048

  it('a lost sector inside the last unsynced write, with intact frames after it, is torn: cut and kept', async () => {
    const { dir, file, bytes } = await unsyncedWrite()
    // A power cut lost one 512-byte sector of that write; later sectors of it survived.
    bytes.fill(0, lostAt, lostAt + 512)
    writeFileSync(file, bytes)
    const wal = await Wal.open({ dir })
    const cutAt = wal.recovery.truncatedAt!
    expect(cutAt).toBeLessThanOrEqual(lostAt)
    expect(wal.recovery.lastSeq).toBeGreaterThanOrEqual(10)
    expect(readFileSync(wal.recovery.cutFile!)).toEqual(bytes.subarray(cutAt))
    expect(readFileSync(file).length).toBe(cutAt)
    await wal.close()
  })

  it('the same write with a flipped bit instead of a lost sector is WAL_CORRUPT (not what a power cut leaves)', async () => {
    const { dir, file, bytes } = await unsyncedWrite()
    bytes[lostAt + 100] = bytes[lostAt + 100]! ^ 1
    writeFileSync(file, bytes)
    await expect(Wal.open({ dir })).rejects.toMatchObject({ code: 'WAL_CORRUPT', file })
  })
})

describe('readers deliver every valid record before a failure', () => {
  it('a decode failure at seq 3000 of 5000: replayFrom hands over the 2,999 records before it', async () => {
    const dir = tempDir()
    const wal = await Wal.open({ dir, sync: 'background' })
    for (let i = 1; i <= 5000; i++)
      await wal.append({ type: i === 3000 ? 'poison' : 'ok', data: payloadFor(i, 20) })
    await wal.close()
    const picky: Serializer<string, Uint8Array> = {
      name: 'waltz-bytes/1',
      encode: (data) => data,
      decode: (bytes, type) => {
        if (type === 'poison') throw new Error('cannot decode this one')
        return bytes
      },
    }
    const reader = await Wal.openReader({ dir, serializer: picky })
    const seen: number[] = []
    const err = await reader.replayFrom(0, (r) => void seen.push(r.seq)).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'WAL_SERIALIZER_ERROR', seq: 3000 })
    expect(seen.length).toBe(2999)
    expect(seen[2998]).toBe(2999)
    await reader.close()
  })

  it('corruption in a sealed segment: records() yields every record before it, then throws', async () => {
    const dir = tempDir()
    const wal = await Wal.open({ dir, sync: 'background', segmentSize: 8192 })
    for (let i = 1; i <= 400; i++) await wal.append({ type: 'r', data: payloadFor(i, 50) })
    await wal.close()
    const files = segmentFiles(dir)
    const sealed = files[1]!
    const bytes = readFileSync(sealed)
    const at = firstFrameOffset(sealed) + 400
    bytes[at] = bytes[at]! ^ 0xff
    writeFileSync(sealed, bytes)
    const reader = await Wal.openReader({ dir })
    const seen: number[] = []
    const err = await (async () => {
      for await (const r of reader.records()) seen.push(r.seq)
    })().catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'WAL_CORRUPT', file: sealed })
    const firstOfSealed = Number(sealed.slice(-24, -4))
    expect(seen.length).toBeGreaterThanOrEqual(firstOfSealed)
    expect(seen).toEqual(Array.from({ length: seen.length }, (_, i) => i + 1))
    await reader.close()
  })
})
