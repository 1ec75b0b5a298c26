/**
 * Cases found by the review of core v2, each a reproduction of a defect that is now fixed.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { collect } from '../../../test-support/collect.js'
import { tempDir } from '../../../test-support/temp-dir.js'
import { checkFrame, FRAME_HEADER_SIZE, newFrameCursor, parseSegmentHeader } from '../src/format.js'
import { Wal } from '../src/index.js'
import { repairLog, scanLog } from '../src/inspect.js'
import { segmentFiles } from './helpers.js'

/** Frame offsets of a segment, by seq. */
function frames(file: string): Map<number, number> {
  const buf = readFileSync(file)
  const header = parseSegmentHeader(buf)
  if (typeof header === 'string') throw new Error(header)
  const out = new Map<number, number>()
  const cursor = newFrameCursor()
  let at = header.headerSize
  while (checkFrame(buf, at, buf.length, 0, 1 << 30, cursor) === 'ok') {
    out.set(cursor.seq, at)
    at = cursor.end
  }
  return out
}

function flip(file: string, offset: number): void {
  const bytes = readFileSync(file)
  bytes[offset] = bytes[offset]! ^ 0x01
  writeFileSync(file, bytes)
}

describe('torn or corrupt', () => {
  it('a bit flip inside a large acknowledged batch, followed by later writes, is WAL_CORRUPT', async () => {
    const dir = tempDir()
    const wal = await Wal.open({ dir, sync: 'always' })
    await wal.append({ type: 'a', data: new Uint8Array(0) })
    await wal.appendBatch(Array.from({ length: 300 }, () => ({ type: 'a', data: new Uint8Array(0) })))
    for (let i = 0; i < 50; i++) await wal.append({ type: 'a', data: new Uint8Array(0) })
    await wal.close()
    const [file] = segmentFiles(dir)
    flip(file!, frames(file!).get(250)! + FRAME_HEADER_SIZE + 4)
    await expect(Wal.open({ dir })).rejects.toMatchObject({ code: 'WAL_CORRUPT' })
    expect((await scanLog(dir)).segments[0]!.verdict).toBe('corrupt')
  })

  it('the scan past damage reads a large newest segment in windows and still finds the proof', async () => {
    const dir = tempDir()
    const wal = await Wal.open({ dir, sync: 'always', segmentSize: 64 * 1024 * 1024 })
    await wal.append({ type: 'a', data: new Uint8Array(8) })
    // One acknowledged write of ~9 MiB (more than two scan windows), then a record written after it.
    await wal.appendBatch(Array.from({ length: 70_000 }, () => ({ type: 'a', data: new Uint8Array(100) })))
    await wal.append({ type: 'a', data: new Uint8Array(8) })
    await wal.close()
    const [file] = segmentFiles(dir)
    flip(file!, frames(file!).get(2)! + FRAME_HEADER_SIZE + 30)
    const err = await Wal.open({ dir }).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'WAL_CORRUPT' })
    expect(String(err)).toMatch(/seq 70002 .* written after seq 2 was durable/)
  })

  it('an intact record over the maxRecordSize opened with, past the damage, still proves it', async () => {
    const dir = tempDir()
    const wal = await Wal.open({ dir, sync: 'always', maxRecordSize: 1 << 20 })
    for (let i = 1; i <= 3; i++) await wal.append({ type: 'a', data: new Uint8Array(10) })
    await wal.append({ type: 'big', data: new Uint8Array(200_000).fill(7) })
    await wal.close()
    const [file] = segmentFiles(dir)
    flip(file!, frames(file!).get(3)! + FRAME_HEADER_SIZE + 12)
    await expect(Wal.open({ dir, maxRecordSize: 100_000 })).rejects.toMatchObject({ code: 'WAL_CORRUPT' })
  })

  it('zeros inside acknowledged data of one write are not a lost sector: a bit flip there is WAL_CORRUPT', async () => {
    const dir = tempDir()
    const wal = await Wal.open({ dir, sync: 'always' })
    // Eight concurrent appends: one write, one fdatasync, all acknowledged. Zero-padded data.
    const padded = () => {
      const data = new Uint8Array(600)
      data.fill(0x55, 0, 40)
      return data
    }
    await Promise.all(Array.from({ length: 8 }, () => wal.append({ type: 'p', data: padded() })))
    await wal.close()
    const [file] = segmentFiles(dir)
    flip(file!, frames(file!).get(1)! + FRAME_HEADER_SIZE + 20)
    await expect(Wal.open({ dir })).rejects.toMatchObject({ code: 'WAL_CORRUPT' })
  })
})

describe('readers of a damaged log', () => {
  it('a range that starts at the damage reports it instead of returning nothing', async () => {
    const dir = tempDir()
    const wal = await Wal.open({ dir, sync: 'always' })
    for (let i = 0; i < 5; i++) await wal.append({ type: 'a', data: new Uint8Array(8) })
    await wal.close()
    const [file] = segmentFiles(dir)
    flip(file!, frames(file!).get(1)! + FRAME_HEADER_SIZE + 3)
    const reader = await Wal.openReader({ dir })
    expect(reader.lastSeq).toBe(0)
    await expect(reader.replayFrom(0, () => {})).rejects.toMatchObject({ code: 'WAL_CORRUPT' })
    await expect(collect(reader.records())).rejects.toMatchObject({ code: 'WAL_CORRUPT' })
    await reader.close()
  })

  it('a corrupt length never sizes an allocation, whatever maxRecordSize allows', async () => {
    const dir = tempDir()
    const wal = await Wal.open({ dir, segmentSize: 256, maxRecordSize: 0xffffffff })
    for (let i = 0; i < 12; i++) await wal.append({ type: 'a', data: new Uint8Array(40) })
    await wal.close()
    const sealed = segmentFiles(dir)[0]!
    const bytes = readFileSync(sealed)
    bytes.writeUInt32LE(0xc0000000, frames(sealed).get(1)! + 4)
    writeFileSync(sealed, bytes)
    const reader = await Wal.openReader({ dir, maxRecordSize: 0xffffffff })
    const rss = process.memoryUsage().rss
    await expect(collect(reader.records())).rejects.toMatchObject({ code: 'WAL_CORRUPT', file: sealed })
    expect(process.memoryUsage().rss - rss).toBeLessThan(256 * 1024 * 1024)
    await reader.close()
  })

  it('a reader tailing across retention reports the removed seqs instead of stalling', async () => {
    const dir = tempDir()
    const writer = await Wal.open({ dir, segmentSize: 256 })
    for (let i = 0; i < 5; i++) await writer.append({ type: 'a', data: new Uint8Array(40) })
    await writer.flush()
    const reader = await Wal.openReader({ dir })
    const seen: number[] = []
    const controller = new AbortController()
    // Settled from the start: the tail may fail while retention runs, before anyone awaits it.
    const tail = (async () => {
      for await (const r of reader.tail({ from: 1, signal: controller.signal })) seen.push(r.seq)
    })().then(
      () => 'ended',
      (e: unknown) => e,
    )
    while (seen.length < 5) await new Promise((r) => setTimeout(r, 20))
    for (let i = 0; i < 40; i++) await writer.append({ type: 'a', data: new Uint8Array(40) })
    await writer.flush()
    // Retention removes everything the reader has not read yet (between two of its polls).
    await writer.truncateBefore(writer.lastSeq)
    const outcome = await Promise.race([tail, new Promise((r) => setTimeout(() => r('stalled'), 3000))])
    controller.abort()
    // Either the reader read everything before retention ran (then it keeps following), or it
    // reports the seqs it missed; before the fix it stalled silently with nothing delivered.
    if (seen.length < 45) expect(outcome).toMatchObject({ code: 'WAL_TRUNCATED' })
    await reader.close()
    await writer.close()
  })
})

describe('the envelope round-trips exactly', () => {
  it('a leading U+FEFF stays; a lone surrogate is refused at append', async () => {
    const dir = tempDir()
    const wal = await Wal.open({ dir })
    const bom = '\uFEFFx'
    await wal.append({ type: bom, key: bom, headers: { [bom]: bom }, data: new Uint8Array(1) })
    const [r] = await collect(wal.records())
    expect(r).toMatchObject({ type: bom, key: bom, headers: { [bom]: bom } })
    for (const bad of [
      { type: 'a\uD83D' },
      { type: 'a', key: 'k\uDC00' },
      { type: 'a', headers: { h: '\uD800' } },
    ]) {
      await expect(wal.append({ data: new Uint8Array(1), ...bad })).rejects.toMatchObject({
        code: 'WAL_INVALID_ARGUMENT',
      })
    }
    await wal.close()
  })

  it('keys and headers of 16+ characters (checked and written by native calls) round-trip or are refused alike', async () => {
    const dir = tempDir()
    const wal = await Wal.open({ dir })
    const ascii = '01a230cb-6501-765a-94d9-fbcb9590975a'
    const accented = `${'é'.repeat(20)}-ü`
    const astral = `${'x'.repeat(15)}😀${'y'.repeat(15)}`
    // Two records of one batch: the encoder reuses its header fields between records.
    await wal.appendBatch([
      {
        type: 'a',
        key: accented,
        headers: { $id: ascii, [astral]: accented, n: '1' },
        data: new Uint8Array(1),
      },
      { type: 'a', key: ascii, headers: { $id: astral }, data: new Uint8Array(1) },
    ])
    const [first, second] = await collect(wal.records())
    expect(first).toMatchObject({ key: accented, headers: { $id: ascii, [astral]: accented, n: '1' } })
    expect(second).toMatchObject({ key: ascii, headers: { $id: astral } })
    expect(Object.keys(second!.headers!)).toEqual(['$id'])
    for (const bad of [
      { key: `${'k'.repeat(20)}\uDC00` },
      { headers: { h: `${'v'.repeat(20)}\uD800` } },
      { headers: { [`${'h'.repeat(20)}\uD800`]: 'v' } },
    ]) {
      await expect(wal.append({ type: 'a', data: new Uint8Array(1), ...bad })).rejects.toMatchObject({
        code: 'WAL_INVALID_ARGUMENT',
      })
    }
    await wal.close()
  })
})

describe('options and tools', () => {
  it('unknown options, timers Node would clamp and oversized buffers are refused', async () => {
    const dir = tempDir()
    for (const options of [
      { dir, syncPolicy: 'always' },
      { dir, readOnly: true },
      { dir, syncIntervalMs: 2 ** 31 },
      { dir, bufferSize: 2 ** 33 },
    ]) {
      await expect(Wal.open(options as never)).rejects.toMatchObject({ code: 'WAL_INVALID_ARGUMENT' })
    }
    await expect(Wal.openReader({ dir, sync: 'always' } as never)).rejects.toMatchObject({
      code: 'WAL_INVALID_ARGUMENT',
    })
  })

  it('repairLog refuses a log of another format version instead of dropping it', async () => {
    const dir = tempDir()
    const wal = await Wal.open({ dir })
    await wal.append({ type: 'a', data: new Uint8Array(1) })
    await wal.close()
    const [file] = segmentFiles(dir)
    const bytes = readFileSync(file!)
    const size = bytes.readUInt16LE(6)
    bytes.writeUInt16LE(3, 4)
    const { crc32 } = await import('node:zlib')
    bytes.writeUInt32LE(crc32(bytes.subarray(0, size - 4)), size - 4)
    writeFileSync(file!, bytes)
    await expect(repairLog(dir, { apply: true })).rejects.toMatchObject({ code: 'WAL_FORMAT_UNSUPPORTED' })
    expect(segmentFiles(dir)).toEqual([file])
  })
})
