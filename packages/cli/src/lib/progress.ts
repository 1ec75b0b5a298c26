import { formatBytes } from './format.js'
import type { OutStream } from './io.js'

/**
 * A one-line progress bar redrawn in place on stderr. Only drawn when enabled (the caller enables it
 * when stdout and stderr are terminals), at most ten times a second.
 */
export class ProgressBar {
  private lastDraw = 0
  private drawn = false

  constructor(
    private readonly stream: OutStream,
    private readonly label: string,
    private readonly total: number,
    private readonly enabled: boolean,
    private readonly unit: (n: number) => string = formatBytes,
  ) {}

  /**
   * @param done - how much is done, in the unit of `total`
   * @param detail - shown after the counts, e.g. `3/12 segments`
   */
  update(done: number, detail: string): void {
    if (!this.enabled) return
    const now = Date.now()
    if (now - this.lastDraw < 100 && done < this.total) return
    this.lastDraw = now
    const ratio = this.total === 0 ? 1 : Math.min(1, done / this.total)
    const width = Math.max(10, Math.min(40, (this.stream.columns ?? 80) - 60))
    const filled = Math.round(ratio * width)
    const bar = `${'#'.repeat(filled)}${'-'.repeat(width - filled)}`
    const percent = `${Math.floor(ratio * 100)}%`.padStart(4)
    const text = `${this.label} [${bar}] ${percent}  ${this.unit(done)}/${this.unit(this.total)}  ${detail}`
    this.stream.write(`\r${text}\x1b[K`)
    this.drawn = true
  }

  /** Removes the bar, leaving the cursor at the start of an empty line. */
  clear(): void {
    if (this.drawn) this.stream.write('\r\x1b[K')
    this.drawn = false
  }
}
