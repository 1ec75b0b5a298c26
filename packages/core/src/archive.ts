/**
 * Tiered storage, first step: sealed segments are copied to an {@link Archive} (a bucket, a mounted
 * directory) in the background, each copy verified (size and SHA-256) before the segment counts as
 * archived; retention removes a segment locally only once it is archived. The uploader keeps no state
 * of its own: after a crash or restart it asks the archive what it holds, so it resumes where it was,
 * and a segment is stored under its own name, so never twice. Reads of segments that exist only in
 * the archive go through `archive-cache.ts`.
 *
 * An encrypted log's key store goes to the archive too, as `keys.wzk` in its sealed form (data keys
 * sealed by the KEK, the KEK wrapped by the master key), so that fetched segments can be read with the
 * keyring: before each segment when it changed since its last upload (every key a sealed segment's
 * records use was made durable before the segment was sealed, so a copy taken then covers it), and at
 * once after a shred or a master-key rotation, replacing the copy that still holds the shredded key
 * (or the KEK wrapped by the old master key). A segment counts as archived only once a key store
 * covering it is.
 *
 * @internal
 */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import {
  copyFile,
  type FileHandle,
  mkdir,
  open,
  readdir,
  rename,
  stat,
  unlink,
  writeFile,
} from 'node:fs/promises'
import { basename, join } from 'node:path'
import { nodeFiles } from './files.js'
import { parseSegmentFileName } from './format.js'
import { encodeEntry, KEY_STORE_FILE, type KeyStore } from './key-store.js'
import type { LogState } from './log-state.js'
import type { WalLogger } from './logger.js'
import type { SegmentRef } from './scanner.js'

/**
 * A file as an archive stores it: its name, size and SHA-256 (hex). A segment, or `keys.wzk`, the key
 * store of an encrypted log.
 */
export interface ArchivedSegment {
  /** The file name: a segment's, e.g. `00000000000000000001.wal`, or `keys.wzk`. */
  readonly name: string
  /** Bytes. */
  readonly size: number
  /** SHA-256 of the bytes, lowercase hex. */
  readonly sha256: string
}

/** A segment as an archive lists it. */
export interface ArchiveEntry {
  /** The segment's file name, e.g. `00000000000000000001.wal`. */
  readonly name: string
  /** Bytes stored. */
  readonly size: number
}

/** The stored bytes of one archived segment, as {@link Archive.get} streams them. */
export interface ArchiveDownload {
  /** Bytes stored. */
  readonly size: number
  /**
   * The SHA-256 (lowercase hex) the segment had when it was archived, when the archive records it
   * apart from the bytes (an S3 object's metadata): the bytes read are checked against it. Either way
   * every frame is checked against its own checksum as it is read.
   */
  readonly sha256: string | undefined
  /** The bytes, in order. */
  readonly body: AsyncIterable<Uint8Array>
}

/**
 * Where sealed segments are copied: `@waltz/archive-s3`'s `s3Archive`, or {@link directoryArchive}.
 * Implementations must store a segment under its name atomically (a reader of the archive never sees a
 * partial copy) and idempotently (a second put of the same segment replaces the first). An encrypted
 * log also puts its key store under the name `keys.wzk` (`put`, `stat` and `get` are called with it),
 * replacing it after a shred: a store that keeps old versions of an object (a versioned bucket) keeps
 * shredded keys in them, sealed, until those versions expire.
 */
export interface Archive {
  /** What logs and errors call it, e.g. `s3://bucket/prefix`. */
  readonly name: string
  /**
   * Stores the sealed segment file at `path`.
   *
   * @param segment - its name, size and SHA-256 (computed from the file by the caller)
   * @param path - the file to copy
   * @param signal - aborts the copy (the WAL is closing)
   */
  put(segment: ArchivedSegment, path: string, signal: AbortSignal): Promise<void>
  /**
   * The stored copy of segment `name`, with the size and SHA-256 of the stored bytes.
   *
   * @returns undefined when the archive holds none
   */
  stat(name: string, signal: AbortSignal): Promise<ArchivedSegment | undefined>
  /**
   * Every segment the archive holds, in any order. Other objects (the key store, temp files, foreign
   * keys under the prefix) are left out.
   */
  list(signal: AbortSignal): Promise<ArchiveEntry[]>
  /**
   * Streams the stored copy of segment `name`.
   *
   * @returns undefined when the archive holds none
   */
  get(name: string, signal: AbortSignal): Promise<ArchiveDownload | undefined>
}

/** Counters of the uploader, in `metrics().archive`. */
export interface ArchiveCounters {
  /** Segments found verified in the archive or uploaded and verified since open. */
  archived: number
  /** Bytes uploaded since open. */
  uploadedBytes: number
  /** Uploads or checks that failed (each is retried). */
  failures: number
  /** Sealed segments not archived yet. */
  pending: number
  /** Copies of the key store (an encrypted log's) uploaded and verified since open. */
  keyStoreUploads: number
  /**
   * An encrypted log's key store copy is due and not yet verified in the archive: from open, and from
   * each shred or master-key rotation until the archive's copy no longer holds the shredded key (or
   * the KEK wrapped by the old master key). False for a log that is not encrypted.
   */
  keyStorePending: boolean
}

/** The size and SHA-256 of a file, read in one pass. */
export async function fileDigest(path: string): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256')
  let size = 0
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer)
    size += (chunk as Buffer).length
  }
  return { size, sha256: hash.digest('hex') }
}

/**
 * An archive in a local directory (a mounted NAS, a second disk): each segment is copied to a temp
 * file, fsync'ed and renamed into place, then the directory fsync'ed.
 *
 * @param dir - the archive directory (created if missing)
 * @returns the archive
 * @example
 * ```ts
 * const wal = await Wal.open({ dir: './events', archive: directoryArchive('/mnt/backup/events') })
 * ```
 */
export function directoryArchive(dir: string): Archive {
  let made: Promise<unknown> | undefined
  let keysCleaned = false
  return {
    name: dir,
    async put(segment, path, signal) {
      made ??= mkdir(dir, { recursive: true })
      await made
      signal.throwIfAborted()
      const target = join(dir, segment.name)
      const temp = `${target}.tmp-${process.pid}`
      await copyFile(path, temp)
      try {
        const fd = await open(temp, 'r+')
        try {
          await fd.datasync()
        } finally {
          await fd.close()
        }
        await rename(temp, target)
      } catch (err) {
        await unlink(temp).catch(() => {})
        throw err
      }
      await nodeFiles.syncDir(dir)
      // A copy of the key store left by a put that died (another process: this one's failures remove
      // theirs) may hold a key shredded since.
      if (segment.name === KEY_STORE_FILE && !keysCleaned) {
        await removeLeftovers(dir, `${KEY_STORE_FILE}.tmp-`)
        keysCleaned = true
      }
    },
    async stat(name) {
      try {
        const digest = await fileDigest(join(dir, name))
        return { name, ...digest }
      } catch (err) {
        if (isMissing(err)) return undefined
        throw err
      }
    },
    async list() {
      let names: string[]
      try {
        names = await readdir(dir)
      } catch (err) {
        if (isMissing(err)) return []
        throw err
      }
      const entries: ArchiveEntry[] = []
      for (const name of names) {
        if (parseSegmentFileName(name) === undefined) continue
        const info = await stat(join(dir, name)).catch((err) => {
          if (isMissing(err)) return undefined // replaced or removed meanwhile
          throw err
        })
        if (info?.isFile()) entries.push({ name, size: info.size })
      }
      return entries
    },
    async get(name, signal) {
      let handle: FileHandle
      try {
        handle = await open(join(dir, name), 'r')
      } catch (err) {
        if (isMissing(err)) return undefined
        throw err
      }
      const { size } = await handle.stat()
      const body = handle.createReadStream({ highWaterMark: 1 << 20, signal })
      // A directory keeps no checksum apart from the bytes: the frames' own checksums check them.
      return { size, sha256: undefined, body }
    },
  }
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === 'ENOENT'
}

/** Deletes the files of `dir` whose names start with `prefix`. */
async function removeLeftovers(dir: string, prefix: string): Promise<void> {
  for (const name of await readdir(dir)) {
    if (name.startsWith(prefix)) await unlink(join(dir, name)).catch(() => {})
  }
}

/** What the uploader works with. */
export interface UploaderSource {
  readonly archive: Archive
  readonly state: LogState
  readonly logger: WalLogger
  /** Called once a segment is archived (retention may now remove it). */
  readonly onArchived?: (ref: SegmentRef) => void
  /** An encrypted log's key store, and where to write the snapshot of it that is uploaded. */
  readonly keys?: UploadedKeys | undefined
}

/** The key store the uploader copies to the archive. */
export interface UploadedKeys {
  readonly store: KeyStore
  /** The snapshot file (in the log directory; deleted after each upload, and by the next open). */
  readonly snapshot: string
  readonly fileMode: number
}

/** Backoff after a failure: doubles from this, up to {@link MAX_BACKOFF_MS}. */
const FIRST_BACKOFF_MS = 100
const MAX_BACKOFF_MS = 5_000

/**
 * Copies sealed segments to the archive, oldest first, one at a time, retrying with backoff; never on
 * the append path. See the module comment.
 */
export class Uploader {
  private readonly source: UploaderSource
  private readonly queue: SegmentRef[] = []
  private readonly archived = new Set<number>()
  private readonly abort = new AbortController()
  private running: Promise<void> | undefined
  private looping = false
  private wake: (() => void) | undefined
  /** The key store's generation the archive's copy was taken at (-1: not known yet). */
  private keysArchived = -1
  /** Bumped by each request of an upload of the key store at once (open, shred, rotation). */
  private keysRequested = 0
  private keysDone = 0
  readonly counters: ArchiveCounters = {
    archived: 0,
    uploadedBytes: 0,
    failures: 0,
    pending: 0,
    keyStoreUploads: 0,
    keyStorePending: false,
  }

  /**
   * @param source - the archive, the log state and the logger
   */
  constructor(source: UploaderSource) {
    this.source = source
    source.state.onRemove((ref) => this.archived.delete(ref.firstSeq))
    // Every sealed segment found at open: the archive says which it holds already.
    const list = source.state.list
    for (let i = 0; i < list.length - 1; i++) this.queue.push(list[i]!)
    this.counters.pending = this.queue.length
    // The archive's key store may predate a shred that the last process did not upload: check it.
    if (source.keys !== undefined) this.keysChanged()
    else this.kick()
  }

  /**
   * The key store was rewritten (a shred, a master-key rotation): the archive's copy is replaced
   * before the next segment, at once.
   */
  keysChanged(): void {
    if (this.abort.signal.aborted || this.source.keys === undefined) return
    this.keysRequested++
    this.counters.keyStorePending = true
    this.kick()
  }

  /**
   * Whether segment `ref` is archived (verified): retention may then remove it locally.
   *
   * @param ref - a segment
   */
  isArchived(ref: SegmentRef): boolean {
    return this.archived.has(ref.firstSeq)
  }

  /**
   * The writer sealed `ref`: copy it.
   *
   * @param ref - the segment
   */
  sealed(ref: SegmentRef): void {
    if (this.abort.signal.aborted) return
    this.queue.push(ref)
    this.counters.pending = this.queue.length
    this.kick()
  }

  /** Stops: aborts the copy under way (the next open resumes) and waits for the loop to end. */
  async close(): Promise<void> {
    this.abort.abort()
    this.wake?.()
    await this.running
  }

  private kick(): void {
    // A loop waiting out a backoff is not woken: it copies the new segment after the one it retries.
    if (this.looping) return
    this.looping = true
    this.running = this.loop()
  }

  private async loop(): Promise<void> {
    const { signal } = this.abort
    let backoff = FIRST_BACKOFF_MS
    // `looping` is cleared in the same step that finds the queue empty (which may be this call's
    // first, synchronous one): a segment sealed after that starts a new loop.
    while (!signal.aborted && (this.queue.length > 0 || this.keysDone < this.keysRequested)) {
      const ref = this.queue[0]
      if (ref !== undefined && !this.source.state.has(ref)) {
        this.queue.shift() // removed meanwhile (truncateBefore): nothing to copy
        continue
      }
      try {
        // Keys first: a segment counts as archived only once the keys of its records are.
        const keys = this.source.keys
        if (
          keys !== undefined &&
          (this.keysDone < this.keysRequested ||
            (ref !== undefined && keys.store.generation !== this.keysArchived))
        ) {
          await this.copyKeys(keys, signal)
        }
        if (ref !== undefined) {
          await this.copy(ref, signal)
          this.queue.shift()
          this.counters.pending = this.queue.length
        }
        backoff = FIRST_BACKOFF_MS
      } catch (err) {
        if (signal.aborted) break
        this.counters.failures++
        this.source.logger.warn('archiving failed; retrying', {
          file: ref?.path ?? KEY_STORE_FILE,
          archive: this.source.archive.name,
          error: (err as Error).message,
          retryInMs: backoff,
        })
        await this.sleep(backoff)
        backoff = Math.min(MAX_BACKOFF_MS, backoff * 2)
      }
    }
    this.looping = false
  }

  /**
   * Copies the key store's durable state unless the archive holds the same bytes; verifies the stored
   * copy. The snapshot is written beside the store (it is what is sent) and deleted after.
   */
  private async copyKeys(keys: UploadedKeys, signal: AbortSignal): Promise<void> {
    const requested = this.keysRequested
    const generation = keys.store.generation
    const entries = keys.store.sealedEntries()
    if (entries !== undefined) {
      const bytes = Buffer.concat(entries.map(encodeEntry))
      const local = {
        name: KEY_STORE_FILE,
        size: bytes.length,
        sha256: createHash('sha256').update(bytes).digest('hex'),
      }
      await this.putVerified(local, signal, async (put) => {
        await writeFile(keys.snapshot, bytes, { mode: keys.fileMode })
        try {
          await put(keys.snapshot)
        } finally {
          await unlink(keys.snapshot).catch(() => {})
        }
        this.counters.keyStoreUploads++
      })
    }
    this.keysArchived = generation
    this.keysDone = requested
    if (this.keysDone === this.keysRequested) this.counters.keyStorePending = false
  }

  /**
   * Puts a file unless the archive holds the same bytes (size and SHA-256), and checks the stored copy.
   *
   * @param upload - writes the file and calls `put` with its path
   */
  private async putVerified(
    local: ArchivedSegment,
    signal: AbortSignal,
    upload: (put: (path: string) => Promise<void>) => Promise<void>,
  ): Promise<void> {
    const { archive } = this.source
    const same = (s: ArchivedSegment | undefined) =>
      s !== undefined && s.size === local.size && s.sha256 === local.sha256
    if (same(await archive.stat(local.name, signal))) return
    await upload(async (path) => {
      await archive.put(local, path, signal)
      this.counters.uploadedBytes += local.size
    })
    const stored = await archive.stat(local.name, signal)
    if (!same(stored)) {
      throw new Error(
        `the archived copy of ${local.name} does not match (size ${stored?.size ?? 'none'}, sha256 ${stored?.sha256 ?? 'none'})`,
      )
    }
  }

  /** Copies one segment unless the archive holds it already; verifies the stored copy. */
  private async copy(ref: SegmentRef, signal: AbortSignal): Promise<void> {
    const local = { name: basename(ref.path), ...(await fileDigest(ref.path)) }
    await this.putVerified(local, signal, (put) => put(ref.path))
    this.archived.add(ref.firstSeq)
    this.counters.archived++
    this.source.onArchived?.(ref)
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms)
      timer.unref()
      function done() {
        clearTimeout(timer)
        resolve()
      }
      this.wake = done
    })
  }
}
