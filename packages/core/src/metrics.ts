/**
 * Counters and a latency window for {@link WalMetrics}. Plain fields, updated in place on the hot path.
 *
 * @internal
 */

/** Keeps the last `size` samples and answers percentiles over them. */
export class LatencyWindow {
  private readonly samples: Float64Array
  private count = 0
  private next = 0

  constructor(size = 1024) {
    this.samples = new Float64Array(size)
  }

  /** Records one sample (milliseconds). */
  add(ms: number): void {
    this.samples[this.next] = ms
    this.next = (this.next + 1) % this.samples.length
    if (this.count < this.samples.length) this.count++
  }

  /**
   * The `p`-th percentile (0..100) of the window, 0 when empty.
   *
   * @param p - the percentile
   */
  percentile(p: number): number {
    if (this.count === 0) return 0
    const sorted = this.samples.slice(0, this.count).sort()
    const rank = Math.min(this.count - 1, Math.max(0, Math.ceil((p / 100) * this.count) - 1))
    return sorted[rank]!
  }
}
