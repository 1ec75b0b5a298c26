/**
 * Downloads one archived segment to a file, streamed (never whole in memory), and checks it: the
 * size the archive listed and reported, the SHA-256 recorded when it was archived (when the archive
 * records one), then every frame with core's scanner (`@waltz/core/inspect`'s `scanLog`, as
 * `waltz verify` uses it), which also checks that the header's first seq is the name's.
 */
import { createHash } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { rm } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import type { Archive } from '@waltz/core'
import { scanLog } from '@waltz/core/inspect'
import { archiveFailure } from './archive-failure.js'
import type { ListedSegment } from './archive-listing.js'

/** One thing wrong with a downloaded segment. */
export interface SegmentProblem {
  /** `missing`, `size`, `sha256`, or the scanner's problem code (docs/FORMAT.md). */
  readonly code: string
  /** Where in the file, for the scanner's problems. */
  readonly offset: number | undefined
  readonly reason: string
}

/** What the download and its checks found. */
export interface CheckedSegment {
  readonly name: string
  /** From the name. */
  readonly firstSeq: number
  /** The last seq of its last committed batch, from the scan (firstSeq − 1 when it holds none). */
  readonly lastSeq: number
  /** Valid records read. */
  readonly records: number
  /** Bytes downloaded. */
  readonly size: number
  /** SHA-256 of the bytes downloaded. */
  readonly sha256: string
  /** Whether the archive recorded a SHA-256 that the bytes were checked against. */
  readonly sha256Recorded: boolean
  /** From the segment header (null when it is unreadable). */
  readonly serializerName: string | null
  /** Whether the scanner judged every frame valid (then `lastSeq` is the segment's real end). */
  readonly framesValid: boolean
  /** Empty when the segment is intact. */
  readonly problems: readonly SegmentProblem[]
  /** The downloaded file; undefined when the archive no longer holds the segment. */
  readonly path: string | undefined
}

/**
 * Downloads `segment` into `dir` under its own name and checks it (see the module comment).
 *
 * @param archive - where it is
 * @param segment - which, as listed
 * @param dir - an existing directory holding no other segment file (the scanner reads them all)
 * @param signal - aborts the download
 * @param onBytes - told of every chunk written (progress)
 * @returns the checks' results and the file; the caller removes or keeps it
 * @throws CliError from {@link archiveFailure} when the archive fails the request or the file cannot be
 *   written; WalError `WAL_IO` when it cannot be read back
 */
export async function downloadSegment(
  archive: Archive,
  segment: ListedSegment,
  dir: string,
  signal: AbortSignal,
  onBytes: (bytes: number) => void,
): Promise<CheckedSegment> {
  const action = `downloading ${segment.name}`
  const base = { name: segment.name, firstSeq: segment.firstSeq, lastSeq: segment.firstSeq - 1, records: 0 }
  let download: Awaited<ReturnType<Archive['get']>>
  try {
    download = await archive.get(segment.name, signal)
  } catch (err) {
    throw archiveFailure(err, archive.name, action)
  }
  if (download === undefined) {
    const reason = 'listed, but the archive no longer holds it'
    return {
      ...base,
      size: 0,
      sha256: '',
      sha256Recorded: false,
      serializerName: null,
      framesValid: false,
      problems: [{ code: 'missing', offset: undefined, reason }],
      path: undefined,
    }
  }
  const path = join(dir, segment.name)
  const hash = createHash('sha256')
  let size = 0
  try {
    await pipeline(
      download.body,
      async function* (source: AsyncIterable<Uint8Array>) {
        for await (const chunk of source) {
          hash.update(chunk)
          size += chunk.byteLength
          onBytes(chunk.byteLength)
          yield chunk
        }
      },
      // `flush`: the file is on disk before `archive fetch` renames it into place.
      createWriteStream(path, { flags: 'wx', flush: true }),
      { signal },
    )
  } catch (err) {
    await rm(path, { force: true })
    throw archiveFailure(err, archive.name, action)
  }
  const sha256 = hash.digest('hex')
  const problems: SegmentProblem[] = []
  const problem = (code: string, reason: string, offset?: number) => problems.push({ code, offset, reason })
  if (download.size >= 0 && size !== download.size) {
    problem('size', `${size} bytes downloaded, the archive reported ${download.size}`)
  } else if (size !== segment.size) {
    problem('size', `${size} bytes downloaded, listed as ${segment.size}`)
  }
  if (download.sha256 !== undefined && download.sha256 !== sha256) {
    problem(
      'sha256',
      `SHA-256 ${sha256} of the bytes is not ${download.sha256}, recorded when it was archived`,
    )
  }
  const scan = (await scanLog(dir)).segments.find((s) => basename(s.file) === segment.name)
  if (scan === undefined) throw new Error(`${path} was not found by the scan of ${dir}`)
  if (scan.verdict !== 'clean') {
    const { code = scan.verdict, offset = 0, reason = `judged ${scan.verdict}` } = scan.problem ?? {}
    // The scanner calls a cut-short end of the newest segment torn; an archived segment is sealed.
    const sealed = scan.verdict === 'torn' ? ' (cut short: an archived segment is sealed, it cannot be)' : ''
    problem(code, `${reason}${sealed}`, offset)
  }
  return {
    ...base,
    lastSeq: scan.lastSeq,
    records: scan.frames,
    size,
    sha256,
    sha256Recorded: download.sha256 !== undefined,
    serializerName: scan.serializerName,
    framesValid: scan.verdict === 'clean',
    problems,
    path,
  }
}

/**
 * One line on a problem: `CORRUPT  <name> offset 4242 [frame-checksum]: frame checksum mismatch`,
 * `SHA256   <name>: …`.
 *
 * @param name - the segment
 * @param problem - what is wrong with it
 */
export function describeSegmentProblem(name: string, problem: SegmentProblem): string {
  if (problem.offset !== undefined) {
    return `CORRUPT  ${name} offset ${problem.offset} [${problem.code}]: ${problem.reason}`
  }
  return `${problem.code.toUpperCase().padEnd(8)} ${name}: ${problem.reason}`
}
