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
