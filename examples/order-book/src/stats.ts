/** Latency samples in milliseconds, kept in a growable typed array. */
export class Latencies {
  private values = new Float64Array(1024)
  private count = 0

  add(ms: number): void {
    if (this.count === this.values.length) {
      const grown = new Float64Array(this.values.length * 2)
      grown.set(this.values)
      this.values = grown
    }
    this.values[this.count++] = ms
  }

  /** The `p`-th percentile (0..100), nearest rank; 0 with no samples. */
  percentile(p: number): number {
    if (this.count === 0) return 0
    const sorted = this.values.slice(0, this.count).sort()
    return sorted[Math.min(this.count - 1, Math.max(0, Math.ceil((p / 100) * this.count) - 1))]!
  }
}

/** `12,345`. */
export function int(n: number): string {
  return Math.round(n).toLocaleString('en-US')
}

/** `1.23 ms`, `45.6 ms`, `1.24 s`. */
export function duration(ms: number): string {
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`
  return `${ms < 10 ? ms.toFixed(2) : ms.toFixed(1)} ms`
}

/** `18.2 MiB`, `512 KiB`. */
export function bytes(n: number): string {
  if (n >= 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1)} MiB`
  if (n >= 1024) return `${(n / 1024).toFixed(0)} KiB`
  return `${n} B`
}
