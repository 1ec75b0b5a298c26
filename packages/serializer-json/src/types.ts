import type { EncodableRecord } from '@waltz/core'
import type { z } from 'zod'

/** Maps each record type name to the zod schema of its payload. */
export type JsonSchemas = Record<string, z.ZodType>

/**
 * The record union of a {@link JsonSchemas} map: `data` is each schema's output type, discriminated by
 * `type`.
 *
 * @typeParam S - the schema map
 */
export type JsonRecordOf<S extends JsonSchemas> = {
  [K in keyof S & string]: EncodableRecord<K, z.output<S[K]>>
}[keyof S & string]

/** What an upcast hook learns about the stored record besides its data. */
export interface UpcastContext<Type extends string = string> {
  /** The record type. */
  type: Type
  /** The record time. */
  time: number
  /** The schema version the record was written with (1 for records written without `versions`). */
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
