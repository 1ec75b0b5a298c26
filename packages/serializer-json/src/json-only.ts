/**
 * A `JSON.stringify` replacer that refuses what JSON would silently change: bigint, `Date` and other
 * class instances (`Map`, `Set`, typed arrays), non-finite numbers, functions, symbols and `undefined`
 * array elements. `undefined` object properties are omitted, as JSON does.
 *
 * @param key - the property being written
 * @param value - its value after `toJSON`
 * @returns `value`
 * @throws NotJsonError for a value JSON cannot carry unchanged
 */
export function jsonOnly(this: unknown, key: string, value: unknown): unknown {
  const original = (this as Record<string, unknown>)[key]
  switch (typeof original) {
    case 'string':
    case 'boolean':
      return value
    case 'number':
      if (Number.isFinite(original)) return value
      throw new NotJsonError(key, String(original))
    case 'object': {
      if (original === null || Array.isArray(original)) return value
      const proto: unknown = Object.getPrototypeOf(original)
      if (proto === Object.prototype || proto === null) return value
      throw new NotJsonError(
        key,
        (original as { constructor?: { name?: string } }).constructor?.name ?? 'object',
      )
    }
    case 'undefined':
      if (Array.isArray(this)) throw new NotJsonError(key, 'undefined')
      return value
    default:
      throw new NotJsonError(key, typeof original)
  }
}

/** Thrown by {@link jsonOnly}; names the key and the kind of value. */
export class NotJsonError extends Error {
  override readonly name = 'NotJsonError'

  /**
   * @param key - the offending property name or array index
   * @param kind - what the value is, e.g. `'bigint'` or `'Date'`
   */
  constructor(key: string, kind: string) {
    super(`${key === '' ? 'the value' : `"${key}"`} is a ${kind}, which JSON cannot carry unchanged`)
  }
}
