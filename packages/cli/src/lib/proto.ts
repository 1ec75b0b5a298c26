import { createRequire } from 'node:module'
import { CliError, EXIT } from './errors.js'

/** The part of a protobufjs reflection object the CLI uses. */
interface Reflected {
  readonly name: string
  readonly fullName: string
  readonly nestedArray?: readonly Reflected[]
  readonly fields?: object
  encode(message: object): { finish(): Uint8Array }
  decode(bytes: Uint8Array): object
  verify(message: object): string | null
  toObject(message: object, options?: object): Record<string, unknown>
}

interface Protobufjs {
  loadSync(file: string): Reflected
  Type: new (...args: never[]) => Reflected
}

/** Loads protobufjs (CommonJS) on first use only: most commands never need it. */
function protobufjs(): Protobufjs {
  return createRequire(import.meta.url)('protobufjs') as Protobufjs
}

/**
 * Loads the message types of a `.proto` file, keyed both by simple name (`OrderPlaced`) and full name
 * (`waltz.example.OrderPlaced`): a record whose type is one of these keys is decoded with that message
 * type. (The application's mapping from record type to message type is not stored in the log; naming
 * the messages after the record types, as the shipped `order_events.proto` does, makes it work.)
 *
 * @param file - the `.proto` file
 * @returns the message types for `protoSerializer({ types })`
 * @throws CliError exit code 2 when the file cannot be loaded
 */
export function loadProtoTypes(file: string): Record<string, Reflected> {
  const protobuf = protobufjs()
  let root: Reflected
  try {
    root = protobuf.loadSync(file)
  } catch (err) {
    throw new CliError(EXIT.usage, 'USAGE', `cannot load --proto ${file}: ${(err as Error).message}`)
  }
  const types: Record<string, Reflected> = {}
  const simple = new Map<string, number>()
  const visit = (node: Reflected) => {
    for (const child of node.nestedArray ?? []) {
      if (child instanceof protobuf.Type) {
        types[child.fullName.replace(/^\./, '')] = child
        simple.set(child.name, (simple.get(child.name) ?? 0) + 1)
        if (simple.get(child.name) === 1) types[child.name] = child
        else delete types[child.name] // ambiguous: only the full name works
      }
      visit(child)
    }
  }
  visit(root)
  if (Object.keys(types).length === 0) {
    throw new CliError(EXIT.usage, 'USAGE', `--proto ${file} defines no message types`)
  }
  return types
}

/** A `waltz.Record` envelope (`packages/serializer-proto/proto/record.proto`), data undecoded. */
export interface ProtoEnvelope {
  type: string
  time: number
  data: Uint8Array
}

/**
 * Reads the envelope by hand (no message types needed): field 1 `type` (string), 2 `time` (double),
 * 3 `data` (bytes); unknown fields are skipped, as the serializer does.
 *
 * @param bytes - a record's payload
 * @returns the envelope
 * @throws Error when the bytes are not an envelope
 */
export function readProtoEnvelope(bytes: Uint8Array): ProtoEnvelope {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let pos = 0
  const varint = (): number => {
    let result = 0
    for (let shift = 0; shift < 64; shift += 7) {
      if (pos >= bytes.byteLength) throw new Error('truncated varint')
      const b = bytes[pos++]!
      result += (b & 0x7f) * 2 ** shift
      if (b < 0x80) return result
    }
    throw new Error('varint too long')
  }
  const take = (n: number): Uint8Array => {
    if (pos + n > bytes.byteLength) throw new Error('truncated field')
    pos += n
    return bytes.subarray(pos - n, pos)
  }
  let type: string | undefined
  let time: number | undefined
  let data: Uint8Array | undefined
  while (pos < bytes.byteLength) {
    const tag = varint()
    const field = Math.floor(tag / 8)
    const wire = tag % 8
    if (field === 0) throw new Error('invalid field number 0')
    if (wire === 0) varint()
    else if (wire === 1) {
      const at = pos
      take(8)
      if (field === 2) time = view.getFloat64(at, true)
    } else if (wire === 2) {
      const chunk = take(varint())
      if (field === 1) type = new TextDecoder('utf-8', { fatal: true }).decode(chunk)
      else if (field === 3) data = chunk
    } else if (wire === 5) take(4)
    else throw new Error(`unsupported wire type ${wire}`)
  }
  if (type === undefined || time === undefined || data === undefined) {
    throw new Error(
      `not a waltz.Record envelope: no ${type === undefined ? 'type' : time === undefined ? 'time' : 'data'}`,
    )
  }
  return { type, time, data }
}
