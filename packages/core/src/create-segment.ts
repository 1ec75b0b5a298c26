/**
 * Creating a segment file so that a short or damaged header under a segment's final name can only be
 * damage, never an unfinished creation: the header is written to `<name>.tmp`, fdatasync'ed, renamed
 * into place, and the directory fsync'ed, all before any frame is written.
 *
 * @internal
 */
import { join } from 'node:path'
import type { Fd, Files } from './files.js'
import { encodeSegmentHeader, SEGMENT_TEMP_SUFFIX, segmentFileName } from './format.js'
import type { SegmentRef } from './scanner.js'

/** The segment being appended to. */
export interface ActiveSegment {
  ref: SegmentRef
  fd: Fd
  /** Bytes in the file (where the next write goes). */
  size: number
  createdAt: number
  headerSize: number
}

/** What {@link createSegment} needs. */
export interface CreateSegmentOptions {
  files: Files
  dir: string
  serializerName: string
  fileMode: number
}

/**
 * Creates a segment file with its header, durably (see the module comment).
 *
 * @param options - files, directory, serializer name, file mode
 * @param firstSeq - the seq its first frame will carry
 * @param createdAt - creation time, ms since the epoch
 * @returns the open segment, positioned after its header
 */
export async function createSegment(
  options: CreateSegmentOptions,
  firstSeq: number,
  createdAt: number,
): Promise<ActiveSegment> {
  const { files, dir } = options
  const path = join(dir, segmentFileName(firstSeq))
  const temp = path + SEGMENT_TEMP_SUFFIX
  const header = encodeSegmentHeader(firstSeq, createdAt, options.serializerName)
  // A temp file left by a crash in an earlier creation holds no records: start it afresh.
  await files.unlink(temp).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err
  })
  const fd = await files.open(temp, 'wx', options.fileMode)
  try {
    await files.write(fd, header, 0, header.length, 0)
    await files.fdatasync(fd)
    await files.rename(temp, path)
    await files.syncDir(dir)
  } catch (err) {
    await files.close(fd).catch(() => {})
    throw err
  }
  return { ref: { firstSeq, path }, fd, size: header.length, createdAt, headerSize: header.length }
}
