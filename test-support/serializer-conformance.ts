import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  expectNothingButSerializerError,
  expectSerializerError,
  type SerializerErrorShape,
} from './serializer-error.js'

// Structural copies of @waltz/core's contract: this folder sits outside the packages, where the
// workspace package `@waltz/core` does not resolve. Any core serializer is assignable to these.

/** A record type and its payload (`RecordShape` in core); the envelope (time, key, headers) is core's. */
export interface RecordShape {
  type: string
  data: unknown
}

/** The serializer contract (`Serializer` in core): it encodes only `data`. */
export interface Serializer<Rec extends RecordShape> {
  readonly name: string
  encode(data: Rec['data'], type: Rec['type']): Uint8Array
  decode(bytes: Uint8Array, type: Rec['type']): Rec['data']
  encodeInto?(data: Rec['data'], type: Rec['type'], target: Buffer, offset: number): number
}

/** How a serializer treats strings holding a lone surrogate (not representable in UTF-8). */
export type LoneSurrogatePolicy =
  /** Round-trips the string exactly. */
  | 'exact'
  /** Writes U+FFFD in place of each lone surrogate (as `TextEncoder` does). */
  | 'replaced'
  /** Rejects the data on encode with a typed error. */
  | 'rejected'

/**
 * Which byte strings a serializer can tell apart from its own encodings.
 *
 * - `'self-delimiting'`: an encoding is one complete value (MessagePack, JSON), so empty input, every
 *   strict prefix of an encoding and two encodings back to back are all refused with a typed error.
 * - `'open'`: some of those decode anyway (raw bytes: any input; protobuf: a message cut at a field
 *   boundary is a valid message with fewer fields). The suite then checks only that nothing but a typed
 *   error is thrown. Torn or corrupt data is core's to catch (frame checksums), not the serializer's.
 */
export type Framing = 'self-delimiting' | 'open'

/** What {@link serializerConformance} needs to know about a serializer. */
export interface ConformanceOptions<Rec extends RecordShape> {
  /** Creates a fresh serializer. */
  create: () => Serializer<Rec>
  /** At least one record of every shape the serializer supports. */
  samples: readonly Rec[]
  /** A record whose data is as empty as the serializer allows. */
  empty: Rec
  /** A record whose data holds about `bytes` bytes. */
  large: (bytes: number) => Rec
  /** A record carrying `text` in a string field, and a reader for that field of decoded data. */
  text: { make: (text: string) => Rec; read: (data: Rec['data']) => string }
  /** What the serializer does with lone surrogates (checked, so the choice is deliberate). */
  loneSurrogates: LoneSurrogatePolicy
  /** See {@link Framing}. */
  framing: Framing
  /** Byte strings that are no encoding of any sample's type: each must be refused with a typed error. */
  invalid: readonly Uint8Array[]
  /** Generates valid records for the property-based round trip. */
  arbitrary: fc.Arbitrary<Rec>
  /** A record whose type the serializer does not know, if it validates types. */
  unknownType?: Rec
}

const SEED = 42

/**
 * Registers the shared conformance tests of a waltz serializer: round trips of each type's data, empty,
 * large and unicode data, `encodeInto` when present, and typed errors (never a raw library exception,
 * never a hang) for unknown types, garbage, empty and truncated input.
 *
 * @param name - the suite title
 * @param options - the serializer and its sample records
 */
export function serializerConformance<Rec extends RecordShape>(
  name: string,
  options: ConformanceOptions<Rec>,
): void {
  let serializerName: string | undefined
  const nameOf = (): string => {
    serializerName ??= options.create().name
    return serializerName
  }
  /** Asserts a well-formed `SerializerError` naming this serializer. */
  const expectTypedError = (fn: () => unknown): SerializerErrorShape => expectSerializerError(fn, nameOf())
  /** Asserts that `fn` returns or throws a well-formed `SerializerError` naming this serializer. */
  const expectNoRawError = (fn: () => unknown): void => void expectNothingButSerializerError(fn, nameOf())
  const roundTrip = (serializer: Serializer<Rec>, record: Rec): Rec['data'] => {
    const bytes = serializer.encode(record.data, record.type)
    expect(bytes).toBeInstanceOf(Uint8Array)
    return serializer.decode(bytes, record.type)
  }
  const types = [...new Set(options.samples.map((sample) => sample.type))]
  const selfDelimiting = options.framing === 'self-delimiting'

  describe(`${name}: serializer conformance`, () => {
    it('has a name of 1 to 255 UTF-8 bytes', () => {
      const length = new TextEncoder().encode(options.create().name).byteLength
      expect(length).toBeGreaterThanOrEqual(1)
      expect(length).toBeLessThanOrEqual(255)
    })

    it('round-trips the data of every sample shape', () => {
      const serializer = options.create()
      expect(options.samples.length).toBeGreaterThan(0)
      for (const sample of options.samples) expect(roundTrip(serializer, sample)).toEqual(sample.data)
    })

    it('decodes in a fresh serializer what another instance encoded', () => {
      const writer = options.create()
      const encoded = options.samples.map((sample) => writer.encode(sample.data, sample.type))
      const reader = options.create()
      const decoded = encoded.map((bytes, i) => reader.decode(bytes, options.samples[i]!.type))
      expect(decoded).toEqual(options.samples.map((sample) => sample.data))
    })

    it('keeps earlier encodings intact while encoding more records', () => {
      const serializer = options.create()
      const first = options.samples.map((sample) => serializer.encode(sample.data, sample.type))
      const copies = first.map((bytes) => bytes.slice())
      for (let i = 0; i < 50; i++)
        for (const sample of options.samples) serializer.encode(sample.data, sample.type)
      expect(first).toEqual(copies)
    })

    it('decodes a view at an odd offset inside a larger buffer', () => {
      const serializer = options.create()
      for (const sample of options.samples) {
        const bytes = serializer.encode(sample.data, sample.type)
        const buffer = new Uint8Array(bytes.byteLength + 14).fill(0xee)
        buffer.set(bytes, 7)
        expect(serializer.decode(buffer.subarray(7, 7 + bytes.byteLength), sample.type)).toEqual(sample.data)
      }
    })

    it('round-trips empty data', () => {
      expect(roundTrip(options.create(), options.empty)).toEqual(options.empty.data)
    })

    it('round-trips 1 MiB of data', () => {
      const large = options.large(1024 * 1024)
      const bytes = options.create().encode(large.data, large.type)
      expect(bytes.byteLength).toBeGreaterThanOrEqual(1024 * 1024)
      expectSameData(options.create().decode(bytes, large.type), large.data)
    })

    it('round-trips unicode, including astral-plane characters', () => {
      const serializer = options.create()
      const texts = [
        '',
        'ascii',
        'héllo wörld',
        '日本語のテキスト',
        'مرحبا بالعالم',
        '😀🎉 𝄞 𐍈 🏳️‍🌈',
        'e\u0301 combining',
        'nul \u0000 and \u{10FFFF}',
        `${'long '.repeat(200)}😀`,
      ]
      for (const text of texts) {
        expect(options.text.read(roundTrip(serializer, options.text.make(text)))).toBe(text)
      }
    })

    it(`handles lone surrogates: ${options.loneSurrogates}`, () => {
      const serializer = options.create()
      const cases: [string, string][] = [
        ['a\uD800b', 'a\uFFFDb'],
        ['\uDC00', '\uFFFD'],
        [`${'x'.repeat(300)}\uDBFF`, `${'x'.repeat(300)}\uFFFD`],
      ]
      for (const [text, replaced] of cases) {
        const record = options.text.make(text)
        if (options.loneSurrogates === 'rejected') {
          expectTypedError(() => serializer.encode(record.data, record.type))
        } else {
          const read = options.text.read(roundTrip(serializer, record))
          expect(read).toBe(options.loneSurrogates === 'exact' ? text : replaced)
        }
      }
    })

    it('round-trips arbitrary valid data (property, seeded)', () => {
      const serializer = options.create()
      fc.assert(
        fc.property(options.arbitrary, (record) => {
          expect(roundTrip(serializer, record)).toEqual(record.data)
        }),
        { seed: SEED, numRuns: 200 },
      )
    })

    if (options.create().encodeInto !== undefined) {
      it('encodeInto writes exactly what encode returns, and -1 when it does not fit', () => {
        const serializer = options.create()
        const encodeInto = serializer.encodeInto!.bind(serializer)
        for (const record of [...options.samples, options.empty, options.large(4096)]) {
          const expected = Buffer.from(serializer.encode(record.data, record.type))
          const target = Buffer.alloc(expected.length + 16, 0xaa)
          const end = encodeInto(record.data, record.type, target, 5)
          expect(end).toBe(5 + expected.length)
          expect(target.subarray(5, end).equals(expected)).toBe(true)
          expect(target.subarray(0, 5).every((byte) => byte === 0xaa)).toBe(true)
          expect(target.subarray(end).every((byte) => byte === 0xaa)).toBe(true)
          if (expected.length > 0) {
            expect(encodeInto(record.data, record.type, Buffer.alloc(5 + expected.length - 1), 5)).toBe(-1)
          }
        }
      })
    }

    if (options.unknownType !== undefined) {
      const unknown = options.unknownType
      it('rejects an unknown record type on encode and on decode, naming it', () => {
        const serializer = options.create()
        const sample = options.samples[0]!
        const valid = serializer.encode(sample.data, sample.type)
        for (const call of [
          () => serializer.encode(unknown.data, unknown.type),
          () => serializer.decode(valid, unknown.type),
        ]) {
          const err = expectTypedError(call)
          expect(err.code).toBe('SERIALIZER_UNKNOWN_TYPE')
          expect(err.message).toContain(unknown.type)
          expect(err.type).toBe(unknown.type)
        }
      })
    }

    it('rejects invalid input with a typed error, under every type', () => {
      const serializer = options.create()
      for (const bytes of options.invalid) {
        for (const type of types) expectTypedError(() => serializer.decode(bytes, type))
      }
    })

    it(
      selfDelimiting
        ? 'rejects empty input with a typed error'
        : 'decodes empty input or rejects it with a typed error',
      () => {
        const serializer = options.create()
        for (const type of types) {
          const decode = () => serializer.decode(new Uint8Array(0), type)
          if (selfDelimiting) expectTypedError(decode)
          else expectNoRawError(decode)
        }
      },
    )

    it('decodes random bytes or rejects them with a typed error (property, seeded)', () => {
      const serializer = options.create()
      fc.assert(
        fc.property(
          fc.uint8Array({ minLength: 1, maxLength: 256 }),
          fc.constantFrom(...types),
          (bytes, type) => {
            expectNoRawError(() => serializer.decode(bytes, type))
          },
        ),
        { seed: SEED, numRuns: 500 },
      )
    })

    it(
      selfDelimiting
        ? 'rejects every truncation of every sample with a typed error'
        : 'decodes every truncation of every sample or rejects it with a typed error',
      () => {
        const serializer = options.create()
        for (const sample of [...options.samples, options.empty]) {
          const bytes = serializer.encode(sample.data, sample.type)
          for (let length = 0; length < bytes.byteLength; length++) {
            const decode = () => serializer.decode(bytes.slice(0, length), sample.type)
            if (selfDelimiting) expectTypedError(decode)
            else expectNoRawError(decode)
          }
        }
      },
    )

    if (selfDelimiting) {
      it('rejects two encodings back to back with a typed error', () => {
        const serializer = options.create()
        for (const sample of options.samples) {
          const bytes = serializer.encode(sample.data, sample.type)
          const twice = new Uint8Array(bytes.byteLength * 2)
          twice.set(bytes)
          twice.set(bytes, bytes.byteLength)
          expectTypedError(() => serializer.decode(twice, sample.type))
        }
      })
    }
  })
}

/** `toEqual`, but byte arrays are compared as bytes: vitest compares them element by element, seconds per MiB. */
function expectSameData(actual: unknown, expected: unknown): void {
  if (actual instanceof Uint8Array && expected instanceof Uint8Array) {
    const bytes = (view: Uint8Array) => Buffer.from(view.buffer, view.byteOffset, view.byteLength)
    expect(bytes(actual).equals(bytes(expected)), 'the decoded bytes differ').toBe(true)
  } else {
    expect(actual).toEqual(expected)
  }
}
