/**
 * Reads of segments that exist only in the archive: the reader asks for the archived segment holding
 * a seq, and gets a local copy in a bounded cache directory, fetched once (streamed to a temp file,
 * its size and recorded SHA-256 checked, then renamed into place) and shared by every reader of the
 * instance. The copy's frames are checked by the reader as it walks them, like any segment's, so a
 * damaged object is `WAL_CORRUPT` naming it, never wrong records.
 *
 * The cache belongs to one instance: a directory of its own (`<cache dir>/<pid>-<random>`), emptied at
 * close; directories left by processes that died are removed when the next one starts caching. It is
 * never trusted across processes, so it needs no fsync and no recovery. Least recently used copies
 * are deleted beyond `maxBytes`; a reader that has a copy open keeps reading it after deletion (the
 * file lives on until its descriptor closes), so eviction only ever costs a second fetch.
 *
 * The archive's listing is read when first needed and read again when a segment the reader needs
 * is not in it (uploads since), never on the append path and never at open.
 *
 * @internal
 */
import { createHash } from 'node:crypto'
import { type FileHandle, mkdir, mkdtemp, open, readdir, rename, rm, unlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Archive, ArchiveEntry } from './archive.js'
import { isWalError, WalError } from './errors.js'
import { parseSegmentFileName, segmentFileName } from './format.js'
import type { WalLogger } from './logger.js'
import type { SegmentRef } from './scanner.js'

/** Options of the local cache of archived segments (`archiveCache` on `Wal.open` and `Wal.openReader`). */
export interface ArchiveCacheOptions {
  /**
   * The directory under which each instance keeps its copies (in a directory of its own,
   * `waltz-cache-<pid>-<random>`). Default `<os.tmpdir()>/waltz-archive-cache-<uid>`: never the log
   * directory, which a reader must not change.
   */
  dir?: string
  /** Bytes of copies kept; older ones are deleted beyond it (a copy in use is kept). Default 256 MiB. */
  maxBytes?: number
}

/** The cache options with their defaults applied (the type of {@link ARCHIVE_CACHE_DEFAULTS}). */
export interface ResolvedArchiveCache {
  /** The directory under which each instance keeps its copies. */
  readonly dir: string
  /** Bytes of copies kept. */
  readonly maxBytes: number
}

/** Defaults of {@link ArchiveCacheOptions}. */
export const ARCHIVE_CACHE_DEFAULTS: ResolvedArchiveCache = Object.freeze({
  // One per user: a directory another user made first would refuse this one's copies.
  dir: join(tmpdir(), `waltz-archive-cache-${process.getuid?.() ?? 'user'}`),
  maxBytes: 256 * 1024 * 1024,
})

/** Counters of reads from the archive, in `metrics().archive`. */
export interface ArchiveFetchCounters {
  /** Segments fetched from the archive since open. */
  fetched: number
  /** Bytes fetched from the archive since open. */
  fetchedBytes: number
}

/** An archived segment copied into the cache. */
interface Copy {
  readonly firstSeq: number
  /** Set once the cache directory exists. */
  path: string
  size: number
  /** Readers between {@link ArchiveCache.acquire} and {@link ArchiveCache.release}: not evicted. */
  pins: number
  /** Settles when the copy is in place (rejects when the fetch failed). */
  ready: Promise<void>
  /** In place (counted in the cache's bytes, may be evicted). */
  done: boolean
}

/** See the module comment. */
export class ArchiveCache {
  readonly counters: ArchiveFetchCounters = { fetched: 0, fetchedBytes: 0 }
  private readonly archive: Archive
  private readonly options: ResolvedArchiveCache
  private readonly logger: WalLogger
  private readonly abort = new AbortController()
  /** Archived segments by first seq, ascending; undefined until first listed. */
  private listing: ArchiveEntry[] | undefined
  private listingFirstSeqs: number[] = []
  private listed: Promise<void> | undefined
  /** Listings started, and the number of the newest one done. */
  private listingsStarted = 0
  private listings = 0
  /** Copies by first seq, least recently used first (Map order: re-inserted on use). */
  private readonly copies = new Map<number, Copy>()
  private home: Promise<string> | undefined
  private cachedBytes = 0

  /**
   * @param archive - where the segments are
   * @param options - the cache directory and size
   * @param logger - where prefetch failures are reported
   */
  constructor(archive: Archive, options: ResolvedArchiveCache, logger: WalLogger) {
    this.archive = archive
    this.options = options
    this.logger = logger
  }

  /** What errors call segment `name` of the archive. */
  describe(name: string): string {
    const base = this.archive.name
    return base.endsWith('/') ? `${base}${name}` : `${base}/${name}`
  }

  /**
   * The first seq of the archived segment that holds `seq`: with `exact`, the one that starts at `seq`
   * (the reader's next segment must continue the chain); otherwise the one with the greatest first seq
   * not above it. Reads the listing again once when the one it has gives no answer.
   *
   * @returns undefined when the archive has none
   * @throws WalError `WAL_ARCHIVE` (the listing failed)
   */
  async find(seq: number, exact: boolean): Promise<number | undefined> {
    this.requireOpen()
    if (this.listing === undefined) await this.list(0)
    let found = this.lookup(seq, exact)
    // A stale listing gives no answer, or (not exact) an older segment than the one holding seq: the
    // reader then asks for its successor exactly, which reads the listing again. The listing read
    // again must have started after this miss (one under way may predate an upload).
    if (found === undefined) {
      await this.list(this.listingsStarted + 1)
      found = this.lookup(seq, exact)
    }
    return found
  }

  /**
   * The first seq of the next archived segment after `firstSeq` in the listing, if any (to tell a
   * segment missing from the archive from one cut short).
   */
  nextListed(firstSeq: number): number | undefined {
    return this.listingFirstSeqs.find((s) => s > firstSeq)
  }

  /** Forgets the copy of segment `firstSeq` (deleted from under the cache): the next read fetches it again. */
  invalidate(firstSeq: number): void {
    const copy = this.copies.get(firstSeq)
    if (copy === undefined || !copy.done) return
    this.copies.delete(firstSeq)
    this.cachedBytes -= copy.size
  }

  /** The first seq of the oldest archived segment (listing the archive if not yet). */
  async oldest(): Promise<number | undefined> {
    if (this.listing === undefined) await this.list(0)
    return this.listingFirstSeqs[0]
  }

  /**
   * A local copy of the archived segment starting at `firstSeq`, fetched unless cached, and pinned
   * (not evicted) until {@link release}: open it, then release it.
   *
   * @throws WalError `WAL_ARCHIVE` (missing from the archive, or the archive failed),
   *   `WAL_CORRUPT` (size or SHA-256 not as recorded)
   */
  async acquire(firstSeq: number): Promise<SegmentRef> {
    this.requireOpen()
    const copy = this.copies.get(firstSeq) ?? this.fetch(firstSeq)
    copy.pins++
    try {
      await copy.ready
    } catch (err) {
      copy.pins--
      throw err
    }
    // Most recently used: last in eviction order.
    this.copies.delete(firstSeq)
    this.copies.set(firstSeq, copy)
    return { firstSeq, path: copy.path }
  }

  /** The reader opened its copy of `ref` (or gave up): it may be evicted again. */
  release(ref: SegmentRef): void {
    const copy = this.copies.get(ref.firstSeq)
    if (copy && copy.pins > 0) copy.pins--
    void this.evict()
  }

  /**
   * Starts fetching the archived segment after `firstSeq` (a reader reading forwards needs it next),
   * unless it is cached, being fetched, or at or above `localFirst` (on local disk).
   */
  prefetch(firstSeq: number, localFirst: number | undefined): void {
    const seqs = this.listingFirstSeqs
    const i = seqs.indexOf(firstSeq)
    const next = i >= 0 ? seqs[i + 1] : undefined
    if (next === undefined || (localFirst !== undefined && next >= localFirst) || this.copies.has(next))
      return
    if (this.cachedBytes + (this.listing?.[i + 1]?.size ?? 0) > this.options.maxBytes) return
    this.fetch(next).ready.catch((err: Error) => {
      this.logger.debug('prefetching an archived segment failed (a read fetches it again)', {
        segment: this.describe(segmentFileName(next)),
        error: err.message,
      })
    })
  }

  /** Aborts fetches under way, waits for them, and deletes the cache directory. */
  async close(): Promise<void> {
    this.abort.abort()
    await Promise.allSettled([...this.copies.values()].map((c) => c.ready))
    if (this.home) {
      const home = await this.home.catch(() => undefined)
      if (home) await rm(home, { recursive: true, force: true }).catch(() => {})
    }
  }

  private lookup(seq: number, exact: boolean): number | undefined {
    const seqs = this.listingFirstSeqs
    let lo = 0
    let hi = seqs.length - 1
    let found: number | undefined
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      if (seqs[mid]! <= seq) {
        found = seqs[mid]
        lo = mid + 1
      } else {
        hi = mid - 1
      }
    }
    return exact && found !== seq ? undefined : found
  }

  /**
   * Reads the listing until one numbered `atLeast` or later is done (listings are numbered as they
   * start; one at a time, shared by concurrent readers).
   */
  private async list(atLeast: number): Promise<void> {
    while (this.listing === undefined || this.listings < atLeast) {
      if (this.listed === undefined) {
        const number = ++this.listingsStarted
        this.listed = this.readListing().finally(() => {
          this.listed = undefined
          this.listings = Math.max(this.listings, number)
        })
      }
      await this.listed
    }
  }

  private async readListing(): Promise<void> {
    let entries: ArchiveEntry[]
    try {
      this.requireOpen()
      entries = await this.archive.list(this.abort.signal)
    } catch (err) {
      if (isWalError(err)) throw err
      throw WalError.ARCHIVE(`listing the segments of ${this.archive.name} failed`, { cause: err })
    }
    const segments = entries
      .map((e) => ({ entry: e, firstSeq: parseSegmentFileName(e.name) }))
      .filter((e): e is { entry: ArchiveEntry; firstSeq: number } => e.firstSeq !== undefined)
      .sort((a, b) => a.firstSeq - b.firstSeq)
    this.listing = segments.map((s) => s.entry)
    this.listingFirstSeqs = segments.map((s) => s.firstSeq)
  }

  /** The size the listing gives segment `firstSeq`. */
  private listedSize(firstSeq: number): number | undefined {
    const i = this.listingFirstSeqs.indexOf(firstSeq)
    return i < 0 ? undefined : this.listing?.[i]?.size
  }

  /** Starts fetching segment `firstSeq` into the cache; the copy is registered at once. */
  private fetch(firstSeq: number): Copy {
    const name = segmentFileName(firstSeq)
    const copy: Copy = { firstSeq, path: '', size: 0, pins: 0, ready: Promise.resolve(), done: false }
    const ready = (async () => {
      copy.path = join(await this.directory(), name)
      copy.size = await this.download(name, copy.path, this.listedSize(firstSeq))
      copy.done = true
      this.cachedBytes += copy.size
      this.counters.fetched++
      this.counters.fetchedBytes += copy.size
    })()
    copy.ready = ready
    this.copies.set(firstSeq, copy)
    // A failed fetch is forgotten, so the next read tries again.
    ready.catch(() => {
      if (this.copies.get(firstSeq) === copy) this.copies.delete(firstSeq)
    })
    return copy
  }

  /**
   * Streams segment `name` from the archive to `path` (through a temp file), checking its size and the
   * SHA-256 the archive recorded. Never holds more than a chunk in memory, and never writes more
   * bytes than the archive says the object has (its listed size when the download does not say).
   *
   * @returns its size
   */
  private async download(name: string, path: string, listedSize: number | undefined): Promise<number> {
    const label = this.describe(name)
    const temp = `${path}.tmp`
    // The temp file first: once the archive's stream exists, it is read at once (a stream that fails
    // before anyone listens, e.g. aborted by close, would otherwise be an uncaught error).
    let file: FileHandle
    try {
      file = await open(temp, 'w', 0o600)
    } catch (err) {
      throw WalError.IO(`cannot write the archive cache file ${temp}`, { cause: err, file: temp })
    }
    let size: number
    try {
      size = await this.copyInto(file, name, label, listedSize)
      await file.close().catch((err: unknown) => {
        throw WalError.IO(`writing the archive cache copy of ${label} failed`, { cause: err, file: temp })
      })
    } catch (err) {
      await file.close().catch(() => {})
      await unlink(temp).catch(() => {})
      throw err
    }
    await this.renameInto(temp, path)
    return size
  }

  /** Streams the archive's copy into `file`, checked (see {@link download}); returns its size. */
  private async copyInto(
    file: FileHandle,
    name: string,
    label: string,
    listedSize: number | undefined,
  ): Promise<number> {
    const { signal } = this.abort
    let download: Awaited<ReturnType<Archive['get']>>
    try {
      this.requireOpen()
      download = await this.archive.get(name, signal)
    } catch (err) {
      if (isWalError(err)) throw err
      throw WalError.ARCHIVE(`fetching ${label} failed`, { cause: err, file: label })
    }
    if (download === undefined)
      throw WalError.ARCHIVE(`${label} is missing from the archive`, { file: label })
    const body = download.body as AsyncIterable<Uint8Array> & { on?: (event: string, f: () => void) => void }
    body.on?.('error', () => {}) // reported through the iteration below
    const limit = download.size >= 0 ? download.size : (listedSize ?? Number.POSITIVE_INFINITY)
    const hash = createHash('sha256')
    let size = 0
    let writeError: unknown
    try {
      for await (const chunk of body) {
        size += chunk.length
        if (size > limit) break
        hash.update(chunk)
        try {
          await file.write(chunk)
        } catch (err) {
          writeError = err
          break
        }
      }
    } catch (err) {
      throw WalError.ARCHIVE(`fetching ${label} failed`, { cause: err, file: label })
    }
    if (writeError !== undefined) {
      throw WalError.IO(`writing the archive cache copy of ${label} failed`, {
        cause: writeError,
        file: label,
      })
    }
    const sha256 = hash.digest('hex')
    if (
      (Number.isFinite(limit) && size !== limit) ||
      (download.sha256 !== undefined && sha256 !== download.sha256)
    ) {
      throw WalError.CORRUPT(
        `${label} fails its checksum: ${size > limit ? `more than ${limit}` : size} bytes with SHA-256 ${sha256}, archived as ` +
          `${Number.isFinite(limit) ? limit : 'unknown'} bytes with SHA-256 ${download.sha256 ?? '(not recorded)'}`,
        { file: label },
      )
    }
    return size
  }

  private async renameInto(temp: string, path: string): Promise<void> {
    try {
      await rename(temp, path)
    } catch (err) {
      await unlink(temp).catch(() => {})
      throw WalError.IO(`cannot move the archive cache copy into place at ${path}`, {
        cause: err,
        file: path,
      })
    }
  }

  /** This instance's cache directory, made at first use (stale ones of dead processes removed then). */
  private directory(): Promise<string> {
    this.home ??= (async () => {
      const base = this.options.dir
      await mkdir(base, { recursive: true, mode: 0o700 })
      await removeStale(base)
      this.requireOpen()
      return mkdtemp(join(base, `${HOME_PREFIX}${process.pid}-`))
    })().catch((err) => {
      this.home = undefined
      if (isWalError(err)) throw err
      throw WalError.IO(`cannot create the archive cache under ${this.options.dir}`, {
        cause: err,
        file: this.options.dir,
      })
    })
    return this.home
  }

  /** Throws `WAL_CLOSED` once {@link close} has begun. */
  private requireOpen(): void {
    if (this.abort.signal.aborted) throw WalError.CLOSED('the WAL is closed')
  }

  /** Deletes least recently used copies that are not pinned while the cache holds more than its bound. */
  private async evict(): Promise<void> {
    for (const copy of this.copies.values()) {
      if (this.cachedBytes <= this.options.maxBytes) return
      if (copy.pins > 0 || !copy.done) continue
      this.copies.delete(copy.firstSeq)
      this.cachedBytes -= copy.size
      await unlink(copy.path).catch(() => {})
    }
  }
}

/** The name of an instance's cache directory starts with this, then its pid and a dash. */
const HOME_PREFIX = 'waltz-cache-'

/**
 * Removes this cache's directories (`waltz-cache-<pid>-<random>`) whose process is gone; anything
 * else in `base` is left alone.
 */
async function removeStale(base: string): Promise<void> {
  for (const name of await readdir(base)) {
    const pid = Number(/^waltz-cache-(\d+)-/.exec(name)?.[1])
    if (!Number.isSafeInteger(pid) || pid === process.pid || alive(pid)) continue
    await rm(join(base, name), { recursive: true, force: true }).catch(() => {})
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
