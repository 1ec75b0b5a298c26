import { sealedKeyId } from '@waltz/core'

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve()
    const done = () => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })
  })
}

/** Exponential backoff: `min` doubled per consecutive failure (the first is 1), capped at `max`. */
export function backoff(failures: number, min: number, max: number): number {
  return Math.min(max, min * 2 ** Math.min(Math.max(failures - 1, 0), 20))
}

/**
 * The key id a sealed data field names (core's `sealedKeyId`, of a record's stored data), or
 * undefined when the bytes are not a sealed field.
 */
export function keyIdOf(data: Uint8Array): string | undefined {
  try {
    return sealedKeyId({ seq: 0, data, encrypted: true })
  } catch {
    return undefined
  }
}
