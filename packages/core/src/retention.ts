/**
 * Retention: which sealed segments a pass removes (whole segments, oldest first), by age and by the
 * log's total size, never one holding a record at or above `keepFrom()`. A pass runs after each
 * rotation and on a timer, never on the append path; the removal itself is the WAL's
 * (`truncateBefore`'s: unlink, then a directory fsync, oldest first, so a crash leaves no gap).
 *
 * What a pass needs of a sealed segment is cached: its size, and when it was sealed (the creation time
 * in the next segment's header: every record of a sealed segment was written before the next segment
 * was created). The writer reports both for the segments it seals; those found at open are read once.
 *
 * @internal
 */
import type { Files } from './files.js'
import type { LogState } from './log-state.js'
import type { WalLogger } from './logger.js'
import { expectHeader, readHeader, type SegmentRef } from './scanner.js'

/**
 * Options of {@link WalOptions.retention}: sealed segments older than `maxAgeMs`, or beyond `maxBytes`,
 * are removed; never one holding a record at or above `keepFrom()`.
 */
export interface RetentionOptions {
  /**
   * Remove a sealed segment once its newest record is older than this (ms), measured from when the
   * segment was sealed. Default: no age limit.
   */
  maxAgeMs?: number
  /**
   * Remove the oldest sealed segments while the log's segments total more than this many bytes. The
   * newest segment is never removed, so the log may stay above it. Default: no size limit.
   */
  maxBytes?: number
  /**
   * The lowest seq that must stay (a snapshot's seq, the slowest durable consumer's checkpoint): no
   * segment holding a record at or above it is removed. Called at every pass; a function that throws
   * or returns no integer of 0 or more makes the pass remove nothing (logged). Default: no floor.
   */
  keepFrom?: () => number
  /** How often a pass runs besides after each rotation (ms). Default 60 000. */
  intervalMs?: number
}

/** Retention options after validation, defaults applied. */
export interface ResolvedRetention {
  maxAgeMs: number
  maxBytes: number
  keepFrom: (() => number) | undefined
  intervalMs: number
}

/** What a pass removed. */
export interface RetentionCounters {
  /** Passes run. */
  passes: number
  /** Segments removed (by retention and by `truncateBefore`). */
  segmentsRemoved: number
  /** Bytes of the segments removed. */
  bytesRemoved: number
}

/** What retention works with. */
export interface RetentionSource {
  readonly files: Files
  readonly state: LogState
  readonly logger: WalLogger
  /** The serializer name headers must carry. */
  readonly serializerName: string
  /** The size of the newest segment (the writer's). */
  readonly newestSize: () => number
  /** With an archive: whether a segment is archived (only those may be removed locally). */
  readonly archived?: ((ref: SegmentRef) => boolean) | undefined
}

/**
 * The size of a segment file.
 *
 * @param files - the file interface
 * @param ref - the segment
 * @returns bytes
 * @throws the file system's error
 */
export async function segmentFileSize(files: Files, ref: SegmentRef): Promise<number> {
  const fd = await files.open(ref.path, 'r')
  try {
    return await files.size(fd)
  } finally {
    await files.close(fd)
  }
}

/** Sizes and sealing times of sealed segments, by first seq, and the plan of a pass. */
export class Retention {
  private readonly options: ResolvedRetention
  private readonly source: RetentionSource
  private readonly sizes = new Map<number, number>()
  private readonly sealedAt = new Map<number, number>()

  /**
   * @param options - the validated options
   * @param source - files, the log state, the logger
   */
  constructor(options: ResolvedRetention, source: RetentionSource) {
    this.options = options
    this.source = source
    source.state.onRemove((ref) => {
      this.sizes.delete(ref.firstSeq)
      this.sealedAt.delete(ref.firstSeq)
    })
  }

  /** The pass interval (ms). */
  get intervalMs(): number {
    return this.options.intervalMs
  }

  /**
   * The writer sealed a segment: its size and when.
   *
   * @param ref - the segment
   * @param size - its size in bytes
   * @param at - when it was sealed (the next segment's creation time), ms since the epoch
   */
  sealed(ref: SegmentRef, size: number, at: number): void {
    this.sizes.set(ref.firstSeq, size)
    this.sealedAt.set(ref.firstSeq, at)
  }

  /**
   * The seq below which a pass may remove every record now, or undefined when it removes nothing.
   *
   * @param now - the current time, ms since the epoch
   * @returns the first seq to keep
   * @throws the file system's errors reading sizes or headers
   */
  async cut(now: number): Promise<number | undefined> {
    const { maxAgeMs, maxBytes, keepFrom } = this.options
    const list = this.source.state.list
    if (list.length < 2) return undefined
    let total = 0
    if (Number.isFinite(maxBytes)) {
      for (let i = 0; i < list.length - 1; i++) total += await this.size(list[i]!)
      total += this.source.newestSize()
    }
    let keep = 0
    // Oldest first; the newest segment (the last) always stays.
    while (keep < list.length - 1) {
      const ref = list[keep]!
      // With an archive, a segment goes only once its copy there is verified (and so every later one
      // waits too: removals stay oldest first).
      if (this.source.archived && !this.source.archived(ref)) break
      const tooOld =
        Number.isFinite(maxAgeMs) && now - (await this.sealedTime(ref, list[keep + 1]!)) > maxAgeMs
      if (!tooOld && !(total > maxBytes)) break
      if (Number.isFinite(maxBytes)) total -= await this.size(ref)
      keep++
    }
    if (keep === 0) return undefined
    let cut = list[keep]!.firstSeq
    if (keepFrom !== undefined) {
      let floor: unknown
      try {
        floor = keepFrom()
      } catch (err) {
        this.source.logger.warn('retention: keepFrom() threw; nothing removed', {
          error: (err as Error).message,
        })
        return undefined
      }
      if (typeof floor !== 'number' || !Number.isSafeInteger(floor) || floor < 0) {
        this.source.logger.warn('retention: keepFrom() returned no seq; nothing removed', {
          value: String(floor),
        })
        return undefined
      }
      cut = Math.min(cut, floor)
    }
    return cut
  }

  /**
   * The size of a sealed segment (read once).
   *
   * @param ref - the segment
   * @returns bytes
   * @throws the file system's error
   */
  async size(ref: SegmentRef): Promise<number> {
    let size = this.sizes.get(ref.firstSeq)
    if (size === undefined) {
      size = await segmentFileSize(this.source.files, ref)
      this.sizes.set(ref.firstSeq, size)
    }
    return size
  }

  /** When `ref` was sealed: the creation time in the header of `next`, the segment after it. */
  private async sealedTime(ref: SegmentRef, next: SegmentRef): Promise<number> {
    let at = this.sealedAt.get(ref.firstSeq)
    if (at === undefined) {
      const { files, serializerName } = this.source
      const fd = await files.open(next.path, 'r')
      try {
        at = expectHeader(await readHeader(files, fd, next), next, serializerName).createdAt
      } finally {
        await files.close(fd)
      }
      this.sealedAt.set(ref.firstSeq, at)
    }
    return at
  }
}
