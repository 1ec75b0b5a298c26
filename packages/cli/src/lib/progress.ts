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
    private readonly enabled: boolean,
  ) {}

  /**
   * @param done - how much is done
   * @param total - how much there is, in the unit of `done`
   * @param detail - shown after the percentage, e.g. `1.2 MiB  3/12 segments`
   */
  update(done: number, total: number, detail: string): void {
    if (!this.enabled) return
    const now = Date.now()
    if (now - this.lastDraw < 100 && done < total) return
    this.lastDraw = now
    const ratio = total === 0 ? 1 : Math.min(1, done / total)
    const width = Math.max(10, Math.min(40, (this.stream.columns ?? 80) - 60))
    const filled = Math.round(ratio * width)
    const bar = `${'#'.repeat(filled)}${'-'.repeat(width - filled)}`
    const percent = `${Math.floor(ratio * 100)}%`.padStart(4)
    this.stream.write(`\r${this.label} [${bar}] ${percent}  ${detail}\x1b[K`)
    this.drawn = true
  }

  /** Removes the bar, leaving the cursor at the start of an empty line. */
  clear(): void {
    if (this.drawn) this.stream.write('\r\x1b[K')
    this.drawn = false
  }
}
