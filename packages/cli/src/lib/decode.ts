import { BYTES_SERIALIZER_NAME, bytesSerializer } from '@waltz/core'
import {
  BINARY_SERIALIZER_NAME,
  BINARY_SHARED_SERIALIZER_NAME,
  binarySerializer,
} from '@waltz/serializer-binary'
import { JSON_SERIALIZER_NAME, readStoredJson } from '@waltz/serializer-json'
import { PROTO_SERIALIZER_NAME, protoSerializer } from '@waltz/serializer-proto'
import { CliError } from './errors.js'
import { loadProtoTypes } from './proto-types.js'

/**
 * Decodes the data of a log's records. The envelope (seq, time, type, key, headers) needs no decoding:
 * core reads it without any serializer.
 */
export interface DataDecoder {
  /** Whether data of this record type is decoded; the others are shown as hex. */
  handles(type: string): boolean
  /**
   * @param bytes - the stored data
   * @param type - the record's type
   * @returns the decoded data
   * @throws when the bytes are not what the serializer writes
   */
  decode(bytes: Uint8Array, type: string): unknown
}

/** The `--serializer` choices. */
export const SERIALIZER_CHOICES = ['auto', 'bytes', 'binary', 'json', 'proto', 'raw'] as const
export type SerializerChoice = (typeof SERIALIZER_CHOICES)[number]
type Known = Exclude<SerializerChoice, 'auto' | 'raw'>

/** How to decode: the `--serializer`, `--proto` and `--structures` options. */
export interface DecodeOptions {
  serializer: SerializerChoice
  proto?: string | undefined
  structures?: string | undefined
}

/** Serializer names (as the packages export them) to the decoder `auto` picks. */
const BY_NAME: ReadonlyMap<string, Known> = new Map([
  [BYTES_SERIALIZER_NAME, 'bytes'],
  [BINARY_SERIALIZER_NAME, 'binary'],
  [BINARY_SHARED_SERIALIZER_NAME, 'binary'],
  [JSON_SERIALIZER_NAME, 'json'],
  [PROTO_SERIALIZER_NAME, 'proto'],
])

const all = (): boolean => true

/**
 * JSON data without the application's zod schemas: the stored JSON value (not validated, no codecs,
 * not upcast), read by the JSON serializer package itself.
 */
const storedJson: DataDecoder = { handles: all, decode: (bytes, type) => readStoredJson(bytes, type).data }

function binaryDecoder(logName: string, structures: string | undefined): DataDecoder {
  if (structures === undefined && logName === BINARY_SHARED_SERIALIZER_NAME) {
    throw CliError.USAGE(`${logName} records need the shared structures file: pass --structures <file>`)
  }
  const serializer =
    structures === undefined ? binarySerializer() : binarySerializer({ structuresPath: structures })
  return { handles: all, decode: (bytes, type) => serializer.decode(bytes, type) }
}

/** With `--proto`, the record types named by the file's messages; without, nothing (hex). */
function protoDecoder(protoFile: string | undefined, note: (message: string) => void): DataDecoder | null {
  if (protoFile === undefined) {
    note(`note: ${PROTO_SERIALIZER_NAME} data is shown as hex: pass --proto <file.proto> to decode it`)
    return null
  }
  const types = loadProtoTypes(protoFile)
  const serializer = protoSerializer({ types })
  return {
    handles: (type) => Object.hasOwn(types, type),
    decode: (bytes, type) => serializer.decode(bytes, type),
  }
}

/**
 * Picks the decoder for a log, following `--serializer` (`auto`: by the serializer name in the log's
 * segment headers). Notes about what the output is (e.g. JSON shown without schema validation) go to
 * `note`.
 *
 * @param options - the command's options
 * @param logName - the serializer name stored in the log
 * @param note - prints a note or warning to stderr
 * @returns the decoder, or null to show data as hex
 * @throws CliError exit code 2 when a needed file (`--structures`, `--proto`) is missing or bad
 */
export function chooseDecoder(
  options: DecodeOptions,
  logName: string | undefined,
  note: (message: string) => void,
): DataDecoder | null {
  const name = logName ?? 'unknown'
  const known = BY_NAME.get(name)
  let choice = options.serializer
  if (choice === 'auto') {
    if (known === undefined) {
      note(`note: unknown serializer ${name}: data is shown as hex`)
      return null
    }
    choice = known
  } else if (choice !== 'raw' && choice !== known) {
    note(`warning: the log was written by ${name}; decoding as ${choice} as requested`)
  }
  switch (choice) {
    case 'raw':
      return null
    case 'bytes': {
      const serializer = bytesSerializer()
      return { handles: all, decode: (bytes, type) => serializer.decode(bytes, type) }
    }
    case 'binary':
      return binaryDecoder(name, options.structures)
    case 'json':
      note(`note: ${JSON_SERIALIZER_NAME} data is shown as stored: not validated by the schemas, not upcast`)
      return storedJson
    case 'proto':
      return protoDecoder(options.proto, note)
  }
}
