/**
 * The log's growth over the last minutes, sampled once a second from the view's position: what the
 * overview's chart draws. A reader cannot see the writer's counters, so the append rate is measured
 * from the outside, by how far the last position moved.
 *
 * @internal
 */

/** One sample: when, and the last position then. */
export interface RateSample {
  /** ms since the epoch. */
  t: number
  /** The log's last position. */
  position: number
}

/** Samples a position once per `everyMs`, keeping `keep` samples. */
export class RateSampler {
  private readonly samples: RateSample[] = []
  private readonly timer: NodeJS.Timeout

  constructor(
    private readonly read: () => number,
    everyMs = 1000,
    private readonly keep = 600,
  ) {
    this.sample()
    this.timer = setInterval(() => this.sample(), everyMs)
    this.timer.unref()
  }

  /** The samples, oldest first. */
  list(): RateSample[] {
    return this.samples.slice()
  }

  /** Stops sampling. */
  stop(): void {
    clearInterval(this.timer)
  }

  private sample(): void {
    this.samples.push({ t: Date.now(), position: this.read() })
    if (this.samples.length > this.keep) this.samples.shift()
  }
}
