import { type Serializer, SerializerError } from '@waltz/core'
import type { z } from 'zod'
import { jsonOnly, NotJsonError } from './json-only.js'
import type { JsonRecordOf, JsonSchemas, Upcast, UpcastContext } from './types.js'

/**
 * The serializer name stored in segment headers. Version 2: the data and its schema version,
 * `{"v":1,"data":…}` (version 1 also held the record's type and time, now core's).
 */
export const JSON_SERIALIZER_NAME = 'waltz-json/2'

/** This serializer's name, as its errors' `serializer` field. */
const serializer = JSON_SERIALIZER_NAME

/** Options of {@link jsonSerializer}. */
export interface JsonSerializerOptions<S extends JsonSchemas> {
  /** The zod schema of each record type's payload, keyed by record type name. */
  schemas: S
  /**
   * The current schema version of each record type (a positive integer, default 1). Every record's data
   * is stored with the version it was written with; reading data of a lower version runs its type's
   * `upcast` hook.
   */
  versions?: { [K in keyof S]?: number }
  /**
   * Per record type, converts stored data of an older version into the current schema's input shape.
   * Called only for data whose stored version is below the type's current version.
   */
  upcast?: { [K in keyof S & string]?: Upcast<S, K> }
}

interface Entry {
  schema: z.ZodType
  version: number
  /** `{"v":<version>,"data":`, the start of every encoding of this type. */
  prefix: string
  upcast: ((data: unknown, context: UpcastContext) => unknown) | undefined
}

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/**
 * Creates a JSON serializer for a record's data, validated by zod schemas on encode (bad data is never
 * written) and on decode (stored data that no longer matches its schema fails). The data is stored as the
 * UTF-8 JSON object `{"v":<schema version>,"data":…}`; the record's type, time, key and headers are
 * core's and not part of it.
 *
 * `data` is the schema's output type and is stored as the schema's input type: `schema.encode` runs on
 * write and `schema.decode` on read, so zod codecs carry values JSON lacks (e.g. `z.iso.datetime()` ↔
 * `z.date()` for a `Date`). Whatever reaches JSON must be JSON: a bigint, `Date`, `Map`, `Set`, typed array,
 * class instance, `NaN` or `Infinity` is rejected on encode rather than silently changed. Lone surrogates
 * round-trip exactly (JSON escapes them).
 *
 * @typeParam S - the schema map; `type` and `data` of the records are inferred from it
 * @param options - see {@link JsonSerializerOptions}
 * @returns a serializer named `'waltz-json/2'`
 * @throws SerializerError `SERIALIZER_VALIDATION_FAILED` if `schemas` is empty or a version is not a
 *   positive integer
 * @example
 * ```ts
 * const serializer = jsonSerializer({
 *   schemas: {
 *     OrderPlaced: z.object({ orderId: z.string(), price: z.int(), quantity: z.int().positive() }),
 *     OrderCancelled: z.object({ orderId: z.string(), reason: z.string() }),
 *   },
 * })
 * const wal = await Wal.open({ dir, serializer })
 * await wal.append({ type: 'OrderPlaced', key: 'o-1', data: { orderId: 'o-1', price: 1999, quantity: 3 } })
 * ```
 */
export function jsonSerializer<const S extends JsonSchemas>(
  options: JsonSerializerOptions<S>,
): Serializer<keyof S & string, z.output<S[keyof S & string]>, JsonRecordOf<S>> {
  type Rec = JsonRecordOf<S>
  const entries = buildEntries(options)
  const entryOf = (type: string): Entry => {
    const entry = entries.get(type)
    if (entry === undefined) {
      throw SerializerError.UNKNOWN_TYPE(`no schema for record type ${String(type)}`, {
        serializer,
        type,
      })
    }
    return entry
  }

  return {
    name: JSON_SERIALIZER_NAME,

    encode(data: Rec['data'], type: Rec['type']): Uint8Array {
      const entry = entryOf(type)
      let result: z.ZodSafeParseResult<unknown>
      try {
        result = entry.schema.safeEncode(data)
      } catch (err) {
        throw SerializerError.ENCODE_FAILED(`cannot encode ${type} data: ${describe(err)}`, {
          serializer,
          type,
          cause: err,
        })
      }
      if (!result.success) {
        throw SerializerError.VALIDATION_FAILED(`invalid ${type} data: ${issues(result.error)}`, {
          serializer,
          type,
          cause: result.error,
        })
      }
      let json: string | undefined
      try {
        json = JSON.stringify(result.data, jsonOnly)
      } catch (err) {
        const reason = err instanceof NotJsonError ? `in ${type} data, ${err.message}` : describe(err)
        throw SerializerError.ENCODE_FAILED(reason, { serializer, type, cause: err })
      }
      // JSON.stringify returns undefined for undefined data: no `data` member, as in `{ data: undefined }`.
      return encoder.encode(json === undefined ? `{"v":${entry.version}}` : `${entry.prefix}${json}}`)
    },

    decode(bytes: Uint8Array, type: Rec['type']): Rec['data'] {
      const entry = entryOf(type)
      const stored = parseStored(bytes, type)
      let raw = stored.data
      if (stored.version > entry.version) {
        throw SerializerError.DECODE_FAILED(
          `${type} data has schema version ${stored.version}, newer than this serializer's ${entry.version}`,
          { serializer, type },
        )
      }
      if (stored.version < entry.version) {
        if (entry.upcast === undefined) {
          throw SerializerError.UPCAST_FAILED(
            `${type} data has schema version ${stored.version} and no upcast hook reaches ${entry.version}`,
            { serializer, type },
          )
        }
        try {
          raw = entry.upcast(raw, { type, version: stored.version })
        } catch (err) {
          throw SerializerError.UPCAST_FAILED(`upcasting ${type} failed: ${describe(err)}`, {
            serializer,
            type,
            cause: err,
          })
        }
      }
      let result: z.ZodSafeParseResult<unknown>
      try {
        result = entry.schema.safeDecode(raw)
      } catch (err) {
        throw SerializerError.VALIDATION_FAILED(`cannot validate ${type} data: ${describe(err)}`, {
          serializer,
          type,
          cause: err,
        })
      }
      if (!result.success) {
        throw SerializerError.VALIDATION_FAILED(
          `stored ${type} data does not match its schema: ${issues(result.error)}`,
          { serializer, type, cause: result.error },
        )
      }
      return result.data as Rec['data']
    },
  }
}

function buildEntries<S extends JsonSchemas>(options: JsonSerializerOptions<S>): Map<string, Entry> {
  // A Map, so a type name such as 'constructor' or '__proto__' can never hit Object.prototype.
  const entries = new Map<string, Entry>()
  const schemas: unknown = (options as Partial<JsonSerializerOptions<S>> | undefined)?.schemas
  if (typeof schemas !== 'object' || schemas === null) {
    throw SerializerError.VALIDATION_FAILED(
      'jsonSerializer needs { schemas }: an object of zod schemas keyed by record type',
      { serializer },
    )
  }
  const versions = (options.versions ?? {}) as Record<string, number | undefined>
  const upcasts = (options.upcast ?? {}) as Record<string, Entry['upcast']>
  for (const [type, schema] of Object.entries(schemas as S)) {
    const codec = schema as { safeEncode?: unknown; safeDecode?: unknown } | null
    if (typeof codec?.safeEncode !== 'function' || typeof codec.safeDecode !== 'function') {
      throw SerializerError.VALIDATION_FAILED(`the schema of ${type} is not a zod schema`, {
        serializer,
        type,
      })
    }
    const version = Object.hasOwn(versions, type) ? (versions[type] ?? 1) : 1
    if (!Number.isSafeInteger(version) || version < 1) {
      throw SerializerError.VALIDATION_FAILED(`version of ${type} must be a positive integer`, {
        serializer,
        type,
      })
    }
    entries.set(type, {
      schema,
      version,
      prefix: `{"v":${version},"data":`,
      upcast: Object.hasOwn(upcasts, type) ? upcasts[type] : undefined,
    })
  }
  if (entries.size === 0) {
    throw SerializerError.VALIDATION_FAILED('schemas must not be empty', { serializer })
  }
  return entries
}

/** Stored data: what `encode` wrote, not yet upcast or decoded by the schema. */
export interface StoredJsonData {
  /** The schema version the data was written with. */
  version: number
  /** The JSON value as stored (the schema's input form: not validated, no codecs, not upcast). */
  data: unknown
}

/**
 * Reads a record's stored JSON data without the application's schemas: for tools (the `waltz` CLI)
 * that show a log they have no schemas for. Nothing is validated, decoded by a codec or upcast.
 *
 * @param bytes - the record's stored data
 * @param type - the record's type (named in errors)
 * @returns the schema version and the JSON value
 * @throws SerializerError `SERIALIZER_DECODE_FAILED` when the bytes are not what `jsonSerializer` writes
 */
export function readStoredJson(bytes: Uint8Array, type: string): StoredJsonData {
  return parseStored(bytes, type)
}

function parseStored(bytes: Uint8Array, type: string): StoredJsonData {
  let value: unknown
  try {
    value = JSON.parse(decoder.decode(bytes))
  } catch (err) {
    throw SerializerError.DECODE_FAILED(`${type} data is not JSON: ${describe(err)}`, {
      serializer,
      type,
      cause: err,
    })
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw SerializerError.DECODE_FAILED(`${type} data is not a {"v","data"} object`, {
      serializer,
      type,
    })
  }
  const { v, data } = value as Record<string, unknown>
  // (`data` is absent when the data was `undefined`: `{"v":N}`.)
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) {
    throw SerializerError.DECODE_FAILED(`${type} data has no valid schema version`, {
      serializer,
      type,
    })
  }
  return { version: v, data }
}

function issues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map(
      (issue) =>
        `${issue.path.length === 0 ? 'data' : `data.${issue.path.map(String).join('.')}`}: ${issue.message}`,
    )
    .join('; ')
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
