/**
 * The default checkpoint store of consumers: one small file per consumer,
 * `<store>/consumers/<name>.ckpt`, replaced atomically (temp file, fdatasync, rename, directory fsync)
 * and checksummed:
 *
 * ```
 * 0  magic "WZCK" (u32 LE)   4  version (u16)   6  zero (u16)
 * 8  position (u48 LE, 2 zero bytes)             16 CRC-32 of bytes 0..15 (u32)   total 20 bytes
 * ```
 */
import { mkdir, readdir, readFile, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import { EventStoreError } from './errors.js'
import { writeFileAtomic } from './files.js'

const MAGIC = 0x4b43_5a57 // "WZCK" little-endian
const VERSION = 1
const SIZE = 20
const NAME = /^[A-Za-z0-9._-]{1,128}$/

/**
 * Where a consumer keeps its position: the last position it handled (0 before any).
 * `read` returns undefined when the consumer has never stored one.
 */
export interface CheckpointStore {
  /** The stored position of consumer `name`, or undefined when none was stored. */
  read(name: string): Promise<number | undefined> | number | undefined
  /** Stores the position of consumer `name` (called after each handled batch). */
  store(name: string, position: number): Promise<void> | void
  /**
   * Optional: runs a batch's handler and the `store` of its checkpoint as one unit, e.g. one database
   * transaction, so a projection's rows and its checkpoint commit together (an exactly-once effect).
   * Without it the handler runs, then `store`: at-least-once.
   */
  transaction?(work: () => Promise<void>): Promise<void>
}

/** Checks a consumer name usable as a file name. */
export function checkConsumerName(name: unknown): string {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw EventStoreError.INVALID_ARGUMENT(
      `a consumer name must be 1-128 characters of A-Z a-z 0-9 . _ -, got ${String(name)}`,
    )
  }
  return name
}

/** Encodes a checkpoint file. */
export function encodeCheckpoint(position: number): Buffer {
  const b = Buffer.alloc(SIZE)
  b.writeUInt32LE(MAGIC, 0)
  b.writeUInt16LE(VERSION, 4)
  b.writeUIntLE(position, 8, 6)
  b.writeUInt32LE(crc32(b.subarray(0, 16)), 16)
  return b
}

/**
 * Decodes a checkpoint file.
 *
 * @throws EventStoreError `CHECKPOINT_CORRUPT`
 */
export function decodeCheckpoint(bytes: Buffer, file: string): number {
  if (bytes.length !== SIZE)
    throw EventStoreError.CHECKPOINT_CORRUPT(`${file}: ${bytes.length} bytes, expected ${SIZE}`, { file })
  if (bytes.readUInt32LE(0) !== MAGIC)
    throw EventStoreError.CHECKPOINT_CORRUPT(`${file}: bad magic`, { file })
  if (bytes.readUInt32LE(16) !== crc32(bytes.subarray(0, 16))) {
    throw EventStoreError.CHECKPOINT_CORRUPT(`${file}: checksum mismatch`, { file })
  }
  const version = bytes.readUInt16LE(4)
  if (version !== VERSION) throw EventStoreError.CHECKPOINT_CORRUPT(`${file}: version ${version}`, { file })
  return bytes.readUIntLE(8, 6)
}

/** The default checkpoint store: a {@link CheckpointStore} of files, which can also remove one. */
export interface FileCheckpointStore extends CheckpointStore {
  /** Removes the checkpoint of consumer `name` (it then starts from its `from` again). */
  remove(name: string): Promise<void>
}

/**
 * The default {@link CheckpointStore}: files in `dir`.
 *
 * @param dir - the directory (created on first store)
 * @returns the checkpoint store
 */
export function fileCheckpoints(dir: string): FileCheckpointStore {
  const path = (name: string) => join(dir, `${checkConsumerName(name)}.ckpt`)
  return {
    async read(name) {
      const file = path(name)
      await removeTempFiles(dir, `${checkConsumerName(name)}.ckpt.`)
      let bytes: Buffer
      try {
        bytes = await readFile(file)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
        throw EventStoreError.IO(`reading ${file} failed`, { file, cause: err })
      }
      return decodeCheckpoint(bytes, file)
    },
    async store(name, position) {
      try {
        await mkdir(dir, { recursive: true })
      } catch (err) {
        throw EventStoreError.IO(`creating ${dir} failed`, { file: dir, cause: err })
      }
      await writeFileAtomic(dir, path(name), encodeCheckpoint(position))
    },
    async remove(name) {
      await unlink(path(name)).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw EventStoreError.IO(`removing ${path(name)} failed`, { cause: err })
      })
    },
  }
}

/** Removes the temp files an interrupted checkpoint write left (`<name>.ckpt.<pid>-<hex>.tmp`). */
async function removeTempFiles(dir: string, prefix: string): Promise<void> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return // no directory yet: nothing was ever stored
  }
  for (const n of names) {
    if (n.startsWith(prefix) && n.endsWith('.tmp')) await unlink(join(dir, n)).catch(() => {})
  }
}
