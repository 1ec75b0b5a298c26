import { SerializerError } from '@waltz/core'
import { describe, expect, it } from 'vitest'
import { expectSerializerError, type SerializerErrorShape } from '../../../test-support/serializer-error.js'
import { PROTO_SERIALIZER_NAME, protoSerializer } from '../src/index.js'
import { placed, reflectedTypes, root } from './fixtures.js'
import { waltz } from './generated/order_events.generated.js'

const OrderPlacedType = root.lookupType('waltz.example.OrderPlaced')

function caught(fn: () => unknown): SerializerErrorShape {
  return expectSerializerError(fn, PROTO_SERIALIZER_NAME)
}

describe('protoSerializer', () => {
  const serializer = protoSerializer({ types: reflectedTypes })

  it('is named waltz-protobuf/2', () => {
    expect(serializer.name).toBe('waltz-protobuf/2')
    expect(serializer.name).toBe(PROTO_SERIALIZER_NAME)
  })

  it('writes the data as its message type, nothing else', () => {
    const bytes = serializer.encode(placed, 'OrderPlaced')
    expect(Buffer.from(bytes).equals(Buffer.from(OrderPlacedType.encode(placed).finish()))).toBe(true)
    expect(OrderPlacedType.toObject(OrderPlacedType.decode(bytes), { longs: Number })).toEqual(placed)
  })

  it('reads a message written by protobufjs, skipping unknown fields', () => {
    const writer = OrderPlacedType.encode(placed)
    writer.uint32((99 << 3) | 0).uint32(7) // a field added by a future version of the schema
    expect(serializer.decode(writer.finish(), 'OrderPlaced')).toEqual(placed)
  })

  it('fills proto3 defaults so decoded data has every field, and reads empty bytes as all defaults', () => {
    const defaults = { orderId: '', accountId: '', symbol: '', side: 0, price: 0, quantity: 0, tags: [] }
    const bytes = serializer.encode({ orderId: 'o' } as never, 'OrderPlaced')
    expect(serializer.decode(bytes, 'OrderPlaced')).toEqual({ ...defaults, orderId: 'o' })
    expect(serializer.encode({ orderId: '', reason: '' }, 'OrderCancelled').byteLength).toBe(0)
    expect(serializer.decode(new Uint8Array(0), 'OrderPlaced')).toEqual(defaults)
  })

  it('names an unknown type on encode and on decode', () => {
    for (const call of [
      () => serializer.encode(placed, 'OrderAmended' as never),
      () => serializer.decode(new Uint8Array(), 'OrderAmended' as never),
    ]) {
      const err = caught(call)
      expect(err.code).toBe('SERIALIZER_UNKNOWN_TYPE')
      expect(err.type).toBe('OrderAmended')
      expect(err.message).toContain('OrderAmended')
    }
  })

  it('rejects bytes that are not its message type, naming the type', () => {
    const err = caught(() => serializer.decode(new Uint8Array([0xff, 0xff, 0xff]), 'OrderPlaced'))
    expect(err.code).toBe('SERIALIZER_DECODE_FAILED')
    expect(err.type).toBe('OrderPlaced')
    expect(err.cause).toBeInstanceOf(Error)
  })

  it('fails instead of losing precision on an int64 beyond Number.MAX_SAFE_INTEGER', () => {
    const data = OrderPlacedType.encode({
      orderId: 'o',
      price: { low: 1, high: 0x200000, unsigned: false } /* 2^53 + 1 */,
    }).finish()
    const err = caught(() => serializer.decode(data, 'OrderPlaced'))
    expect(err.code).toBe('SERIALIZER_DECODE_FAILED')
    expect(err.message).toContain('data.price = 9007199254740993')
    const ok = OrderPlacedType.encode({
      orderId: 'o',
      price: { low: 1, high: -0x200000, unsigned: false } /* -(2^53 - 1) */,
    }).finish()
    expect((serializer.decode(ok, 'OrderPlaced') as { price: number }).price).toBe(-Number.MAX_SAFE_INTEGER)
  })

  it('rejects data protobufjs would drop or mangle, naming the type', () => {
    for (const data of [
      { ...placed, price: 12n },
      { ...placed, price: '12' },
      { ...placed, orderId: 5 },
      { ...placed, price: 1.5 },
    ]) {
      const err = caught(() => serializer.encode(data as never, 'OrderPlaced'))
      expect(err.code).toBe('SERIALIZER_VALIDATION_FAILED')
      expect(err.type).toBe('OrderPlaced')
    }
    for (const data of [null, undefined, 'text', 1]) {
      expect(caught(() => serializer.encode(data as never, 'OrderPlaced')).code).toBe(
        'SERIALIZER_VALIDATION_FAILED',
      )
    }
  })

  it('names the path of a lone surrogate', () => {
    const err = caught(() => serializer.encode({ ...placed, tags: ['ok', 'x\uD800'] }, 'OrderPlaced'))
    expect(err.message).toContain('data.tags[1]')
  })

  it('does not resolve Object.prototype names as types', () => {
    for (const type of ['constructor', 'toString', '__proto__']) {
      expect(caught(() => serializer.encode({} as never, type as never)).code).toBe('SERIALIZER_UNKNOWN_TYPE')
      expect(caught(() => serializer.decode(new Uint8Array(), type as never)).code).toBe(
        'SERIALIZER_UNKNOWN_TYPE',
      )
    }
  })

  it('refuses an empty types map', () => {
    expect(() => protoSerializer({ types: {} })).toThrow(SerializerError)
  })

  it('reads with generated static code what reflection wrote, and back', () => {
    const fromStatic = protoSerializer({ types: { OrderPlaced: waltz.example.OrderPlaced } })
    expect(fromStatic.decode(serializer.encode(placed, 'OrderPlaced'), 'OrderPlaced')).toEqual(placed)
    expect(serializer.decode(fromStatic.encode(placed, 'OrderPlaced'), 'OrderPlaced')).toEqual(placed)
  })
})
