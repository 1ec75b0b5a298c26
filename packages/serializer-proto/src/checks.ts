import protobuf from 'protobufjs/minimal.js'

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER)
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/**
 * Finds a string holding a lone surrogate. protobufjs would write it as bytes that are not UTF-8, which
 * protobufjs itself then refuses to decode: the record would be unreadable.
 *
 * @param value - the payload, or a part of it
 * @param path - where `value` sits, for the message
 * @returns the path of the first bad string, or `undefined`
 */
export function findLoneSurrogate(value: unknown, path: string): string | undefined {
  return findIn(value, path, (v, at) => (typeof v === 'string' && LONE_SURROGATE.test(v) ? at : undefined))
}

/**
 * Finds a 64-bit integer in a decoded message that does not fit a JS number exactly. Decoded int64
 * fields are mapped to `number`; a larger value would silently change, so it is reported instead.
 *
 * @param value - a decoded message, or a part of it
 * @param path - where `value` sits, for the message
 * @returns the path and value of the first unsafe integer, or `undefined`
 */
export function findUnsafeLong(value: unknown, path: string): string | undefined {
  const Long = protobuf.util.Long
  if (!Long) return undefined
  return findIn(value, path, (v, at) => {
    if (!(v instanceof Long)) return undefined
    const { low, high, unsigned } = v as protobuf.Long
    const exact = (BigInt(unsigned ? high >>> 0 : high | 0) << 32n) + BigInt(low >>> 0)
    return exact <= MAX_SAFE && exact >= -MAX_SAFE ? null : `${at} = ${exact}`
  })
}

/**
 * Walks `value` depth first (array elements and own enumerable properties; typed arrays are leaves)
 * and returns the first report of `check`.
 *
 * @param value - where to start
 * @param path - where `value` sits, for the report
 * @param check - a report for `v` at `at`; `undefined` to look inside `v`, `null` to skip it
 * @returns the first report, or `undefined`
 */
function findIn(
  value: unknown,
  path: string,
  check: (v: unknown, at: string) => string | null | undefined,
): string | undefined {
  const report = check(value, path)
  if (report !== undefined) return report ?? undefined
  if (typeof value !== 'object' || value === null || ArrayBuffer.isView(value)) return undefined
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findIn(value[i], `${path}[${i}]`, check)
      if (found !== undefined) return found
    }
    return undefined
  }
  for (const key of Object.keys(value)) {
    const found = findIn((value as Record<string, unknown>)[key], `${path}.${key}`, check)
    if (found !== undefined) return found
  }
  return undefined
}
