/**
 * Recovery on open: list the segments and scan only the newest. From the first frame that is not a
 * valid, complete, committed frame on, the newest segment holds a torn tail: it is cut off (unless
 * read-only) and reported. Sealed segments are not read here (open time does not grow with them);
 * their frames are validated when read, and a bad one is an error, never an end.
 *
 * @internal
 */
import { WalError } from './errors.js'
import type { Fd, Files } from './files.js'
import { type SegmentHeader, segmentHeaderSize } from './format.js'
import type { WalLogger } from './logger.js'
import {
  expectHeader,
  FrameReader,
  listSegments,
  oversizeError,
  readHeader,
  type SegmentRef,
} from './segment.js'

/** What recovery found and did on open (`wal.recovery`). */
export interface RecoveryReport {
  /** Segment files found. */
  readonly segments: number
  /** The newest segment, which was scanned, or null when the directory held none. */
  readonly tailSegment: string | null
  /** Bytes of the newest segment that were scanned. */
  readonly scannedBytes: number
  /** Bytes cut off the end of the newest segment (a torn tail); 0 when it was clean. */
  readonly truncatedBytes: number
  /** File offset where the torn tail began, or null. */
  readonly truncatedAt: number | null
  /** Why the tail was cut: the first problem found, or null. */
  readonly reason: string | null
  /** Newest segment files removed because their header never became durable (a crash in rotation). */
  readonly removedSegments: readonly string[]
  /** The last seq in the log after recovery (0 when empty). */
  readonly lastSeq: number
  /** Time recovery took, in milliseconds. */
  readonly durationMs: number
}

/** The newest segment after recovery. */
export interface RecoveredTail {
  ref: SegmentRef
  fd: Fd
  header: SegmentHeader
  /** End of the last committed batch: where appends continue. */
  validEnd: number
  /** Last committed seq (the header's first seq - 1 when the segment holds no frames). */
  lastSeq: number
}

/** Inputs of {@link recover}. */
export interface RecoverOptions {
  files: Files
  dir: string
  serializerName: string
  maxRecordSize: number
  readOnly: boolean
  logger: WalLogger
}

/** The result of {@link recover}. */
export interface Recovered {
  segments: SegmentRef[]
  tail: RecoveredTail | undefined
  /** When every segment was removed as torn, the seq the first new segment must start at. */
  nextSeq: number
  report: RecoveryReport
}

/**
 * Recovers the directory's log: see the module comment.
 *
 * @throws WalError `WAL_CORRUPT` (a newest segment with a bad header and data after it),
 *   `WAL_SERIALIZER_MISMATCH`, `WAL_FORMAT_UNSUPPORTED`, `WAL_IO`
 */
export async function recover(options: RecoverOptions): Promise<Recovered> {
  const started = performance.now()
  const { files, dir, logger, readOnly } = options
  const segments = await listSegments(files, dir)
  const found = segments.length
  const removed: string[] = []
  let nextSeq = 1
  while (segments.length > 0) {
    const ref = segments[segments.length - 1]!
    const fd = await files.open(ref.path, readOnly ? 'r' : 'r+')
    let keepOpen = false
    try {
      const read = await readHeader(files, fd, ref)
      if (
        !read.ok &&
        read.problem !== 'version' &&
        read.fileSize <= segmentHeaderSize(options.serializerName)
      ) {
        // Segment creation writes and fdatasyncs the header before any frame: a newest segment with no
        // valid header and no room for a frame is a creation cut short. It holds no records; the
        // previous segment was fully synced before this one was created. Anything longer is corruption.
        logger.warn('removing a newest segment whose header never became durable', {
          file: ref.path,
          problem: read.problem,
        })
        segments.pop()
        removed.push(ref.path)
        nextSeq = ref.firstSeq
        if (!readOnly) {
          await files.unlink(ref.path)
          await files.syncDir(dir)
        }
        continue
      }
      const header = expectHeader(read, ref, options.serializerName)
      const frames = new FrameReader(files, fd, header.headerSize, header.firstSeq, options.maxRecordSize)
      const r = (await frames.skipToEnd()).stop
      const validEnd = frames.committedEnd
      if (r === 'invalid' && (await frames.rejectedIntactOversize(read.fileSize))) {
        throw oversizeError(ref.path, frames.frameEnd, frames.cursor, options.maxRecordSize)
      }
      let reason: string | null = null
      if (validEnd < read.fileSize) {
        reason =
          r === 'end'
            ? 'the file ends inside an atomic batch'
            : `${frames.cursor.problem}${frames.batchOpen ? ' (inside an atomic batch)' : ''}`
        logger.warn('cutting a torn tail off the newest segment', {
          file: ref.path,
          offset: validEnd,
          bytes: read.fileSize - validEnd,
          reason,
        })
        if (!readOnly) await files.ftruncate(fd, validEnd)
      }
      // Always, not only after a cut: a crashed 'os-cache' writer may have left records in the page
      // cache only. The new writer starts out counting everything recovered as durable, so make it so.
      if (!readOnly) await files.fdatasync(fd)
      keepOpen = true
      const report: RecoveryReport = {
        segments: found,
        tailSegment: ref.path,
        scannedBytes: read.fileSize,
        truncatedBytes: read.fileSize - validEnd,
        truncatedAt: reason === null ? null : validEnd,
        reason,
        removedSegments: removed,
        lastSeq: frames.committedSeq,
        durationMs: performance.now() - started,
      }
      logger.info('recovered', { ...report })
      return {
        segments,
        tail: { ref, fd, header, validEnd, lastSeq: frames.committedSeq },
        nextSeq: frames.committedSeq + 1,
        report,
      }
    } catch (err) {
      if (err instanceof WalError) throw err
      throw new WalError('WAL_IO', `recovering ${ref.path} failed`, { cause: err, file: ref.path })
    } finally {
      if (!keepOpen) await files.close(fd).catch(() => {})
    }
  }
  return {
    segments,
    tail: undefined,
    nextSeq,
    report: {
      segments: found,
      tailSegment: null,
      scannedBytes: 0,
      truncatedBytes: 0,
      truncatedAt: null,
      reason: null,
      removedSegments: removed,
      lastSeq: nextSeq - 1,
      durationMs: performance.now() - started,
    },
  }
}
