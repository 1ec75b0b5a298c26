/** A progress bar on stderr, redrawn 10 times a second; silent when stderr is not a terminal. */
export class Progress {
  private readonly timer: NodeJS.Timeout | undefined
  private readonly started = performance.now()

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly done: () => number,
  ) {
    if (process.stderr.isTTY) {
      this.timer = setInterval(() => this.draw(), 100)
      this.timer.unref()
    }
  }

  private draw(): void {
    const done = Math.min(this.done(), this.total)
    const width = 30
    const fraction = this.total === 0 ? 1 : done / this.total
    const filled = Math.round(fraction * width)
    const rate = done / Math.max(0.001, (performance.now() - this.started) / 1000)
    const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`
    const text = `${this.label} ${bar} ${(fraction * 100).toFixed(0).padStart(3)}% ${done.toLocaleString('en-US')}/${this.total.toLocaleString('en-US')} (${Math.round(rate).toLocaleString('en-US')}/s)`
    process.stderr.write(`\r${text.slice(0, (process.stderr.columns || 100) - 1)}\x1b[K`)
  }

  /** Draws the final state and ends the line. */
  stop(): void {
    if (this.timer === undefined) return
    clearInterval(this.timer)
    this.draw()
    process.stderr.write('\n')
  }
}
