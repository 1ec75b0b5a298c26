/**
 * Segment-level access for operators' tools (the `waltz` CLI): scan every segment without a
 * serializer and judge it, and repair a damaged log. Exported as `@waltz/core/inspect`; applications
 * use `Wal` and `Wal.openReader` (which also read any log without its serializer).
 */
import { basename, dirname, join } from 'node:path'
import { WalError } from './errors.js'
import { type Files, nodeFiles } from './files.js'
import { acquireLock, type LockOwner, readLock } from './lock.js'
import { WAL_DEFAULTS } from './options.js'

export type { ScanProblemCode, Verdict } from './scanner.js'

import { listSegments, type ScanProblemCode, type SegmentRef, scanSegment, type Verdict } from './scanner.js'
import { seekFileName } from './seek-file.js'

/** What a scan found in one segment file. */
export interface SegmentReport {
  /** The segment's path. */
  readonly file: string
  /** First seq, from the file name. */
  readonly firstSeq: number
  /** Last seq of the last committed batch (firstSeq − 1 when it holds none). */
  readonly lastSeq: number
  /** Valid frames read. */
  readonly frames: number
  /** File size in bytes. */
  readonly size: number
  /** End of the last committed batch: bytes after it are a torn tail or corruption. */
  readonly validEnd: number
  /** Creation time from the header (ms since the epoch), or null when the header is bad. */
  readonly createdAt: number | null
  /** Serializer name from the header, or null when the header is bad. */
  readonly serializerName: string | null
  /** Whether this is the newest segment (the only one that may legitimately end torn). */
  readonly newest: boolean
  /**
   * The scanner's verdict: `clean`; `torn` (an incomplete final write of the newest segment, which a
   * writer's open cuts); or `corrupt` (anything else: nothing may be cut).
   */
  readonly verdict: Verdict
  /** The first problem found, if any. */
  readonly problem: {
    /** Stable code of the problem (see docs/FORMAT.md). */
    readonly code: ScanProblemCode
    /** The byte offset where the problem starts. */
    readonly offset: number
    /** What is wrong. */
    readonly reason: string
    /**
     * An intact record longer than the `maxRecordSize` given: the log was written with a larger one
     * (not corruption); scan again with that.
     */
    readonly oversize: boolean
  } | null
}

/** The result of {@link scanLog}. */
export interface LogReport {
  /** The WAL directory scanned. */
  readonly dir: string
  /** One report per segment file, oldest first. */
  readonly segments: readonly SegmentReport[]
  /** The writer lock, if a lock file exists. */
  readonly lock:
    | {
        /** The owner written in the lock file, or undefined when it cannot be parsed. */
        owner: LockOwner | undefined
        /** Whether that owner is still running. */
        alive: boolean
      }
    | undefined
  /**
   * Problems that are corruption: every segment whose verdict is `corrupt`, and seq gaps between
   * segments. A torn tail of the newest segment is not listed here (see its `problem`): a writer's
   * open cuts it.
   */
  readonly corruption: readonly {
    /** The segment file. */
    file: string
    /** The byte offset in `file` where the problem starts. */
    offset: number
    /** Stable code of the problem. */
    code: ScanProblemCode
    /** What is wrong. */
    reason: string
  }[]
}

/** Options of {@link scanLog} and {@link repairLog}. */
export interface InspectOptions {
  /** The largest legal record body (default as in `Wal.open`). */
  maxRecordSize?: number
  /** Called after each segment is scanned (progress reporting). */
  onSegment?: (report: SegmentReport, index: number, total: number) => void
  /** @internal */
  files?: Files
}

async function reportSegment(
  files: Files,
  ref: SegmentRef,
  newest: boolean,
  maxRecordSize: number,
): Promise<SegmentReport> {
  const fd = await files.open(ref.path, 'r')
  try {
    const scan = await scanSegment(files, fd, ref, { maxRecordSize, newest })
    const p = scan.problem
    return {
      file: ref.path,
      firstSeq: ref.firstSeq,
      lastSeq: scan.lastSeq,
      frames: scan.frames,
      size: scan.fileSize,
      validEnd: scan.validEnd,
      createdAt: scan.header?.createdAt ?? null,
      serializerName: scan.header?.serializerName ?? null,
      newest,
      verdict: scan.verdict,
      problem:
        p === null
          ? null
          : { code: p.code, offset: p.offset, reason: p.reason, oversize: p.code === 'record-too-large' },
    }
  } finally {
    await files.close(fd)
  }
}

/**
 * Validates every frame of every segment (read-only, no lock; safe on a live log) and gives each
 * segment the scanner's verdict.
 *
 * @param dir - the WAL directory
 * @param options - `maxRecordSize`, `onSegment` for progress
 * @returns a report per segment and the list of corruption found
 * @throws WalError `WAL_IO` when the directory or a file cannot be read
 */
export async function scanLog(dir: string, options: InspectOptions = {}): Promise<LogReport> {
  const files = options.files ?? nodeFiles
  const maxRecordSize = options.maxRecordSize ?? WAL_DEFAULTS.maxRecordSize
  try {
    const { segments: refs } = await listSegments(files, dir)
    const segments: SegmentReport[] = []
    const corruption: LogReport['corruption'][number][] = []
    for (let i = 0; i < refs.length; i++) {
      const report = await reportSegment(files, refs[i]!, i === refs.length - 1, maxRecordSize)
      const previous = segments[segments.length - 1]
      if (previous && report.firstSeq !== previous.lastSeq + 1 && previous.verdict === 'clean') {
        corruption.push({
          file: report.file,
          offset: 0,
          code: 'seq-gap',
          reason: `seq gap: the previous segment ends at ${previous.lastSeq}, this one starts at ${report.firstSeq}`,
        })
      }
      if (report.verdict === 'corrupt' && report.problem) {
        const { offset, code, reason } = report.problem
        corruption.push({ file: report.file, offset, code, reason })
      }
      segments.push(report)
      options.onSegment?.(report, i, refs.length)
    }
    return { dir, segments, lock: readLock(dir), corruption }
  } catch (err) {
    if (err instanceof WalError) throw err
    throw WalError.IO(`cannot scan ${dir}`, { cause: err, file: dir })
  }
}

/** What {@link repairLog} found to drop, and what it did. */
export interface RepairPlan {
  /** The segment where valid data ends, or null when the log is clean. */
  readonly cutFile: string | null
  /** Offset in `cutFile` where it is cut. */
  readonly cutOffset: number
  /** Why: the first problem found. */
  readonly reason: string | null
  /** Bytes dropped from `cutFile`. */
  readonly droppedBytes: number
  /** Later segments removed whole. */
  readonly droppedSegments: readonly string[]
  /** The last seq that remains. */
  readonly lastSeqAfter: number
  /** Where copies of everything dropped were saved (when applied). */
  readonly backupDir: string | null
  /** Whether the plan was carried out. */
  readonly applied: boolean
}

/**
 * Cuts a damaged log back to its longest valid prefix: the first invalid frame (torn tail or
 * corruption) and everything after it, including later segments. With `apply: false` (the default)
 * it only reports what would be dropped. When applied, it takes the writer lock and first copies every
 * dropped byte into `<dir>/repair-<time>/`.
 *
 * @param dir - the WAL directory
 * @param options - `apply` to carry it out
 * @returns the plan, and whether it was applied
 * @throws WalError `WAL_LOCKED` (a writer has the log open), `WAL_IO`
 */
export async function repairLog(
  dir: string,
  options: InspectOptions & { apply?: boolean } = {},
): Promise<RepairPlan> {
  // When applying, hold the writer lock from before the scan, so the plan matches the files it cuts.
  const lock = options.apply ? acquireLock(dir, WAL_DEFAULTS.fileMode) : undefined
  try {
    return await planAndRepair(dir, options)
  } finally {
    lock?.release()
  }
}

async function planAndRepair(
  dir: string,
  options: InspectOptions & { apply?: boolean },
): Promise<RepairPlan> {
  const report = await scanLog(dir, options)
  const oversize = report.segments.find((s) => s.problem?.oversize)
  if (oversize) {
    throw WalError.RECORD_TOO_LARGE(
      `${oversize.file}: ${oversize.problem!.reason}; repair with that maxRecordSize instead of cutting`,
      { file: oversize.file, offset: oversize.problem!.offset },
    )
  }
  // A segment of another format version is not damage: a build that reads it must repair it.
  const foreign = report.segments.find((s) => s.problem?.code === 'header-version')
  if (foreign) {
    throw WalError.FORMAT_UNSUPPORTED(`${foreign.file}: ${foreign.problem!.reason}; not repairing`, {
      file: foreign.file,
      offset: 0,
    })
  }
  const cutIndex = report.segments.findIndex(
    (s, i) => s.problem !== null || (i > 0 && s.firstSeq !== report.segments[i - 1]!.lastSeq + 1),
  )
  if (cutIndex < 0) {
    const last = report.segments[report.segments.length - 1]
    return {
      cutFile: null,
      cutOffset: 0,
      reason: null,
      droppedBytes: 0,
      droppedSegments: [],
      lastSeqAfter: last?.lastSeq ?? 0,
      backupDir: null,
      applied: false,
    }
  }
  const gap = report.segments[cutIndex]!.problem === null
  // A seq gap before segment i: keep everything before it, drop it and the rest.
  const cut = gap ? report.segments[cutIndex - 1]! : report.segments[cutIndex]!
  const cutOffset = gap ? cut.size : cut.validEnd
  const dropped = report.segments.slice(gap ? cutIndex : cutIndex + 1).map((s) => s.file)
  // A segment cut before its first frame keeps no header-only stub if its header was bad.
  const removeCut = !gap && cut.createdAt === null
  const plan = {
    cutFile: cut.file,
    cutOffset: removeCut ? 0 : cutOffset,
    reason: gap ? `seq gap after ${cut.file}` : cut.problem!.reason,
    droppedBytes: cut.size - (removeCut ? 0 : cutOffset),
    droppedSegments: removeCut ? [cut.file, ...dropped] : dropped,
    lastSeqAfter: removeCut ? cut.firstSeq - 1 : cut.lastSeq,
    backupDir: null as string | null,
    applied: false,
  }
  if (!options.apply) return plan
  try {
    const files = options.files ?? nodeFiles
    const backupDir = join(dir, `repair-${new Date().toISOString().replace(/[:.]/g, '-')}`)
    await files.mkdir(backupDir)
    // The copies are durable before anything is removed.
    for (const file of plan.droppedSegments)
      await writeDurably(files, join(backupDir, basename(file)), await files.readFile(file))
    if (!removeCut) {
      const tail = (await files.readFile(cut.file)).subarray(cutOffset)
      await writeDurably(files, join(backupDir, `${basename(cut.file)}.from-${cutOffset}`), tail)
    }
    await files.syncDir(backupDir)
    await files.syncDir(dir)
    // Seek files of the segments cut or dropped describe frames that will be gone: removed first (a
    // seek file is a cache; one left by a crash here fails its binding or its frame checks).
    for (const file of [cut.file, ...dropped]) {
      await files.unlink(seekFilePathOf(file)).catch(() => {})
    }
    // Newest first, so a crash midway leaves a log that is a prefix of the original.
    for (const file of [...plan.droppedSegments].reverse()) {
      await files.unlink(file)
      await files.syncDir(dir)
    }
    if (!removeCut && cut.size > cutOffset) {
      const fd = await files.open(cut.file, 'r+')
      try {
        await files.ftruncate(fd, cutOffset)
        await files.fdatasync(fd)
      } finally {
        await files.close(fd)
      }
    }
    return { ...plan, backupDir, applied: true }
  } catch (err) {
    if (err instanceof WalError) throw err
    throw WalError.IO(`repairing ${dir} failed`, { cause: err, file: dir })
  }
}

/** The seek file of segment file `path`. */
function seekFilePathOf(path: string): string {
  return join(dirname(path), seekFileName(Number(basename(path).slice(0, 20))))
}

async function writeDurably(files: Files, path: string, content: Uint8Array): Promise<void> {
  const fd = await files.open(path, 'wx', WAL_DEFAULTS.fileMode)
  try {
    await files.write(fd, content, 0, content.byteLength, 0)
    await files.fdatasync(fd)
  } finally {
    await files.close(fd)
  }
}
