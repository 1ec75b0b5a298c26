/**
 * The store's own small files (index tables, checkpoints): durable renames and directory fsyncs.
 *
 * @internal
 */
import { randomBytes } from 'node:crypto'
import { open, rename, unlink } from 'node:fs/promises'
import { EventStoreError } from './errors.js'

/**
 * fsyncs a directory, so that a rename or unlink in it survives power loss.
 *
 * @param dir - the directory
 * @throws EventStoreError `EVENTSTORE_IO`
 */
export async function syncDir(dir: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>> | undefined
  try {
    handle = await open(dir, 'r')
    await handle.sync()
  } catch (err) {
    throw EventStoreError.IO(`fsync of directory ${dir} failed`, { file: dir, cause: err })
  } finally {
    await handle?.close().catch(() => {})
  }
}

/**
 * Writes `bytes` to `path` atomically and durably: a temp file beside it is written and fdatasync'ed,
 * renamed onto `path`, and the directory is fsync'ed. After a crash, `path` holds either its old or
 * its new contents, whole.
 *
 * @param dir - the directory holding `path`
 * @param path - the final path
 * @param bytes - the complete contents
 * @throws EventStoreError `EVENTSTORE_IO`
 */
export async function writeFileAtomic(dir: string, path: string, bytes: Uint8Array): Promise<void> {
  const temp = `${path}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`
  try {
    const handle = await open(temp, 'wx', 0o600)
    try {
      await handle.writeFile(bytes)
      await handle.datasync()
    } finally {
      await handle.close()
    }
    await rename(temp, path)
  } catch (err) {
    await unlink(temp).catch(() => {})
    throw EventStoreError.IO(`writing ${path} failed`, { file: path, cause: err })
  }
  await syncDir(dir)
}
