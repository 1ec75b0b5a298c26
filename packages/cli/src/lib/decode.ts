import { bytesSerializer } from '@waltz/core'
import { binarySerializer } from '@waltz/serializer-binary'
import { type ProtoTypes, protoSerializer } from '@waltz/serializer-proto'
import { CliError, EXIT } from './errors.js'
import { loadProtoTypes, readProtoEnvelope } from './proto.js'

/** A decoded record (without seq). `v` is the JSON envelope's schema version, when present. */
export interface Decoded {
  type: string
  time: number
  data: unknown
  v?: number
}

/** Decodes the payloads of one serializer. */
export interface Decoder {
  decode(payload: Uint8Array): Decoded
}

/** The `--serializer` choices. */
export const SERIALIZER_CHOICES = ['auto', 'bytes', 'binary', 'json', 'proto', 'raw'] as const
export type SerializerChoice = (typeof SERIALIZER_CHOICES)[number]

/** How to decode: the `--serializer`, `--proto` and `--structures` options. */
export interface DecodeOptions {
  serializer: SerializerChoice
  proto?: string | undefined
  structures?: string | undefined
}

const BY_HEADER: Record<string, SerializerChoice> = {
  'waltz-bytes/1': 'bytes',
  'waltz-msgpackr/1': 'binary',
  'waltz-msgpackr-shared/1': 'binary',
  'waltz-json/1': 'json',
  'waltz-protobuf/1': 'proto',
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * The JSON envelope `{"type","v","time","data"}` of `@waltz/serializer-json`, parsed without the
 * application's zod schemas: no validation, no codecs, no upcasting. `data` is shown as stored.
 */
function jsonEnvelopeDecoder(): Decoder {
  return {
    decode(payload) {
      const value: unknown = JSON.parse(utf8.decode(payload))
      if (value === null || typeof value !== 'object' || Array.isArray(value))
        throw new Error('not a JSON record envelope')
      const { type, time, data, v } = value as Record<string, unknown>
      if (typeof type !== 'string' || typeof time !== 'number') {
        throw new Error('not a JSON record envelope (type or time missing)')
      }
      return typeof v === 'number' ? { type, time, data, v } : { type, time, data }
    },
  }
}

/**
 * Protobuf records: with `--proto`, decoded by `@waltz/serializer-proto` itself with the file's message
 * types (a record type without a message type of that name falls back to the envelope); without,
 * the envelope is read and `data` stays bytes.
 */
function protoDecoder(protoFile: string | undefined): Decoder {
  const envelopeOnly: Decoder = {
    decode(payload) {
      return readProtoEnvelope(payload)
    },
  }
  if (protoFile === undefined) return envelopeOnly
  const types = loadProtoTypes(protoFile)
  const serializer = protoSerializer({ types: types as unknown as ProtoTypes })
  return {
    decode(payload) {
      const envelope = readProtoEnvelope(payload)
      if (!(envelope.type in types)) return envelope
      return serializer.decode(payload) as Decoded
    },
  }
}

/**
 * Picks and caches a decoder per serializer name found in segment headers, following `--serializer`
 * (`auto`: by the header's name). Notes about what the output is (e.g. JSON shown without schema
 * validation) go to `note`, once each.
 */
export class Decoders {
  private readonly cache = new Map<string, Decoder | null>()
  private readonly noted = new Set<string>()

  constructor(
    private readonly options: DecodeOptions,
    private readonly note: (message: string) => void,
  ) {}

  /**
   * @param headerName - the serializer name in the record's segment header
   * @returns the decoder, or null to show payloads raw
   */
  for(headerName: string): Decoder | null {
    let decoder = this.cache.get(headerName)
    if (decoder === undefined) {
      decoder = this.create(headerName)
      this.cache.set(headerName, decoder)
    }
    return decoder
  }

  private once(message: string): void {
    if (this.noted.has(message)) return
    this.noted.add(message)
    this.note(message)
  }

  private create(headerName: string): Decoder | null {
    let choice = this.options.serializer
    if (choice === 'auto') {
      const found = BY_HEADER[headerName]
      if (found === undefined) {
        this.once(`note: unknown serializer ${headerName}: payloads are shown raw`)
        return null
      }
      choice = found
    } else if (choice !== 'raw' && BY_HEADER[headerName] !== choice) {
      this.once(`warning: the log was written by ${headerName}; decoding as ${choice} as requested`)
    }
    switch (choice) {
      case 'raw':
        return null
      case 'bytes':
        return bytesSerializer()
      case 'binary':
        if (headerName === 'waltz-msgpackr-shared/1' || this.options.structures !== undefined) {
          if (this.options.structures === undefined) {
            throw new CliError(
              EXIT.usage,
              'USAGE',
              `${headerName} records need the shared structures file: pass --structures <file>`,
            )
          }
          return binarySerializer({ structuresPath: this.options.structures })
        }
        return binarySerializer()
      case 'json':
        this.once('note: waltz-json/1 records are shown as stored: not validated by the schemas, not upcast')
        return jsonEnvelopeDecoder()
      case 'proto':
        if (this.options.proto === undefined) {
          this.once('note: waltz-protobuf/1 data is shown as bytes: pass --proto <file.proto> to decode it')
        }
        return protoDecoder(this.options.proto)
      default:
        return null
    }
  }
}
