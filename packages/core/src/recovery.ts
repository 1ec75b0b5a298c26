/**
 * Recovery on open: list the segments, remove unfinished segment creations (`*.wal.tmp`, which never
 * hold records), and have the scanner judge the newest segment. A `torn` tail is cut (its bytes kept
 * in a side file, the cut logged at `warn`); `corrupt` fails a writer's open, and a reader's open
 * reads up to the damage (it is reported when reading reaches it). Sealed segments are not read
 * here (open time does not grow with them); their frames are validated when read.
 *
 * @internal
 */
import { basename, join } from 'node:path'
import { WalError } from './errors.js'
import type { Fd, Files } from './files.js'
import type { SegmentHeader } from './format.js'
import type { WalLogger } from './logger.js'
import { listSegments, problemError, type ScanProblemCode, type SegmentRef, scanSegment } from './scanner.js'

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
  /** Why the tail was cut: the problem found, or null. */
  readonly reason: string | null
  /** The stable code of that problem, or null. */
  readonly problemCode: ScanProblemCode | null
  /** The side file holding the bytes that were cut, or null (nothing cut, or a reader's open). */
  readonly cutFile: string | null
  /** Unfinished segment creations (`*.wal.tmp`, holding no records) that were removed. */
  readonly removedSegments: readonly string[]
  /** The last seq in the log after recovery (0 when empty). */
  readonly lastSeq: number
  /** Time recovery took, in milliseconds. */
  readonly durationMs: number
}

/** The newest segment after recovery. */
export interface RecoveredTail {
  ref: SegmentRef
  /** Open for writing (a writer's recovery), else -1. */
  fd: Fd
  /** The header; null only for a reader's open of a segment whose header is damaged. */
  header: SegmentHeader | null
  /** A reader's open of a corrupt newest segment: the error reading reports at `validEnd`. */
  damage: WalError | undefined
  /** End of the last committed batch: where appends continue. */
  validEnd: number
  /** Last committed seq (the header's first seq - 1 when the segment holds no frames). */
  lastSeq: number
  /** A writer's recovery: the segment's batch boundaries (for its seek file once it is sealed). */
  boundaries: { readonly offsets: number[]; readonly seqs: number[] } | undefined
}

/** Inputs of {@link recover}. */
export interface RecoverOptions {
  files: Files
  dir: string
  /** The serializer name headers must carry; undefined accepts any (a reader without a codec). */
  serializerName: string | undefined
  maxRecordSize: number
  /** A reader's open: change nothing on disk, just find where the readable log ends. */
  readOnly: boolean
  logger: WalLogger
}

/** The result of {@link recover}. */
export interface Recovered {
  segments: SegmentRef[]
  tail: RecoveredTail | undefined
  report: RecoveryReport
}

/**
 * Recovers the directory's log: see the module comment.
 *
 * @throws WalError `WAL_CORRUPT`, `WAL_SERIALIZER_MISMATCH`, `WAL_FORMAT_UNSUPPORTED`,
 *   `WAL_RECORD_TOO_LARGE`, `WAL_IO`
 */
export async function recover(options: RecoverOptions): Promise<Recovered> {
  const started = performance.now()
  const { files, dir, logger, readOnly } = options
  let listing: Awaited<ReturnType<typeof listSegments>>
  try {
    listing = await listSegments(files, dir)
  } catch (err) {
    throw WalError.IO(`cannot list ${dir}`, { cause: err, file: dir })
  }
  const { segments, unfinished, staleSeekFiles } = listing
  if (!readOnly) {
    await removeUnfinished(files, dir, unfinished, logger)
    await removeStaleSeekFiles(files, staleSeekFiles, logger)
  }
  const removed = readOnly ? [] : unfinished
  const ref = segments[segments.length - 1]
  if (ref === undefined) {
    return {
      segments,
      tail: undefined,
      report: emptyReport(0, removed, performance.now() - started),
    }
  }
  const fd = await files.open(ref.path, readOnly ? 'r' : 'r+')
  let keepOpen = false
  try {
    const scan = await scanSegment(files, fd, ref, {
      maxRecordSize: options.maxRecordSize,
      newest: true,
      serializerName: options.serializerName,
      boundaries: !readOnly,
    })
    const problem = scan.problem
    const incompatible = problem?.code === 'header-version' || problem?.code === 'header-serializer'
    if (scan.verdict === 'corrupt' && (!readOnly || incompatible)) throw problemError(ref.path, problem!)
    const damage = scan.verdict === 'corrupt' ? problemError(ref.path, problem!) : undefined
    const header = scan.header
    let cutFile: string | null = null
    if (scan.verdict === 'torn') {
      const problem = scan.problem!
      logger.warn('cutting a torn tail off the newest segment', {
        file: ref.path,
        offset: scan.validEnd,
        bytes: scan.fileSize - scan.validEnd,
        reason: problem.reason,
        code: problem.code,
      })
      if (!readOnly) cutFile = await cutTornTail(files, dir, fd, ref, scan.validEnd, scan.fileSize)
    }
    // Always, not only after a cut: a crashed 'os-cache' writer may have left records in the page
    // cache only. The new writer starts out counting everything recovered as durable, so make it so.
    if (!readOnly) await files.fdatasync(fd)
    keepOpen = !readOnly
    const report: RecoveryReport = {
      segments: segments.length,
      tailSegment: ref.path,
      scannedBytes: scan.fileSize,
      truncatedBytes: scan.fileSize - scan.validEnd,
      truncatedAt: scan.verdict === 'torn' && !readOnly ? scan.validEnd : null,
      reason: scan.problem?.reason ?? null,
      problemCode: scan.problem?.code ?? null,
      cutFile,
      removedSegments: removed,
      lastSeq: scan.lastSeq,
      durationMs: performance.now() - started,
    }
    logger.info('recovered', { ...report })
    return {
      segments,
      tail: {
        ref,
        fd: readOnly ? -1 : fd,
        header,
        damage,
        validEnd: scan.validEnd,
        lastSeq: scan.lastSeq,
        boundaries: scan.boundaries,
      },
      report,
    }
  } catch (err) {
    if (err instanceof WalError) throw err
    throw WalError.IO(`recovering ${ref.path} failed`, { cause: err, file: ref.path })
  } finally {
    if (!keepOpen) await files.close(fd).catch(() => {})
  }
}

function emptyReport(lastSeq: number, removed: string[], durationMs: number): RecoveryReport {
  return {
    segments: 0,
    tailSegment: null,
    scannedBytes: 0,
    truncatedBytes: 0,
    truncatedAt: null,
    reason: null,
    problemCode: null,
    cutFile: null,
    removedSegments: removed,
    lastSeq,
    durationMs,
  }
}

/** Removes segment files whose creation a crash cut short: their headers never reached their names. */
async function removeUnfinished(
  files: Files,
  dir: string,
  unfinished: readonly string[],
  logger: WalLogger,
): Promise<void> {
  if (unfinished.length === 0) return
  try {
    for (const path of unfinished) {
      logger.warn('removing an unfinished segment creation (it holds no records)', { file: path })
      await files.unlink(path)
    }
    await files.syncDir(dir)
  } catch (err) {
    throw WalError.IO(`removing unfinished segment files in ${dir} failed`, {
      cause: err,
      file: dir,
    })
  }
}

/**
 * Removes seek files nothing will read (a seek file is a cache: no directory fsync; a failure is
 * only logged, the open goes on).
 */
async function removeStaleSeekFiles(
  files: Files,
  stale: readonly string[],
  logger: WalLogger,
): Promise<void> {
  for (const path of stale) {
    await files.unlink(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT')
        logger.warn('cannot remove a stale seek file', { file: path, error: err.message })
    })
  }
}

/**
 * Copies the torn tail `[validEnd, fileSize)` into a side file in the directory (durably), then cuts
 * it off the segment: what recovery cuts is never just discarded.
 *
 * @returns the side file's path
 */
async function cutTornTail(
  files: Files,
  dir: string,
  fd: Fd,
  ref: SegmentRef,
  validEnd: number,
  fileSize: number,
): Promise<string> {
  const bytes = Buffer.allocUnsafe(fileSize - validEnd)
  let filled = 0
  while (filled < bytes.length) {
    const n = await files.read(fd, bytes, filled, bytes.length - filled, validEnd + filled)
    if (n === 0) break
    filled += n
  }
  const cutFile = join(dir, `${basename(ref.path)}.cut-${validEnd}-${Date.now()}`)
  const out = await files.open(cutFile, 'wx')
  try {
    await files.write(out, bytes, 0, filled, 0)
    await files.fdatasync(out)
  } finally {
    await files.close(out)
  }
  await files.syncDir(dir)
  await files.ftruncate(fd, validEnd)
  return cutFile
}
