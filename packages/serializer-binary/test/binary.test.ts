import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { isSerializerError, SerializerError } from '@waltz/core'
import { pack, unpack } from 'msgpackr'
import { beforeAll, describe, expect, it } from 'vitest'
import { tempDir } from '../../../test-support/temp-dir.js'
import { BINARY_SERIALIZER_NAME, BINARY_SHARED_SERIALIZER_NAME, binarySerializer } from '../src/index.js'
import { records as childRecords, toJson } from './fixtures/records.mjs'
import { builtPackage, readFrames, runChild, writeFrames } from './helpers.js'

const childData = childRecords.map((r) => r.data)
const childJson = toJson(childData)

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
    const out = s.decode(s.encode(data, 'T'), 'T') as typeof data
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
    const out = s.decode(s.encode(blob, 'Blob'), 'Blob') as Uint8Array
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
    expect(s.decode(s.encode(new Money(150), 'T'), 'T')).toEqual({ cents: 150 })
  })

  it('wraps msgpackr encode failures in a typed error naming the type', () => {
    const s = binarySerializer()
    let caught: unknown
    try {
      s.encode({ id: Symbol('not encodable') }, 'Huge')
    } catch (err) {
      caught = err
    }
    expect(isSerializerError(caught, 'SERIALIZER_ENCODE_FAILED')).toBe(true)
    expect((caught as SerializerError).serializer).toBe(BINARY_SERIALIZER_NAME)
    expect((caught as SerializerError).type).toBe('Huge')
    expect((caught as SerializerError).cause).toBeInstanceOf(Error)
    expect((caught as Error).message).toMatch(/^SERIALIZER_ENCODE_FAILED: cannot encode Huge data/)
  })

  it('wraps a cyclic object in a typed error', () => {
    const cyclic: Record<string, unknown> = {}
    cyclic.self = cyclic
    expect(() => binarySerializer().encode(cyclic, 'Cycle')).toThrow(SerializerError)
  })

  it('encodes records usable after the serializer encodes more', () => {
    const s = binarySerializer()
    const first = s.encode({ a: 1 }, 'A')
    for (let i = 0; i < 10_000; i++) s.encode({ b: 'x'.repeat(i % 100) }, 'B')
    expect(s.decode(first, 'A')).toEqual({ a: 1 })
  })

  it('encodes only the data: the same data under any type gives the same bytes', () => {
    const s = binarySerializer()
    const data = { orderId: 'o-1', price: 1999n }
    expect(Buffer.from(s.encode(data, 'A')).equals(Buffer.from(s.encode(data, 'B')))).toBe(true)
    expect(unpack(s.encode([1, 'two'], 'T'))).toEqual([1, 'two'])
    expect(s.decode(pack([{ plain: 'msgpack' }]), 'T')).toEqual([new Map([['plain', 'msgpack']])])
  })

  it('rejects the never-used byte 0xc1, which msgpackr would read as a marker object', () => {
    expect(() => binarySerializer().decode(new Uint8Array([0xc1]), 'T')).toThrow(
      /^SERIALIZER_DECODE_FAILED: T data is the never-used byte 0xc1/,
    )
  })

  it('round-trips undefined, null and scalars as data', () => {
    const s = binarySerializer()
    for (const data of [undefined, null, 0, -1.5, '', 'text', true, 2n ** 64n]) {
      expect(s.decode(s.encode(data, 'T'), 'T')).toEqual(data)
    }
  })

  it('names the type in decode failures', () => {
    const s = binarySerializer()
    let caught: unknown
    try {
      s.decode(new Uint8Array([0x92, 0x01]), 'OrderPlaced') // an array of two holding one
    } catch (err) {
      caught = err
    }
    expect(isSerializerError(caught, 'SERIALIZER_DECODE_FAILED')).toBe(true)
    expect((caught as SerializerError).type).toBe('OrderPlaced')
    expect((caught as SerializerError).cause).toBeInstanceOf(Error)
  })

  it('rejects trailing bytes after the data', () => {
    const s = binarySerializer()
    const bytes = s.encode({ a: 1 }, 'T')
    const longer = new Uint8Array(bytes.byteLength + 1)
    longer.set(bytes)
    expect(() => s.decode(longer, 'T')).toThrow(SerializerError)
  })

  it('validates maxSharedStructures', () => {
    expect(() => binarySerializer({ maxSharedStructures: 0 })).toThrow(/maxSharedStructures/)
    expect(() => binarySerializer({ maxSharedStructures: 9000 })).toThrow(/maxSharedStructures/)
  })
})

describe('binarySerializer structure sharing (structuresPath)', () => {
  it('makes repeated shapes smaller than self-describing records', () => {
    const data = { orderId: 'o-1', price: 1999, quantity: 3, side: 'buy' }
    const self = binarySerializer()
    const shared = binarySerializer({ structuresPath: join(tempDir(), 's.mp') })
    shared.encode(data, 'OrderPlaced')
    expect(shared.encode(data, 'OrderPlaced').byteLength).toBeLessThan(
      self.encode(data, 'OrderPlaced').byteLength,
    )
  })

  it('writes a new structure to disk before encode returns', () => {
    const path = join(tempDir(), 's.mp')
    const s = binarySerializer({ structuresPath: path })
    expect(existsSync(path)).toBe(false)
    s.encode({ x: 1, y: 2 }, 'A')
    expect(unpack(readFileSync(path))).toEqual([['x', 'y']])
    s.encode({ x: 1, y: 2 }, 'A')
    s.encode({ z: 'z' }, 'B')
    expect(unpack(readFileSync(path))).toEqual([['x', 'y'], ['z']])
  })

  it('lets a second reader pick up structures added after it started', () => {
    const path = join(tempDir(), 's.mp')
    const writer = binarySerializer({ structuresPath: path })
    const reader = binarySerializer({ structuresPath: path })
    const first = { x: 1 }
    expect(reader.decode(writer.encode(first, 'A'), 'A')).toEqual(first)
    const second = { y: 'new shape' }
    expect(reader.decode(writer.encode(second, 'B'), 'B')).toEqual(second)
  })

  it('keeps shapes beyond maxSharedStructures self-describing', () => {
    const path = join(tempDir(), 's.mp')
    const writer = binarySerializer({ structuresPath: path, maxSharedStructures: 2 })
    const data = ['a', 'b', 'c', 'd'].map((key, i) => ({ [key]: i }))
    const encoded = data.map((d) => writer.encode(d, 'T'))
    expect((unpack(readFileSync(path)) as unknown[]).length).toBe(2)
    const reader = binarySerializer({ structuresPath: path, maxSharedStructures: 2 })
    expect(encoded.map((b) => reader.decode(b, 'T'))).toEqual(data)
  })

  it('fails with a typed error when the structures file is missing', () => {
    const dir = tempDir()
    const bytes = binarySerializer({ structuresPath: join(dir, 's.mp') }).encode({ x: 1 }, 'A')
    const reader = binarySerializer({ structuresPath: join(dir, 'other.mp') })
    expect(() => reader.decode(bytes, 'A')).toThrow(SerializerError)
  })

  it('fails with a typed error when the structures file is corrupt', () => {
    const dir = tempDir()
    const path = join(dir, 's.mp')
    writeFrames(path, [new Uint8Array([1, 2, 3])])
    const s = binarySerializer({ structuresPath: path })
    let caught: unknown
    try {
      s.encode({ x: 1 }, 'A')
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
    expect(frames.map((f, i) => binarySerializer().decode(f, childRecords[i]!.type))).toEqual(childData)
    // Replay from the middle: the last record alone, in a serializer that has seen nothing.
    expect(binarySerializer().decode(frames[3]!, childRecords[3]!.type)).toEqual(childData[3])
  })

  it('decodes in a child process what this process encoded (self-describing)', () => {
    const file = join(tempDir(), 'records.bin')
    const s = binarySerializer()
    writeFrames(
      file,
      childRecords.map((r) => s.encode(r.data, r.type)),
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
    const fresh = () => binarySerializer({ structuresPath: structures })
    expect(frames.map((f, i) => fresh().decode(f, childRecords[i]!.type))).toEqual(childData)
    expect(fresh().decode(frames[2]!, childRecords[2]!.type)).toEqual(childData[2])
  })

  it('lets a fresh child read records this process wrote with shared structures', () => {
    const dir = tempDir()
    const file = join(dir, 'records.bin')
    const structures = join(dir, 'structures.mp')
    const s = binarySerializer({ structuresPath: structures })
    writeFrames(
      file,
      childRecords.map((r) => s.encode(r.data, r.type)),
    )
    const child = runChild(moduleUrl, 'decode', file, structures)
    expect(child.stderr).toBe('')
    expect(child.stdout).toBe(childJson)
  })
})
