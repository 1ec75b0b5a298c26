import { randomBytes } from 'node:crypto'
import { open, readdir, rename, unlink } from 'node:fs/promises'
import { SnapshotError } from './errors.js'

/** Suffix of the temp files a snapshot is written to before it is renamed into place. */
export const TEMP_SUFFIX = '.tmp'

function ioError(what: string, file: string, cause: unknown): SnapshotError {
  return SnapshotError.IO(`${what} ${file} failed`, { file, cause })
}

/**
 * fsyncs a directory, so that a rename or unlink in it survives power loss.
 *
 * @param dir - the directory
 * @throws SnapshotError `SNAPSHOT_IO`
 */
export async function syncDir(dir: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>> | undefined
  try {
    handle = await open(dir, 'r')
    await handle.sync()
  } catch (err) {
    throw ioError('fsync of directory', dir, err)
  } finally {
    await handle?.close().catch(() => {})
  }
}

/**
 * Writes `bytes` to `path` atomically and durably: a temp file beside it (`<path>.<pid>-<random>.tmp`)
 * is written and fsynced, renamed onto `path`, then the directory is fsynced. A crash at any point
 * leaves `path` either absent, as it was, or complete; at worst a temp file is left behind.
 *
 * @param dir - the directory holding `path`
 * @param path - the final path
 * @param bytes - the complete contents
 * @throws SnapshotError `SNAPSHOT_IO` (the temp file is removed when possible)
 */
export async function writeFileAtomic(dir: string, path: string, bytes: Uint8Array): Promise<void> {
  const temp = `${path}.${process.pid}-${randomBytes(4).toString('hex')}${TEMP_SUFFIX}`
  try {
    const handle = await open(temp, 'wx')
    try {
      await handle.writeFile(bytes)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(temp, path)
  } catch (err) {
    await unlink(temp).catch(() => {})
    throw ioError('writing', path, err)
  }
  await syncDir(dir)
}

/**
 * Lists a directory's entry names.
 *
 * @param dir - the directory
 * @returns the names
 * @throws SnapshotError `SNAPSHOT_IO`
 */
export async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir)
  } catch (err) {
    throw ioError('listing', dir, err)
  }
}

/**
 * Removes files, then fsyncs their directory once. A file already gone counts as removed.
 *
 * @param dir - the directory holding the files
 * @param paths - the files
 * @throws SnapshotError `SNAPSHOT_IO`
 */
export async function removeFiles(dir: string, paths: readonly string[]): Promise<void> {
  if (paths.length === 0) return
  for (const path of paths) {
    try {
      await unlink(path)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError('removing', path, err)
    }
  }
  await syncDir(dir)
}

/**
 * Renames a file within `dir`, then fsyncs `dir`.
 *
 * @param dir - the directory holding both names
 * @param from - the current path
 * @param to - the new path
 * @throws SnapshotError `SNAPSHOT_IO`
 */
export async function renameDurably(dir: string, from: string, to: string): Promise<void> {
  try {
    await rename(from, to)
  } catch (err) {
    throw ioError('renaming', from, err)
  }
  await syncDir(dir)
}
