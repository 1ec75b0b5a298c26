import { SerializerError } from '@waltz/core'
import protobuf from 'protobufjs'
import { describe, expect, it } from 'vitest'
import { expectSerializerError, type SerializerErrorShape } from '../../../test-support/serializer-error.js'
import { PROTO_SERIALIZER_NAME, protoSerializer } from '../src/index.js'
import { placed, protoDir, reflectedTypes, root } from './fixtures.js'
import { waltz } from './generated/order_events.generated.js'

const envelopeType = protobuf.loadSync(`${protoDir}record.proto`).lookupType('waltz.Record')
const OrderPlacedType = root.lookupType('waltz.example.OrderPlaced')

function caught(fn: () => unknown): SerializerErrorShape {
  return expectSerializerError(fn, PROTO_SERIALIZER_NAME)
}

describe('protoSerializer', () => {
  const serializer = protoSerializer({ types: reflectedTypes })

  it('is named waltz-protobuf/1', () => {
    expect(serializer.name).toBe(PROTO_SERIALIZER_NAME)
  })

  it('writes the waltz.Record envelope of proto/record.proto', () => {
    const bytes = serializer.encode({ type: 'OrderPlaced', time: 1_700_000_000_000.5, data: placed })
    const envelope = envelopeType.toObject(envelopeType.decode(bytes)) as {
      type: string
      time: number
      data: Uint8Array
    }
    expect(envelope.type).toBe('OrderPlaced')
    expect(envelope.time).toBe(1_700_000_000_000.5)
    expect(OrderPlacedType.toObject(OrderPlacedType.decode(envelope.data), { longs: Number })).toEqual(placed)
  })

  it('reads an envelope written by protobufjs from record.proto, skipping unknown fields', () => {
    const data = OrderPlacedType.encode(placed).finish()
    const writer = envelopeType.encode({ type: 'OrderPlaced', time: 42, data })
    writer.uint32((9 << 3) | 0).uint32(7) // an unknown field added by a future version
    expect(serializer.decode(writer.finish())).toEqual({ type: 'OrderPlaced', time: 42, data: placed })
  })

  it('fills proto3 defaults so decoded data has every field', () => {
    const record = serializer.decode(
      serializer.encode({ type: 'OrderPlaced', time: 1, data: { orderId: 'o' } as never }),
    )
    expect(record.data).toEqual({
      orderId: 'o',
      accountId: '',
      symbol: '',
      side: 0,
      price: 0,
      quantity: 0,
      tags: [],
    })
  })

  it('names an unknown type on decode', () => {
    const bytes = envelopeType.encode({ type: 'OrderAmended', time: 1, data: new Uint8Array() }).finish()
    const err = caught(() => serializer.decode(bytes))
    expect(err.code).toBe('SERIALIZER_UNKNOWN_TYPE')
    expect(err.type).toBe('OrderAmended')
    expect(err.message).toContain('OrderAmended')
  })

  it('rejects an envelope missing a field instead of reading defaults', () => {
    for (const partial of [
      { type: 'OrderPlaced', time: 1 },
      { type: 'OrderPlaced', data: new Uint8Array([10, 1, 120]) },
    ]) {
      const err = caught(() => serializer.decode(envelopeType.encode(partial).finish()))
      expect(err.code).toBe('SERIALIZER_DECODE_FAILED')
    }
  })

  it('rejects a payload that is not its message type, naming the type', () => {
    const bytes = envelopeType
      .encode({ type: 'OrderPlaced', time: 1, data: new Uint8Array([0xff, 0xff, 0xff]) })
      .finish()
    const err = caught(() => serializer.decode(bytes))
    expect(err.code).toBe('SERIALIZER_DECODE_FAILED')
    expect(err.type).toBe('OrderPlaced')
    expect(err.cause).toBeInstanceOf(Error)
  })

  it('fails instead of losing precision on an int64 beyond Number.MAX_SAFE_INTEGER', () => {
    const data = OrderPlacedType.encode({
      orderId: 'o',
      price: { low: 1, high: 0x200000, unsigned: false } /* 2^53 + 1 */,
    }).finish()
    const err = caught(() =>
      serializer.decode(envelopeType.encode({ type: 'OrderPlaced', time: 1, data }).finish()),
    )
    expect(err.code).toBe('SERIALIZER_DECODE_FAILED')
    expect(err.message).toContain('data.price = 9007199254740993')
    const ok = OrderPlacedType.encode({
      orderId: 'o',
      price: { low: 1, high: -0x200000, unsigned: false } /* -(2^53 - 1) */,
    }).finish()
    const record = serializer.decode(envelopeType.encode({ type: 'OrderPlaced', time: 1, data: ok }).finish())
    expect((record.data as { price: number }).price).toBe(-Number.MAX_SAFE_INTEGER)
  })

  it('rejects data protobufjs would drop or mangle, naming the type', () => {
    for (const data of [
      { ...placed, price: 12n },
      { ...placed, price: '12' },
      { ...placed, orderId: 5 },
      { ...placed, price: 1.5 },
    ]) {
      const err = caught(() => serializer.encode({ type: 'OrderPlaced', time: 1, data: data as never }))
      expect(err.code).toBe('SERIALIZER_VALIDATION_FAILED')
      expect(err.type).toBe('OrderPlaced')
    }
    const err = caught(() => serializer.encode({ type: 'OrderPlaced', time: 1, data: null as never }))
    expect(err.code).toBe('SERIALIZER_VALIDATION_FAILED')
  })

  it('names the path of a lone surrogate', () => {
    const err = caught(() =>
      serializer.encode({ type: 'OrderPlaced', time: 1, data: { ...placed, tags: ['ok', 'x\uD800'] } }),
    )
    expect(err.message).toContain('data.tags[1]')
  })

  it('rejects a non-number time', () => {
    const err = caught(() => serializer.encode({ type: 'OrderPlaced', time: '1' as never, data: placed }))
    expect(err.code).toBe('SERIALIZER_ENCODE_FAILED')
  })

  it('does not resolve Object.prototype names as types', () => {
    const err = caught(() => serializer.encode({ type: 'constructor' as never, time: 1, data: {} as never }))
    expect(err.code).toBe('SERIALIZER_UNKNOWN_TYPE')
  })

  it('refuses an empty types map', () => {
    expect(() => protoSerializer({ types: {} })).toThrow(SerializerError)
  })

  it('reads with generated static code what reflection wrote, and back', () => {
    const fromStatic = protoSerializer({ types: { OrderPlaced: waltz.example.OrderPlaced } })
    const record = { type: 'OrderPlaced' as const, time: 5, data: placed }
    expect(fromStatic.decode(serializer.encode(record))).toEqual(record)
    expect(serializer.decode(fromStatic.encode(record))).toEqual(record)
  })
})
