/** The callers of `Replicator.waitFor`, each waiting for the stream to hold a seq. */

interface Waiter {
  seq: number
  resolve(): void
  reject(err: unknown): void
}

/** Owns the pending `waitFor` calls: adds them, resolves them as seqs are replicated, rejects the rest. */
export class SeqWaiters {
  private waiters: Waiter[] = []

  /**
   * Resolves when {@link release} reaches `seq`; rejects with the signal's reason on abort, or with
   * the error given to {@link rejectAll}.
   */
  wait(seq: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        this.waiters = this.waiters.filter((w) => w !== waiter)
        reject(signal?.reason)
      }
      const waiter: Waiter = {
        seq,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort)
          resolve()
        },
        reject: (err: unknown) => {
          signal?.removeEventListener('abort', onAbort)
          reject(err)
        },
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.waiters.push(waiter)
    })
  }

  /** Resolves every wait for `seq` or an earlier one. */
  release(seq: number): void {
    if (this.waiters.length === 0) return
    const ready = this.waiters.filter((w) => w.seq <= seq)
    if (ready.length === 0) return
    this.waiters = this.waiters.filter((w) => w.seq > seq)
    for (const w of ready) w.resolve()
  }

  /** Rejects every wait, each with its own error from `error()`. */
  rejectAll(error: () => unknown): void {
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) w.reject(error())
  }
}
