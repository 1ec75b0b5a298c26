import type { LogReport, SegmentReport } from '@waltz/core/inspect'
import { formatBytes } from './format.js'

/** Totals of a scan, and the torn segment if the scanner judged one torn. */
export function summarize(report: LogReport) {
  const segments = report.segments
  const records = segments.reduce((n, s) => n + s.frames, 0)
  const bytes = segments.reduce((n, s) => n + s.size, 0)
  const firstSeq = segments[0]?.firstSeq ?? 1
  const lastSeq = segments[segments.length - 1]?.lastSeq ?? 0
  const names = [...new Set(segments.map((s) => s.serializerName).filter((n) => n !== null))]
  const tornTail = segments.find((s) => s.verdict === 'torn')
  return { records, bytes, firstSeq, lastSeq, names, tornTail }
}

/** One line on the lock holder. */
export function describeLock(lock: LogReport['lock']): string {
  if (lock === undefined) return 'none (no writer has the log open)'
  if (lock.owner === undefined) return 'LOCK file present but unreadable'
  const who = `pid ${lock.owner.pid} on ${lock.owner.host}`
  return lock.alive ? `held by ${who} (alive: a writer has the log open)` : `stale: ${who} is not running`
}

/** Where and what: `offset 99981 [frame-checksum]: frame checksum mismatch`. */
export function describeProblem(problem: { offset: number; code: string; reason: string }): string {
  return `offset ${problem.offset} [${problem.code}]: ${problem.reason}`
}

/** One line on a segment the scanner judged torn (only the newest can be). */
export function describeTornTail(segment: SegmentReport, lock: LogReport['lock']): string {
  const dropped = segment.size - segment.validEnd
  const what = `torn tail in ${segment.file} at ${describeProblem(segment.problem!)} (${formatBytes(dropped)} after seq ${segment.lastSeq})`
  return lock?.alive
    ? `${what}; a writer is live, so this may be a write in progress`
    : `${what}; the next writer open, or \`waltz repair --yes\`, cuts it`
}
