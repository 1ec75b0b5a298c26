/**
 * The one owner of what the log holds right now: its segment list, how far each segment may be read,
 * and notification of change. The writer advances it, retention trims it, a read-only refresh
 * replaces it, readers query it. Nobody else keeps a copy.
 *
 * @internal
 */
import type { SegmentRef } from './scanner.js'

/** Where the readable log ends: everything in older segments, and `end` bytes of the newest one. */
export interface ReadableEnd {
  /** The first seq of the segment the end lies in (0: no segment yet). */
  readonly segmentFirstSeq: number
  /** Offset just past the last readable frame in that segment. */
  readonly end: number
  /** The last readable seq. */
  readonly seq: number
}

/** How far a segment may be read. */
export type SegmentBound =
  /** Sealed: read to its end; anything that is not a frame is corruption. */
  | { kind: 'sealed' }
  /** The newest readable segment: read up to `end` bytes, then wait for more. */
  | { kind: 'newest'; end: number }
  /** Not readable yet (being created, or not yet validated). */
  | { kind: 'unreadable' }

const SEALED: SegmentBound = { kind: 'sealed' }
const UNREADABLE: SegmentBound = { kind: 'unreadable' }

/** See the module comment. */
export class LogState {
  private segments: SegmentRef[]
  private readable: ReadableEnd
  private changed: { promise: Promise<void>; resolve: () => void }
  private readonly removedListeners: Array<(ref: SegmentRef) => void> = []
  /**
   * Damage a reader found where the readable log ends (a reader's open of a corrupt newest segment):
   * reading that reaches the end throws it instead of waiting for more.
   */
  readonly damage: Error | undefined

  /**
   * @param segments - the segments found, oldest first
   * @param readable - where the readable log ends
   * @param damage - the error at the readable end, when the newest segment is corrupt (readers only)
   */
  constructor(segments: readonly SegmentRef[], readable: ReadableEnd, damage?: Error) {
    this.segments = [...segments]
    this.readable = readable
    this.changed = deferred()
    this.damage = damage
  }

  /** The segments, oldest first (a snapshot: later changes do not alter it). */
  get list(): readonly SegmentRef[] {
    return this.segments
  }

  /** The last readable seq. */
  get lastSeq(): number {
    return this.readable.seq
  }

  /** The first seq of the oldest segment, or undefined when there is none. */
  get oldestFirstSeq(): number | undefined {
    return this.segments[0]?.firstSeq
  }

  /** Where the readable log ends. */
  get end(): ReadableEnd {
    return this.readable
  }

  /** Resolves at the next change (new records readable, segments added or removed, close). */
  get nextChange(): Promise<void> {
    return this.changed.promise
  }

  /**
   * How far `ref` may be read now.
   *
   * @param ref - a segment of this log
   */
  bound(ref: SegmentRef): SegmentBound {
    const { segmentFirstSeq, end } = this.readable
    if (ref.firstSeq < segmentFirstSeq) return SEALED
    return ref.firstSeq === segmentFirstSeq ? { kind: 'newest', end } : UNREADABLE
  }

  /**
   * The segment holding `seq`: the last one whose first seq is not above it.
   *
   * @returns the segment, or undefined when `seq` is before the first one (or there is none)
   */
  segmentFor(seq: number): SegmentRef | undefined {
    let lo = 0
    let hi = this.segments.length - 1
    let found: SegmentRef | undefined
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      const s = this.segments[mid]!
      if (s.firstSeq <= seq) {
        found = s
        lo = mid + 1
      } else {
        hi = mid - 1
      }
    }
    return found
  }

  /** Whether `ref` is still one of the log's segments (retention may have removed it). */
  has(ref: SegmentRef): boolean {
    return this.segmentFor(ref.firstSeq)?.firstSeq === ref.firstSeq
  }

  /** The segment after `ref`, or undefined. */
  after(ref: SegmentRef): SegmentRef | undefined {
    return this.segments.find((s) => s.firstSeq > ref.firstSeq)
  }

  /** The writer created a segment (it becomes readable with the next {@link advance}). */
  addSegment(ref: SegmentRef): void {
    this.segments = [...this.segments, ref]
    this.notify()
  }

  /** New records became readable. */
  advance(readable: ReadableEnd): void {
    this.readable = readable
    this.notify()
  }

  /** Retention deleted the oldest segment. */
  removeOldest(): void {
    const removed = this.segments[0]
    this.segments = this.segments.slice(1)
    if (removed !== undefined) this.removed(removed)
    this.notify()
  }

  /** A read-only refresh found this on disk. */
  replace(segments: readonly SegmentRef[], readable: ReadableEnd): void {
    const before = this.segments
    this.segments = [...segments]
    this.readable = readable
    if (this.removedListeners.length > 0) {
      const kept = new Set(segments.map((s) => s.firstSeq))
      for (const ref of before) if (!kept.has(ref.firstSeq)) this.removed(ref)
    }
    this.notify()
  }

  /**
   * Calls `listener` with every segment that leaves the list from now on (retention, or a refresh
   * that no longer finds it), so what is kept per segment elsewhere is dropped with it.
   *
   * @param listener - called synchronously, once per removed segment
   */
  onRemove(listener: (ref: SegmentRef) => void): void {
    this.removedListeners.push(listener)
  }

  private removed(ref: SegmentRef): void {
    for (const listener of this.removedListeners) listener(ref)
  }

  /** Wakes everyone waiting for a change (also used at close). */
  notify(): void {
    const current = this.changed
    this.changed = deferred()
    current.resolve()
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void
  const promise = new Promise<void>((r) => {
    resolve = r
  })
  return { promise, resolve }
}
