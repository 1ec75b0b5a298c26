import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { expectSerializerError, type SerializerErrorShape } from './serializer-error.js'

// Structural copies of @waltz/core's contract: this folder sits outside the packages, where the
// workspace package `@waltz/core` does not resolve. Any core serializer is assignable to these.

/** A record as handed to a serializer (`EncodableRecord` in core). */
export interface EncodableRecord {
  type: string
  time: number
  data: unknown
}

/** The serializer contract (`Serializer` in core). */
export interface Serializer<Rec extends EncodableRecord> {
  readonly name: string
  encode(record: Rec): Uint8Array
  decode(bytes: Uint8Array): Rec
}

/** How a serializer treats strings holding a lone surrogate (not representable in UTF-8). */
export type LoneSurrogatePolicy =
  /** Round-trips the string exactly. */
  | 'exact'
  /** Writes U+FFFD in place of each lone surrogate (as `TextEncoder` does). */
  | 'replaced'
  /** Rejects the record on encode with a typed error. */
  | 'rejected'

/** What {@link serializerConformance} needs to know about a serializer. */
export interface ConformanceOptions<Rec extends EncodableRecord> {
  /** Creates a fresh serializer. */
  create: () => Serializer<Rec>
  /** At least one record of every shape the serializer supports. */
  samples: readonly Rec[]
  /** A record whose data is as empty as the serializer allows. */
  empty: Rec
  /** A record whose data holds about `bytes` bytes. */
  large: (bytes: number) => Rec
  /** A record carrying `text` in a string field, and a reader for that field of a decoded record. */
  text: { make: (text: string) => Rec; read: (record: Rec) => string }
  /** A record with the given time. */
  withTime: (time: number) => Rec
  /** What the serializer does with lone surrogates (checked, so the choice is deliberate). */
  loneSurrogates: LoneSurrogatePolicy
  /** Generates valid records for the property-based round trip. */
  arbitrary: fc.Arbitrary<Rec>
  /** A record whose type the serializer does not know, if it validates types. */
  unknownType?: Rec
}

const SEED = 42

/**
 * Registers the shared conformance tests of a waltz serializer: round trips, empty, large and unicode
 * data, exact times, and typed errors (never a raw library exception, never a hang) for garbage, empty
 * and truncated input.
 *
 * @param name - the suite title
 * @param options - the serializer and its sample records
 */
export function serializerConformance<Rec extends EncodableRecord>(
  name: string,
  options: ConformanceOptions<Rec>,
): void {
  let serializerName: string | undefined
  /** Asserts a well-formed `SerializerError` naming this serializer. */
  const expectTypedError = (fn: () => unknown): SerializerErrorShape => {
    serializerName ??= options.create().name
    return expectSerializerError(fn, serializerName)
  }
  const roundTrip = (serializer: Serializer<Rec>, record: Rec): Rec => {
    const bytes = serializer.encode(record)
    expect(bytes).toBeInstanceOf(Uint8Array)
    expect(bytes.byteLength).toBeGreaterThan(0)
    return serializer.decode(bytes)
  }

  describe(`${name}: serializer conformance`, () => {
    it('has a name of 1 to 255 UTF-8 bytes', () => {
      const length = new TextEncoder().encode(options.create().name).byteLength
      expect(length).toBeGreaterThanOrEqual(1)
      expect(length).toBeLessThanOrEqual(255)
    })

    it('round-trips every sample shape', () => {
      const serializer = options.create()
      expect(options.samples.length).toBeGreaterThan(0)
      for (const sample of options.samples) expect(roundTrip(serializer, sample)).toEqual(sample)
    })

    it('decodes in a fresh serializer what another instance encoded', () => {
      const writer = options.create()
      const encoded = options.samples.map((sample) => writer.encode(sample))
      const reader = options.create()
      expect(encoded.map((bytes) => reader.decode(bytes))).toEqual(options.samples)
    })

    it('keeps earlier encodings intact while encoding more records', () => {
      const serializer = options.create()
      const first = options.samples.map((sample) => serializer.encode(sample))
      const copies = first.map((bytes) => bytes.slice())
      for (let i = 0; i < 50; i++) for (const sample of options.samples) serializer.encode(sample)
      expect(first).toEqual(copies)
    })

    it('decodes a view at an odd offset inside a larger buffer', () => {
      const serializer = options.create()
      for (const sample of options.samples) {
        const bytes = serializer.encode(sample)
        const buffer = new Uint8Array(bytes.byteLength + 14).fill(0xee)
        buffer.set(bytes, 7)
        expect(serializer.decode(buffer.subarray(7, 7 + bytes.byteLength))).toEqual(sample)
      }
    })

    it('round-trips empty data', () => {
      expect(roundTrip(options.create(), options.empty)).toEqual(options.empty)
    })

    it('round-trips 1 MiB of data', () => {
      const large = options.large(1024 * 1024)
      const bytes = options.create().encode(large)
      expect(bytes.byteLength).toBeGreaterThanOrEqual(1024 * 1024)
      expect(options.create().decode(bytes)).toEqual(large)
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
      for (const text of texts)
        expect(options.text.read(roundTrip(serializer, options.text.make(text)))).toBe(text)
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
          expectTypedError(() => serializer.encode(record))
        } else {
          const read = options.text.read(roundTrip(serializer, record))
          expect(read).toBe(options.loneSurrogates === 'exact' ? text : replaced)
        }
      }
    })

    it('preserves time exactly', () => {
      const serializer = options.create()
      const times = [
        0,
        1,
        -1,
        1.5,
        1_700_000_000_123,
        1_700_000_000_123.456,
        Number.MAX_SAFE_INTEGER,
        2 ** 60,
        1e300,
      ]
      for (const time of [...times, -Number.MAX_SAFE_INTEGER, Number.MIN_VALUE, Date.now()]) {
        expect(roundTrip(serializer, options.withTime(time)).time).toBe(time)
      }
    })

    it('round-trips arbitrary valid records (property, seeded)', () => {
      const serializer = options.create()
      fc.assert(
        fc.property(options.arbitrary, (record) => {
          expect(roundTrip(serializer, record)).toEqual(record)
        }),
        { seed: SEED, numRuns: 200 },
      )
    })

    if (options.unknownType !== undefined) {
      const unknown = options.unknownType
      const unknownType = (unknown as EncodableRecord).type
      it('rejects an unknown record type on encode, naming it', () => {
        const err = expectTypedError(() => options.create().encode(unknown))
        expect(err.code).toBe('SERIALIZER_UNKNOWN_TYPE')
        expect(err.message).toContain(unknownType)
        expect(err.type).toBe(unknownType)
      })
    }

    it('rejects empty input with a typed error', () => {
      expectTypedError(() => options.create().decode(new Uint8Array(0)))
    })

    it('rejects random bytes with a typed error (property, seeded)', () => {
      const serializer = options.create()
      fc.assert(
        fc.property(fc.uint8Array({ minLength: 1, maxLength: 256 }), (bytes) => {
          expectTypedError(() => serializer.decode(bytes))
        }),
        { seed: SEED, numRuns: 500 },
      )
    })

    it('rejects every truncation of every sample with a typed error', () => {
      const serializer = options.create()
      for (const sample of [...options.samples, options.empty]) {
        const bytes = serializer.encode(sample)
        for (let length = 0; length < bytes.byteLength; length++) {
          expectTypedError(() => serializer.decode(bytes.slice(0, length)))
        }
      }
    })
  })
}
