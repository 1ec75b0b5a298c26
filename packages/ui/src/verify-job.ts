/**
 * `verify` on demand: one scan of every segment (`@waltz/core/inspect`'s `scanLog`, read-only, as
 * `waltz verify` runs it) at a time, its progress polled by the page.
 *
 * @internal
 */
import { scanLog } from '@waltz/core/inspect'

/** What the page shows of a verify run. */
export interface VerifyState {
  /** idle (never run), running, done, or failed (the scan itself failed: `error`). */
  status: 'idle' | 'running' | 'done' | 'failed'
  /** Segments scanned so far. */
  scanned: number
  /** Segments to scan. */
  total: number
  /** Bytes in the segments scanned so far. */
  bytes: number
  /** When it started and finished (ms since the epoch). */
  startedAt?: number
  finishedAt?: number
  /** The corruption found (a torn tail of the newest segment is not corruption). */
  corruption: { file: string; offset: number; code: string; reason: string }[]
  /** Why the scan failed. */
  error?: string
}

/** Runs verify scans, one at a time. */
export class VerifyJob {
  private current: VerifyState = { status: 'idle', scanned: 0, total: 0, bytes: 0, corruption: [] }

  constructor(private readonly dir: string) {}

  /** The last run's state. */
  state(): VerifyState {
    return { ...this.current, corruption: [...this.current.corruption] }
  }

  /** Starts a run unless one is under way; returns the state. */
  start(): VerifyState {
    if (this.current.status === 'running') return this.state()
    const run: VerifyState = {
      status: 'running',
      scanned: 0,
      total: 0,
      bytes: 0,
      startedAt: Date.now(),
      corruption: [],
    }
    this.current = run
    scanLog(this.dir, {
      onSegment: (report, index, total) => {
        run.scanned = index + 1
        run.total = total
        run.bytes += report.size
      },
    }).then(
      (report) => {
        run.total = report.segments.length
        run.scanned = report.segments.length
        run.corruption = report.corruption.map((c) => ({ ...c }))
        run.status = 'done'
        run.finishedAt = Date.now()
      },
      (err: unknown) => {
        run.status = 'failed'
        run.error = (err as Error).message
        run.finishedAt = Date.now()
      },
    )
    return this.state()
  }
}
