import { expect } from 'vitest'

// A structural copy of @waltz/core's `SerializerError` check: `@waltz/core` does not resolve from this
// folder (see serializer-conformance.ts). It tests what core's `isSerializerError` tests.

/** The shape of core's `SerializerError`, the one error class every serializer throws. */
export interface SerializerErrorShape extends Error {
  name: 'SerializerError'
  code: string
  serializer: string
  type: string | undefined
}

/**
 * Whether `err` is a `SerializerError`: the same test as core's `isSerializerError` (by name and code,
 * so it works across duplicate installs).
 *
 * @param err - any thrown value
 * @returns true when `err` has `name === 'SerializerError'` and a string `code`
 */
export function isSerializerError(err: unknown): err is SerializerErrorShape {
  if (typeof err !== 'object' || err === null) return false
  const e = err as { name?: unknown; code?: unknown }
  return e.name === 'SerializerError' && typeof e.code === 'string'
}

/**
 * Runs `fn` and asserts that it throws a well-formed `SerializerError` of the given serializer: a
 * `SERIALIZER_*` code that also starts the message, and the serializer's name.
 *
 * @param fn - the call that must throw
 * @param serializer - the `name` of the serializer expected to throw
 * @returns the error, for further assertions
 */
export function expectSerializerError(fn: () => unknown, serializer: string): SerializerErrorShape {
  let thrown: unknown
  let returned: unknown
  try {
    returned = fn()
  } catch (err) {
    thrown = err
  }
  expect(thrown, `expected a throw, got ${String(returned)}`).toBeInstanceOf(Error)
  return expectWellFormed(thrown, serializer)
}

/**
 * Runs `fn` and asserts that if it throws, it throws a well-formed `SerializerError` of the given
 * serializer (never a raw library exception). For input a serializer may accept or refuse.
 *
 * @param fn - the call that may throw
 * @param serializer - the `name` of the serializer
 * @returns the error, or `undefined` when `fn` returned
 */
export function expectNothingButSerializerError(
  fn: () => unknown,
  serializer: string,
): SerializerErrorShape | undefined {
  try {
    fn()
  } catch (err) {
    return expectWellFormed(err, serializer)
  }
  return undefined
}

function expectWellFormed(thrown: unknown, serializer: string): SerializerErrorShape {
  expect(isSerializerError(thrown), `expected a SerializerError, got ${String(thrown)}`).toBe(true)
  const err = thrown as SerializerErrorShape
  expect(err.code).toMatch(/^SERIALIZER_[A-Z_]+$/)
  expect(err.message.startsWith(`${err.code}: `)).toBe(true)
  expect(err.serializer).toBe(serializer)
  return err
}
