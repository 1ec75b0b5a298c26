import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isSerializerError, SerializerError } from '@waltz/core'
import { pack, unpack } from 'msgpackr'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { BINARY_SERIALIZER_NAME, BINARY_SHARED_SERIALIZER_NAME, binarySerializer } from '../src/index.js'
import { records as childRecords, toJson } from './fixtures/records.mjs'
import { builtPackage, readFrames, runChild, writeFrames } from './helpers.js'

const childJson = toJson(childRecords)

const tempDirs: string[] = []
const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'waltz-binary-'))
  tempDirs.push(dir)
  return dir
}
afterAll(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true })
})

describe('binarySerializer', () => {
  it('names the encoding by mode', () => {
    expect(binarySerializer().name).toBe(BINARY_SERIALIZER_NAME)
    expect(binarySerializer({ structuresPath: join(tempDir(), 's.mp') }).name).toBe(
      BINARY_SHARED_SERIALIZER_NAME,
    )
  })

  it('keeps numbers and bigints apart, and preserves value types', () => {
    const s = binarySerializer()
    const data = {
      n: 2 ** 40,
      b: 2n ** 40n,
      huge: -(2n ** 200n),
      date: new Date(1_700_000_000_123),
      map: new Map([[1, 'one']]),
      set: new Set(['a']),
      bytes: new Uint8Array([9, 8, 7]),
    }
    const out = s.decode(s.encode({ type: 'T', time: 1, data })).data as typeof data
    expect(typeof out.n).toBe('number')
    expect(out.b).toBe(2n ** 40n)
    expect(out.huge).toBe(-(2n ** 200n))
    expect(out.date).toBeInstanceOf(Date)
    expect(out.date.getTime()).toBe(1_700_000_000_123)
    expect(out.map).toBeInstanceOf(Map)
    expect(out.map.get(1)).toBe('one')
    expect(out.set).toBeInstanceOf(Set)
    expect(out.bytes).toBeInstanceOf(Uint8Array)
    expect([...out.bytes]).toEqual([9, 8, 7])
  })

  it('round-trips a 1 MiB Uint8Array byte for byte', () => {
    const s = binarySerializer()
    const blob = new Uint8Array(1024 * 1024).map((_, i) => i % 251)
    const out = s.decode(s.encode({ type: 'Blob', time: 1, data: blob })).data as Uint8Array
    expect(out.byteLength).toBe(blob.byteLength)
    expect(Buffer.compare(Buffer.from(out.buffer, out.byteOffset, out.byteLength), Buffer.from(blob))).toBe(0)
  })

  it('writes class instances as their own properties, ignoring toJSON', () => {
    class Money {
      constructor(readonly cents: number) {}
      toJSON(): string {
        return `$${this.cents / 100}`
      }
    }
    const s = binarySerializer()
    expect(s.decode(s.encode({ type: 'T', time: 1, data: new Money(150) })).data).toEqual({ cents: 150 })
  })

  it('wraps msgpackr encode failures in a typed error naming the type', () => {
    const s = binarySerializer()
    let caught: unknown
    try {
      s.encode({ type: 'Huge', time: 1, data: { id: Symbol('not encodable') } })
    } catch (err) {
      caught = err
    }
    expect(isSerializerError(caught, 'SERIALIZER_ENCODE_FAILED')).toBe(true)
    expect((caught as SerializerError).serializer).toBe(BINARY_SERIALIZER_NAME)
    expect((caught as SerializerError).type).toBe('Huge')
    expect((caught as SerializerError).cause).toBeInstanceOf(Error)
    expect((caught as Error).message).toMatch(/^SERIALIZER_ENCODE_FAILED: cannot encode a Huge record/)
  })

  it('wraps a cyclic object in a typed error', () => {
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    expect(() => binarySerializer().encode({ type: 'Cycle', time: 1, data: cyclic })).toThrow(SerializerError)
  })

  it('encodes records usable after the serializer encodes more', () => {
    const s = binarySerializer()
    const first = s.encode({ type: 'A', time: 1, data: { a: 1 } })
    for (let i = 0; i < 10_000; i++) s.encode({ type: 'B', time: i, data: { b: 'x'.repeat(i % 100) } })
    expect(s.decode(first)).toEqual({ type: 'A', time: 1, data: { a: 1 } })
  })

  it('rejects a malformed record on encode', () => {
    const s = binarySerializer()
    expect(() => s.encode({ type: 1 as unknown as string, time: 1, data: null })).toThrow(SerializerError)
    expect(() => s.encode({ type: 'T', time: '1' as unknown as number, data: null })).toThrow(
      /record time must be/,
    )
  })

  it('rejects valid msgpack that is not a record envelope', () => {
    const s = binarySerializer()
    for (const value of [
      [1, 2, 3],
      ['T', '1', null],
      ['T', 1],
      ['T', 1, null, 4],
      { type: 'T', time: 1, data: 1 },
      5,
    ]) {
      expect(() => s.decode(pack(value))).toThrow(
        /SERIALIZER_DECODE_FAILED: not a msgpackr record: bad envelope/,
      )
    }
    expect(() => s.decode(new Uint8Array([0x93, 0x01, 0x02, 0x03]))).toThrow(/bad envelope/)
    expect(() => s.decode(new Uint8Array([0x05]))).toThrow(/bad envelope/)
    expect(() => s.decode(new Uint8Array([0x92, 0xa1, 0x54, 0x01]))).toThrow(/bad envelope/)
  })

  it('rejects trailing bytes after a record', () => {
    const s = binarySerializer()
    const bytes = s.encode({ type: 'T', time: 1, data: { a: 1 } })
    const longer = new Uint8Array(bytes.byteLength + 1)
    longer.set(bytes)
    expect(() => s.decode(longer)).toThrow(SerializerError)
  })

  it('validates maxSharedStructures', () => {
    expect(() => binarySerializer({ maxSharedStructures: 0 })).toThrow(/maxSharedStructures/)
    expect(() => binarySerializer({ maxSharedStructures: 9000 })).toThrow(/maxSharedStructures/)
  })
})

describe('binarySerializer structure sharing (structuresPath)', () => {
  it('makes repeated shapes smaller than self-describing records', () => {
    const record = {
      type: 'OrderPlaced',
      time: 1,
      data: { orderId: 'o-1', price: 1999, quantity: 3, side: 'buy' },
    }
    const self = binarySerializer()
    const shared = binarySerializer({ structuresPath: join(tempDir(), 's.mp') })
    shared.encode(record)
    expect(shared.encode(record).byteLength).toBeLessThan(self.encode(record).byteLength)
  })

  it('writes a new structure to disk before encode returns', () => {
    const path = join(tempDir(), 's.mp')
    const s = binarySerializer({ structuresPath: path })
    expect(existsSync(path)).toBe(false)
    s.encode({ type: 'A', time: 1, data: { x: 1, y: 2 } })
    expect(unpack(readFileSync(path))).toEqual([['x', 'y']])
    s.encode({ type: 'A', time: 1, data: { x: 1, y: 2 } })
    s.encode({ type: 'B', time: 1, data: { z: 'z' } })
    expect(unpack(readFileSync(path))).toEqual([['x', 'y'], ['z']])
  })

  it('lets a second reader pick up structures added after it started', () => {
    const path = join(tempDir(), 's.mp')
    const writer = binarySerializer({ structuresPath: path })
    const reader = binarySerializer({ structuresPath: path })
    const first = { type: 'A', time: 1, data: { x: 1 } }
    expect(reader.decode(writer.encode(first))).toEqual(first)
    const second = { type: 'B', time: 2, data: { y: 'new shape' } }
    expect(reader.decode(writer.encode(second))).toEqual(second)
  })

  it('keeps shapes beyond maxSharedStructures self-describing', () => {
    const path = join(tempDir(), 's.mp')
    const writer = binarySerializer({ structuresPath: path, maxSharedStructures: 2 })
    const records = ['a', 'b', 'c', 'd'].map((key, i) => ({ type: 'T', time: i, data: { [key]: i } }))
    const encoded = records.map((r) => writer.encode(r))
    expect((unpack(readFileSync(path)) as unknown[]).length).toBe(2)
    const reader = binarySerializer({ structuresPath: path, maxSharedStructures: 2 })
    expect(encoded.map((b) => reader.decode(b))).toEqual(records)
  })

  it('fails with a typed error when the structures file is missing', () => {
    const dir = tempDir()
    const bytes = binarySerializer({ structuresPath: join(dir, 's.mp') }).encode({
      type: 'A',
      time: 1,
      data: { x: 1 },
    })
    const reader = binarySerializer({ structuresPath: join(dir, 'other.mp') })
    expect(() => reader.decode(bytes)).toThrow(SerializerError)
  })

  it('fails with a typed error when the structures file is corrupt', () => {
    const dir = tempDir()
    const path = join(dir, 's.mp')
    writeFrames(path, [new Uint8Array([1, 2, 3])])
    const s = binarySerializer({ structuresPath: path })
    let caught: unknown
    try {
      s.encode({ type: 'A', time: 1, data: { x: 1 } })
    } catch (err) {
      caught = err
    }
    expect(isSerializerError(caught, 'SERIALIZER_STRUCTURES_FAILED')).toBe(true)
    expect((caught as SerializerError).serializer).toBe(BINARY_SHARED_SERIALIZER_NAME)
  })
})

describe('binarySerializer across processes', () => {
  let moduleUrl: string
  beforeAll(() => {
    moduleUrl = builtPackage()
  })

  it('decodes in this process what a child process encoded (self-describing)', () => {
    const file = join(tempDir(), 'records.bin')
    const child = runChild(moduleUrl, 'encode', file)
    expect(child.stderr).toBe('')
    expect(child.status).toBe(0)
    const frames = readFrames(file)
    expect(frames).toHaveLength(childRecords.length)
    expect(frames.map((f) => binarySerializer().decode(f))).toEqual(childRecords)
    // Replay from the middle: the last record alone, in a serializer that has seen nothing.
    expect(binarySerializer().decode(frames[3]!)).toEqual(childRecords[3])
  })

  it('decodes in a child process what this process encoded (self-describing)', () => {
    const file = join(tempDir(), 'records.bin')
    const s = binarySerializer()
    writeFrames(
      file,
      childRecords.map((r) => s.encode(r)),
    )
    const child = runChild(moduleUrl, 'decode', file)
    expect(child.stderr).toBe('')
    expect(child.status).toBe(0)
    expect(child.stdout).toBe(childJson)
  })

  it('survives a writer crash right after encode with shared structures', () => {
    const dir = tempDir()
    const file = join(dir, 'records.bin')
    const structures = join(dir, 'structures.mp')
    const child = runChild(moduleUrl, 'encode-kill', file, structures)
    expect(child.signal).toBe('SIGKILL')
    const frames = readFrames(file)
    expect(frames).toHaveLength(childRecords.length)
    // A fresh serializer in this process, reading only the durable structures file.
    expect(frames.map((f) => binarySerializer({ structuresPath: structures }).decode(f))).toEqual(
      childRecords,
    )
    expect(binarySerializer({ structuresPath: structures }).decode(frames[2]!)).toEqual(childRecords[2])
  })

  it('lets a fresh child read records this process wrote with shared structures', () => {
    const dir = tempDir()
    const file = join(dir, 'records.bin')
    const structures = join(dir, 'structures.mp')
    const s = binarySerializer({ structuresPath: structures })
    writeFrames(
      file,
      childRecords.map((r) => s.encode(r)),
    )
    const child = runChild(moduleUrl, 'decode', file, structures)
    expect(child.stderr).toBe('')
    expect(child.stdout).toBe(childJson)
  })
})
