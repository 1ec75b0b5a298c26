/**
 * Finds the first value in a state that the default codec (msgpackr with `moreTypes`) would not load
 * back as it was saved: msgpackr stores a function as `undefined`, a class instance as a plain object
 * (its prototype and methods gone), a boxed primitive, `WeakMap` or `Promise` as `{}`, and overflows
 * the stack on a cycle, all without an error. A snapshot must load back as the state it was taken
 * from, so such a state is refused at save instead.
 *
 * @internal
 */

/** The error classes msgpackr restores as themselves (by name); a subclass of one comes back as it. */
const BUILT_IN_ERRORS = new Set<unknown>([
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
])

/**
 * The first value in `state` that would not round-trip, with its path (`state.orders[3].onFill`) and
 * what it would load back as; undefined when everything round-trips.
 *
 * @param state - the state to save
 * @returns e.g. `"state.onFill is a function (it would load back as undefined)"`, or undefined
 */
export function unfaithfulValue(state: unknown): string | undefined {
  // The path of the value found is built on the way back out (no string per value on the way in).
  const steps: string[] = []
  const via = (step: string, found: string): string => {
    steps.push(step)
    return found
  }
  // A cycle nests without end: a depth bound finds it without remembering every object on the path
  // (shared, acyclic references are fine: they load back as copies with the same content).
  let depth = 0
  const visit = (value: unknown): string | undefined => {
    if (typeof value === 'function') return 'is a function (it would load back as undefined)'
    if (typeof value === 'symbol') return 'is a symbol (msgpackr cannot store it)'
    if (typeof value !== 'object' || value === null) return undefined
    if (depth >= MAX_DEPTH) return `nests ${MAX_DEPTH} levels deep: a cycle, or deeper than msgpackr packs`
    const plain = isPlain(value)
    const kind = plain ? undefined : unfaithfulKind(value)
    if (kind !== undefined) return `is ${kind}`
    depth++
    try {
      if (plain) {
        for (const key in value) {
          if (!Object.hasOwn(value, key)) continue
          const found = visit((value as Record<string, unknown>)[key])
          if (found) return via(`.${key}`, found)
        }
      } else if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          const found = visit(value[i])
          if (found) return via(`[${i}]`, found)
        }
      } else if (value instanceof Map) {
        let i = 0
        for (const [k, v] of value) {
          let found = visit(k)
          if (found) return via(` (key ${i})`, found)
          found = visit(v)
          if (found) return via(`.get(key ${i})`, found)
          i++
        }
      } else if (value instanceof Set) {
        let i = 0
        for (const v of value) {
          const found = visit(v)
          if (found) return via(` (member ${i})`, found)
          i++
        }
      }
      return undefined
    } finally {
      depth--
    }
  }
  const found = visit(state)
  if (found === undefined) return undefined
  steps.reverse()
  // A cycle's path is as long as the bound: show its two ends.
  const shown =
    steps.length <= 24
      ? steps.join('')
      : `${steps.slice(0, 12).join('')}…(${steps.length - 24} more steps)…${steps.slice(-12).join('')}`
  return `state${shown} ${found}`
}

/** Nesting deeper than this is refused: a cycle never ends, and msgpackr packs recursively. */
const MAX_DEPTH = 1000

/** Why an object would not load back as itself, or undefined when its kind round-trips. */
function unfaithfulKind(value: object): string | undefined {
  if (Array.isArray(value) || value instanceof Map || value instanceof Set || isPlain(value)) return undefined
  if (value instanceof Date || value instanceof RegExp) return undefined
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return undefined
  if (value instanceof Error) {
    return BUILT_IN_ERRORS.has(value.constructor)
      ? undefined
      : `an instance of ${value.constructor.name}, an Error subclass (it would load back as a plain Error)`
  }
  const name = (value as { constructor?: { name?: string } }).constructor?.name ?? 'an unknown class'
  return `an instance of ${name} (it would load back as a plain object, without its prototype)`
}

/** A plain object: its prototype is `Object.prototype` or null. */
function isPlain(value: object): boolean {
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}
