/**
 * Turns decoded record data into plain JSON values, in a stable, documented form (README, "JSON form of
 * values"): values JSON cannot carry become one-key tagged objects.
 *
 * | value | JSON |
 * |---|---|
 * | bigint | `{"$bigint":"123"}` |
 * | `Uint8Array`, `Buffer` | `{"$bytes":"<base64>"}` |
 * | other typed arrays | `{"$Float64Array":[1.5,2]}` (the class name) |
 * | `Date` | `{"$date":"2024-01-01T00:00:00.000Z"}` (an invalid date: `{"$date":null}`) |
 * | `Map` | `{"$map":[[key, value], …]}` |
 * | `Set` | `{"$set":[value, …]}` |
 * | `NaN`, `±Infinity`, `-0` | `{"$number":"NaN"}`, `{"$number":"Infinity"}`, `{"$number":"-0"}` |
 * | `undefined` | omitted in objects, `null` in arrays (as `JSON.stringify`) |
 * | `Error` | `{"$error":{"name":…,"message":…}}` |
 * | a cycle | `{"$circular":true}` |
 */
export function toJson(value: unknown, seen: Set<object> = new Set()): unknown {
  switch (typeof value) {
    case 'bigint':
      return { $bigint: value.toString() }
    case 'number':
      if (Number.isFinite(value)) return Object.is(value, -0) ? { $number: '-0' } : value
      return { $number: String(value) }
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined
    case 'object':
      break
    default:
      return value
  }
  if (value === null) return null
  if (value instanceof Uint8Array)
    return { $bytes: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') }
  if (ArrayBuffer.isView(value) && !(value instanceof DataView)) {
    return {
      [`$${value.constructor.name}`]: Array.from(value as unknown as ArrayLike<number | bigint>, (v) =>
        toJson(v),
      ),
    }
  }
  if (value instanceof Date) return { $date: Number.isNaN(value.getTime()) ? null : value.toISOString() }
  if (seen.has(value)) return { $circular: true }
  seen.add(value)
  try {
    if (value instanceof Map)
      return { $map: Array.from(value, ([k, v]) => [toJson(k, seen), toJson(v, seen)]) }
    if (value instanceof Set) return { $set: Array.from(value, (v) => toJson(v, seen)) }
    if (value instanceof Error) return { $error: { name: value.name, message: value.message } }
    if (Array.isArray(value)) return value.map((v) => toJson(v, seen) ?? null)
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) {
      const converted = toJson(v, seen)
      if (converted !== undefined) out[k] = converted
    }
    return out
  } finally {
    seen.delete(value)
  }
}

/** `JSON.stringify` of {@link toJson}. */
export function stringify(value: unknown): string {
  return JSON.stringify(toJson(value)) ?? 'null'
}

/**
 * A classic hex dump: offset, 16 bytes in hex, and their printable ASCII.
 *
 * @param bytes - what to dump
 * @param indent - prefix of every line
 * @returns the lines
 */
export function hexDump(bytes: Uint8Array, indent = '  '): string[] {
  const lines: string[] = []
  for (let at = 0; at < bytes.byteLength; at += 16) {
    const row = bytes.subarray(at, at + 16)
    const hex = Array.from(row, (b) => b.toString(16).padStart(2, '0'))
    const left = hex.slice(0, 8).join(' ')
    const right = hex.slice(8).join(' ')
    const ascii = Array.from(row, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('')
    lines.push(`${indent}${at.toString(16).padStart(8, '0')}  ${`${left}  ${right}`.padEnd(48)}  |${ascii}|`)
  }
  return lines
}

/** Bytes as lowercase hex. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}
