import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { serializerConformance } from '../../../test-support/serializer-conformance.js'
import { BYTES_SERIALIZER_NAME, bytesSerializer, type RecordShape } from '../src/index.js'

type Rec = RecordShape<string, Uint8Array>

const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder()

serializerConformance<Rec>('bytesSerializer', {
  create: () => bytesSerializer(),
  samples: [
    { type: 'blob', data: new Uint8Array([1, 2, 3]) },
    { type: 'zeros', data: new Uint8Array(64) },
    { type: 'тип-🎵', data: new Uint8Array([0xff, 0x00, 0xc1, 0x80]) },
  ],
  empty: { type: 'empty', data: new Uint8Array(0) },
  large: (bytes) => ({ type: 'large', data: new Uint8Array(bytes).map((_, i) => i % 251) }),
  // Text is carried as UTF-8 bytes, encoded by the caller (here TextEncoder, which replaces lone surrogates).
  text: {
    make: (text) => ({ type: 'text', data: utf8.encode(text) }),
    read: (data) => fromUtf8.decode(data),
  },
  loneSurrogates: 'replaced',
  // Every byte string is somebody's data.
  framing: 'open',
  invalid: [],
  arbitrary: fc.record({
    type: fc.string({ minLength: 1, maxLength: 20 }),
    data: fc.uint8Array({ maxLength: 512 }),
  }),
})

describe('bytesSerializer', () => {
  it('is named waltz-bytes/1', () => {
    expect(bytesSerializer().name).toBe('waltz-bytes/1')
    expect(BYTES_SERIALIZER_NAME).toBe('waltz-bytes/1')
  })

  it('decodes to a plain Uint8Array view of the stored bytes, even from a Buffer', () => {
    const stored = Buffer.from([9, 8, 7, 6, 5])
    const data = bytesSerializer().decode(stored.subarray(1, 4), 'blob')
    expect(Object.getPrototypeOf(data)).toBe(Uint8Array.prototype)
    expect([...data]).toEqual([8, 7, 6])
    stored[2] = 0
    expect(data[1]).toBe(0)
  })

  it('rejects data that is not a Uint8Array with a typed error, in encode and encodeInto', () => {
    const codec = bytesSerializer()
    for (const data of ['text', [1, 2], null, undefined, new ArrayBuffer(2)]) {
      const calls = [
        () => codec.encode(data as never, 'blob'),
        () => codec.encodeInto!(data as never, 'blob', Buffer.alloc(16), 0),
      ]
      for (const call of calls) {
        expect(call).toThrow(
          expect.objectContaining({ name: 'SerializerError', code: 'SERIALIZER_ENCODE_FAILED' }),
        )
      }
    }
  })
})
