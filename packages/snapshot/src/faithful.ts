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
  // Objects on the path from the root: meeting one again is a cycle. Shared (not cyclic) references
  // are fine: they load back as copies with the same content.
  const path = new Set<object>()
  const visit = (value: unknown, at: string): string | undefined => {
    if (typeof value === 'function') return `${at} is a function (it would load back as undefined)`
    if (typeof value === 'symbol') return `${at} is a symbol (msgpackr cannot store it)`
    if (typeof value !== 'object' || value === null) return undefined
    if (path.has(value)) return `${at} refers back to an object that contains it (a cycle)`
    const kind = unfaithfulKind(value)
    if (kind !== undefined) return `${at} is ${kind}`
    path.add(value)
    try {
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          const found = visit(value[i], `${at}[${i}]`)
          if (found) return found
        }
      } else if (value instanceof Map) {
        let i = 0
        for (const [k, v] of value) {
          const found = visit(k, `${at} (key ${i})`) ?? visit(v, `${at}.get(key ${i})`)
          if (found) return found
          i++
        }
      } else if (value instanceof Set) {
        let i = 0
        for (const v of value) {
          const found = visit(v, `${at} (member ${i++})`)
          if (found) return found
        }
      } else if (isPlain(value)) {
        for (const key of Object.keys(value)) {
          const found = visit((value as Record<string, unknown>)[key], `${at}.${key}`)
          if (found) return found
        }
      }
      return undefined
    } finally {
      path.delete(value)
    }
  }
  return visit(state, 'state')
}

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
