/** A stream the CLI writes to: `process.stdout`/`stderr`, or any writable in tests. */
export type OutStream = NodeJS.WritableStream & {
  /** Whether it is a terminal: `verify` draws its progress bar only when stdout and stderr are. */
  isTTY?: boolean
  /** The terminal width, when it is one (sizes the progress bar; default 80). */
  columns?: number
}

/** Where a command reads its environment from and writes to. */
export interface Io {
  /** Where results go (the report, dumped records, JSON). */
  stdout: OutStream
  /** Where errors, warnings and progress go. */
  stderr: OutStream
  /** Ends `tail -f` (the binary wires SIGINT and SIGTERM to it). */
  signal?: AbortSignal
  /** The clock, for ages and durations (default `Date.now`). */
  now?: () => number
}

const CHUNK = 64 * 1024

/**
 * Buffered, backpressure-aware line output. A closed reader (EPIPE, e.g. `waltz dump dir | head`)
 * marks it closed instead of failing: commands check {@link Output.closed} and stop quietly.
 */
export class Output {
  private chunks: string[] = []
  private pending = 0
  private isClosed = false
  /** A write error other than a closed reader. */
  failure: Error | undefined

  constructor(readonly stream: OutStream) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      this.isClosed = true
      if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') this.failure = err
    })
  }

  /** Whether the reader went away (or writing failed): nothing more will be written. */
  get closed(): boolean {
    return this.isClosed
  }

  /** Queues one line (a newline is added). */
  line(text = ''): void {
    if (this.isClosed) return
    this.chunks.push(text, '\n')
    this.pending += text.length + 1
  }

  /** Writes the queued lines once enough have gathered (call it in loops). */
  async maybeFlush(): Promise<void> {
    if (this.pending >= CHUNK) await this.flush()
  }

  /** Writes every queued line, waiting for the stream to drain. */
  async flush(): Promise<void> {
    const data = this.chunks.join('')
    this.chunks = []
    this.pending = 0
    if (this.isClosed || data === '') return
    if (this.stream.write(data)) return
    await new Promise<void>((resolve) => {
      const done = () => {
        this.stream.off('drain', done)
        this.stream.off('error', done)
        this.stream.off('close', done)
        resolve()
      }
      this.stream.on('drain', done)
      this.stream.on('error', done)
      this.stream.on('close', done)
    })
  }
}
