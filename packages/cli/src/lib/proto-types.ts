import { createRequire } from 'node:module'
import type { ProtoTypes } from '@waltz/serializer-proto'
import { CliError } from './errors.js'

/** The part of a protobufjs reflection object the CLI uses. */
interface Reflected {
  readonly name: string
  readonly fullName: string
  readonly nestedArray?: readonly Reflected[]
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
 * @throws CliError exit code 2 when the file cannot be loaded or defines no message type
 */
export function loadProtoTypes(file: string): ProtoTypes {
  const protobuf = protobufjs()
  let root: Reflected
  try {
    root = protobuf.loadSync(file)
  } catch (err) {
    throw CliError.USAGE(`cannot load --proto ${file}: ${(err as Error).message}`)
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
    throw CliError.USAGE(`--proto ${file} defines no message types`)
  }
  return types as unknown as ProtoTypes
}
