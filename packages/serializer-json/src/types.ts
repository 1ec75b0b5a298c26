import type { RecordShape } from '@waltz/core'
import type { z } from 'zod'

/** Maps each record type name to the zod schema of its payload. */
export type JsonSchemas = Record<string, z.ZodType>

/**
 * The record union of a {@link JsonSchemas} map: one `RecordShape<K, z.output<S[K]>>` per record type,
 * discriminated by `type`, so that `wal.append` checks `data` against its `type` and a record's `data`
 * narrows after checking `record.type`.
 *
 * @typeParam S - the schema map
 */
export type JsonRecordOf<S extends JsonSchemas> = {
  [K in keyof S & string]: RecordShape<K, z.output<S[K]>>
}[keyof S & string]

/**
 * What an upcast hook learns about the stored data besides the data itself. The serializer sees only a
 * record's type and data: time, key and headers are core's.
 */
export interface UpcastContext<Type extends string = string> {
  /** The record type. */
  type: Type
  /** The schema version the data was written with (1 for types without an entry in `versions`). */
  version: number
}

/**
 * Converts a record's stored (JSON) data from an older schema version to the current schema's input
 * shape. The result is then validated and decoded by the current schema.
 *
 * @typeParam S - the schema map
 * @typeParam K - the record type
 */
export type Upcast<S extends JsonSchemas, K extends keyof S & string> = (
  data: unknown,
  context: UpcastContext<K>,
) => z.input<S[K]>
