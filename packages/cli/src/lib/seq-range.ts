import { usageError } from './errors.js'

/** Seqs `from` to `to`, both included; `to` undefined for an open end. */
export interface SeqRange {
  readonly from: number
  readonly to: number | undefined
}

/** A positive integer seq, or undefined. */
function seq(text: string): number | undefined {
  const n = Number(text)
  return /^\d+$/.test(text) && Number.isSafeInteger(n) && n >= 1 ? n : undefined
}

/**
 * Parses `N`, `N..M` or `N..` (seqs N to M, or from N on).
 *
 * @param text - the argument
 * @param command - for the usage error's hint
 * @returns the range
 * @throws CliError usage (exit 2) for anything else, or M below N
 */
export function parseSeqRange(text: string, command: string): SeqRange {
  const [fromText, toText, ...more] = text.split('..')
  const from = seq(fromText ?? '')
  const to = toText === undefined ? from : toText === '' ? undefined : seq(toText)
  if (from === undefined || more.length > 0 || (toText !== undefined && toText !== '' && to === undefined)) {
    throw usageError(`<range> must be N, N..M or N.. with positive integer seqs, got '${text}'`, command)
  }
  if (to !== undefined && to < from) throw usageError(`<range> ${text} ends before it starts`, command)
  return { from, to }
}

/**
 * A range as the CLI prints it: `N..M`, or `N..` for an open end.
 *
 * @param from - the first seq
 * @param to - the last, or undefined for an open end
 */
export function formatSeqRange(from: number, to: number | undefined): string {
  return `${from}..${to ?? ''}`
}

/**
 * A range in a sentence: `seq 7`, `seqs 7..9`, `seqs 7..`.
 *
 * @param range - the range
 */
export function describeSeqs(range: SeqRange): string {
  return range.from === range.to ? `seq ${range.from}` : `seqs ${formatSeqRange(range.from, range.to)}`
}

/**
 * Whether seqs `a..b` meet the range.
 *
 * @param range - the range
 * @param a - the first seq
 * @param b - the last (Infinity for an open end)
 */
export function meets(range: SeqRange, a: number, b: number): boolean {
  return a <= (range.to ?? Number.POSITIVE_INFINITY) && b >= range.from
}

/**
 * The seqs of `range` that none of `held` covers, as `[first, last]` pairs in order. An open range
 * ends at the last held seq (what comes after is not missing: it is not written yet, or still in the
 * live log).
 *
 * @param range - the range asked for
 * @param held - `[first, last]` pairs, in any order; `last` may be Infinity, or below `first` for none
 * @returns the uncovered parts
 */
export function missingSeqs(
  range: SeqRange,
  held: readonly (readonly [number, number])[],
): [number, number][] {
  const sorted = held.filter(([a, b]) => a <= b).sort((x, y) => x[0] - y[0])
  const end = range.to ?? Math.max(range.from - 1, ...sorted.map(([, b]) => b))
  const missing: [number, number][] = []
  let next = range.from
  for (const [a, b] of sorted) {
    if (next > end) break
    if (a > next) missing.push([next, Math.min(a - 1, end)])
    next = Math.max(next, b + 1)
  }
  if (next <= end && Number.isFinite(next)) missing.push([next, end])
  return missing
}
