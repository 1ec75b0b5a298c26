import { open, readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { CliError, EXIT } from './errors.js'

/** A segment file of a WAL directory, by name. */
export interface SegmentFile {
  readonly path: string
  readonly firstSeq: number
  readonly size: number
}

const SEGMENT_NAME = /^(\d{20})\.wal$/

/**
 * Checks that `dir` is a WAL directory (exists, is a directory, holds at least one segment file) and
 * lists its segments in seq order.
 *
 * @param dir - the directory given on the command line
 * @returns the segments
 * @throws CliError exit code 3 (`NOT_FOUND`, `NOT_A_WAL`) or 5
 */
export async function walSegments(dir: string): Promise<SegmentFile[]> {
  let names: string[]
  try {
    const info = await stat(dir)
    if (!info.isDirectory()) throw new CliError(EXIT.notWal, 'NOT_A_WAL', `${dir} is not a directory`)
    names = await readdir(dir)
  } catch (err) {
    if (err instanceof CliError) throw err
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new CliError(EXIT.notWal, 'NOT_FOUND', `${dir} does not exist`)
    if (code === 'ENOTDIR') throw new CliError(EXIT.notWal, 'NOT_A_WAL', `${dir} is not a directory`)
    throw new CliError(EXIT.error, code ?? 'IO', `cannot read ${dir}: ${(err as Error).message}`)
  }
  const segments: SegmentFile[] = []
  for (const name of names) {
    const match = SEGMENT_NAME.exec(name)
    if (match === null) continue
    const path = join(dir, name)
    const info = await stat(path)
    if (info.isFile()) segments.push({ path, firstSeq: Number(match[1]), size: info.size })
  }
  if (segments.length === 0) {
    const what = names.length === 0 ? 'is empty' : `holds no segment files (${names.length} other entries)`
    throw new CliError(EXIT.notWal, 'NOT_A_WAL', `${dir} ${what}: not a waltz log directory`)
  }
  return segments.sort((a, b) => a.firstSeq - b.firstSeq)
}

/**
 * The serializer name in a segment header (see docs/FORMAT.md), or undefined when the header is not
 * valid (a segment being created, or damage: `verify` reports that).
 *
 * @param path - the segment file
 * @returns the name stored in the header
 */
export async function headerSerializerName(path: string): Promise<string | undefined> {
  const handle = await open(path, 'r')
  try {
    const buf = Buffer.alloc(25 + 255)
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0)
    if (bytesRead < 26 || buf.toString('latin1', 0, 4) !== 'WLTZ') return undefined
    const length = buf[24]!
    if (25 + length > bytesRead) return undefined
    return buf.toString('utf8', 25, 25 + length)
  } finally {
    await handle.close()
  }
}

/**
 * The serializer name of a log: from the newest segment with a readable header.
 *
 * @param segments - from {@link walSegments}
 * @returns the name
 * @throws CliError `NOT_A_WAL` when no segment has a readable header
 */
export async function logSerializerName(segments: readonly SegmentFile[]): Promise<string> {
  for (let i = segments.length - 1; i >= 0; i--) {
    const name = await headerSerializerName(segments[i]!.path)
    if (name !== undefined) return name
  }
  throw new CliError(EXIT.notWal, 'NOT_A_WAL', 'no segment has a valid waltz header')
}
