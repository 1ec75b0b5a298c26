import { mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { silentLogger, type WalLogger } from '@waltz/core'
import { msgpackrCodec, type StateCodec } from './codec.js'
import { isSnapshotError, SnapshotError } from './errors.js'
import { decodeSnapshot, encodeSnapshot, parseSnapshotFileName, snapshotFileName } from './format.js'
import { listDir, removeFiles, renameDurably, TEMP_SUFFIX, writeFileAtomic } from './fs.js'

/** Options of {@link SnapshotStore.open}. */
export interface SnapshotStoreOptions<S> {
  /** The directory of the snapshot files; created if missing. Keep it apart from the WAL's. */
  dir: string
  /** Encodes the state (default {@link msgpackrCodec}). Its `name` is stored in every file. */
  codec?: StateCodec<S>
  /** How many of the newest snapshots to keep; older ones are deleted after each save (default 3). */
  keep?: number
  /** Where skipped snapshots and retention problems are reported (default: silent). */
  logger?: WalLogger
}

/** A snapshot file in the store. */
export interface SnapshotInfo {
  /** The WAL seq the snapshot includes records up to. */
  seq: number
  /** The file's path. */
  file: string
}

/** A snapshot file {@link SnapshotStore.loadLatest} passed over, and why. */
export interface SkippedSnapshot extends SnapshotInfo {
  /** `SNAPSHOT_CORRUPT` (unreadable: truncated, checksum, header) or `SNAPSHOT_STALE` (seq past `maxSeq`). */
  code: 'SNAPSHOT_CORRUPT' | 'SNAPSHOT_STALE'
  /** A human-readable explanation. */
  reason: string
}

/** The snapshot {@link SnapshotStore.loadLatest} loaded. */
export interface LoadedSnapshot<S> extends SnapshotInfo {
  /** The decoded state. */
  state: S
  /** When the snapshot was taken, in milliseconds since the epoch. */
  time: number
  /** Newer snapshot files passed over, newest first. */
  skipped: SkippedSnapshot[]
}

/** Options of {@link SnapshotStore.loadLatest}. */
export interface LoadLatestOptions {
  /** Pass over snapshots whose seq is greater (reported as `SNAPSHOT_STALE`). */
  maxSeq?: number
  /** Called for each snapshot passed over, newest first (also when none is loaded). */
  onSkip?: (skipped: SkippedSnapshot) => void
}

/** A snapshot encoded by {@link SnapshotStore.prepare}, ready to be written. */
export interface PreparedSnapshot {
  /** The snapshot's seq. */
  readonly seq: number
  /** The complete file contents (the encoded copy of the state). */
  readonly bytes: Uint8Array
}

/** The result of a save. */
export interface SavedSnapshot extends SnapshotInfo {
  /** The file's size in bytes. */
  size: number
  /** The seqs of the snapshot files kept after retention, ascending (this one included). */
  retained: number[]
}

const DEFAULT_KEEP = 3

/**
 * A directory of snapshots: `snapshot-<seq, 20 digits>.snap` files, each holding one encoded state, the
 * WAL seq it includes records up to, the codec's name, the format version and a CRC-32 over all of it.
 * Saves are atomic and durable (temp file, fsync, rename, directory fsync), so a crash at any point
 * leaves the previous snapshots and, once `save` resolved, the new one intact. One process should
 * write a directory at a time (the one holding the WAL's lock).
 *
 * @typeParam S - the state type
 */
export class SnapshotStore<S = unknown> {
  /** The directory of the snapshot files. */
  readonly dir: string
  /** The state codec. */
  readonly codec: StateCodec<S>
  /** How many snapshots are kept. */
  readonly keep: number
  private readonly logger: WalLogger
  private saving: Promise<unknown> = Promise.resolve()

  private constructor(dir: string, codec: StateCodec<S>, keep: number, logger: WalLogger) {
    this.dir = dir
    this.codec = codec
    this.keep = keep
    this.logger = logger
  }

  /**
   * Opens (or creates) a snapshot directory and deletes the temp files an interrupted save left.
   *
   * @param options - see {@link SnapshotStoreOptions}; only `dir` is required
   * @returns the store
   * @throws SnapshotError `SNAPSHOT_INVALID_ARGUMENT` (a bad `keep` or codec name), `SNAPSHOT_IO`
   * @example
   * ```ts
   * const store = await SnapshotStore.open<Map<string, number>>({ dir: './snapshots', keep: 3 })
   * ```
   */
  static async open<S = unknown>(options: SnapshotStoreOptions<S>): Promise<SnapshotStore<S>> {
    const keep = options.keep ?? DEFAULT_KEEP
    if (!Number.isSafeInteger(keep) || keep < 1) {
      throw SnapshotError.INVALID_ARGUMENT(`keep must be an integer >= 1, got ${keep}`)
    }
    const codec = options.codec ?? msgpackrCodec<S>()
    const nameBytes = Buffer.byteLength(codec.name ?? '')
    if (nameBytes < 1 || nameBytes > 255) {
      throw SnapshotError.INVALID_ARGUMENT('codec.name must be 1 to 255 UTF-8 bytes')
    }
    try {
      await mkdir(options.dir, { recursive: true })
    } catch (err) {
      throw SnapshotError.IO(`creating ${options.dir} failed`, { cause: err })
    }
    const store = new SnapshotStore(options.dir, codec, keep, options.logger ?? silentLogger)
    const temps = (await listDir(options.dir)).filter(
      (n) => n.startsWith('snapshot-') && n.endsWith(TEMP_SUFFIX),
    )
    if (temps.length > 0) {
      await removeFiles(
        options.dir,
        temps.map((n) => join(options.dir, n)),
      )
      store.logger.info('removed temp files of interrupted snapshots', { files: temps })
    }
    return store
  }

  /**
   * Encodes `state` into a complete snapshot file in memory, synchronously: the returned bytes are a
   * copy, so the caller may mutate `state` right after. Write it with {@link SnapshotStore.commit}.
   *
   * @param state - the aggregate's state after applying every record up to `seq`
   * @param seq - the WAL seq the state includes records up to (0 for none)
   * @returns the prepared snapshot
   * @throws SnapshotError `SNAPSHOT_SERIALIZER_ERROR` (the codec threw), `SNAPSHOT_INVALID_ARGUMENT`
   */
  prepare(state: S, seq: number): PreparedSnapshot {
    let encoded: Uint8Array
    try {
      encoded = this.codec.encode(state)
    } catch (err) {
      if (err instanceof SnapshotError) throw err
      throw SnapshotError.SERIALIZER_ERROR(`codec '${this.codec.name}' failed to encode`, {
        cause: err,
        seq,
      })
    }
    if (!(encoded instanceof Uint8Array)) {
      throw SnapshotError.SERIALIZER_ERROR(`codec '${this.codec.name}' returned no bytes`, {
        seq,
      })
    }
    return { seq, bytes: encodeSnapshot({ seq, time: Date.now(), codec: this.codec.name, state: encoded }) }
  }

  /**
   * Writes a prepared snapshot atomically and durably, then deletes all but the newest `keep` snapshot
   * files (by seq; a failure there is logged, not thrown). Saves run one at a time, in call order. A
   * snapshot saved at a seq the store already has replaces that file.
   *
   * @param prepared - from {@link SnapshotStore.prepare}
   * @returns the file written and the seqs retained
   * @throws SnapshotError `SNAPSHOT_IO` (the previous snapshots are intact)
   */
  commit(prepared: PreparedSnapshot): Promise<SavedSnapshot> {
    const run = this.saving.then(() => this.write(prepared))
    this.saving = run.catch(() => {})
    return run
  }

  /**
   * Encodes `state` (synchronously, before the returned promise settles: mutating it afterwards is safe)
   * and saves it: `commit(prepare(state, seq))`.
   *
   * Save only a state whose records are durable in the WAL (`await wal.sync()` first unless every
   * append is `'always'`): a snapshot ahead of the log is stale after a power loss.
   *
   * @param state - the aggregate's state after applying every record up to `seq`
   * @param seq - the WAL seq the state includes records up to
   * @returns the file written and the seqs retained
   * @throws SnapshotError `SNAPSHOT_SERIALIZER_ERROR`, `SNAPSHOT_INVALID_ARGUMENT`, `SNAPSHOT_IO`
   * @example
   * ```ts
   * await wal.sync()
   * await store.save(state, wal.lastSeq)
   * ```
   */
  async save(state: S, seq: number): Promise<SavedSnapshot> {
    return this.commit(this.prepare(state, seq))
  }

  /**
   * The snapshot files in the directory, by seq ascending (temp files and other names excluded; the
   * files are not read).
   *
   * @returns the snapshot files
   * @throws SnapshotError `SNAPSHOT_IO`
   */
  async list(): Promise<SnapshotInfo[]> {
    const out: SnapshotInfo[] = []
    for (const name of await listDir(this.dir)) {
      const seq = parseSnapshotFileName(name)
      if (seq !== undefined) out.push({ seq, file: join(this.dir, name) })
    }
    return out.sort((a, b) => a.seq - b.seq)
  }

  /**
   * Loads the newest valid snapshot. A corrupt or truncated file (bad checksum, header or length) is
   * passed over, reported (in `skipped`, to `onSkip` and to the logger's `warn`) and the next older one
   * is tried; so is a snapshot whose seq is above `maxSeq`. Temp files are never read.
   *
   * @param options - `maxSeq` and `onSkip`
   * @returns the snapshot, or undefined when there is no valid one
   * @throws SnapshotError `SNAPSHOT_SERIALIZER_MISMATCH` (an intact snapshot of another codec),
   *   `SNAPSHOT_FORMAT_UNSUPPORTED`, `SNAPSHOT_SERIALIZER_ERROR` (the codec cannot decode an intact
   *   snapshot), `SNAPSHOT_IO`
   * @example
   * ```ts
   * const latest = await store.loadLatest()
   * const state = latest?.state ?? new Map()
   * ```
   */
  async loadLatest(options: LoadLatestOptions = {}): Promise<LoadedSnapshot<S> | undefined> {
    const skipped: SkippedSnapshot[] = []
    const skip = (info: SnapshotInfo, code: SkippedSnapshot['code'], reason: string): void => {
      const entry: SkippedSnapshot = { seq: info.seq, file: info.file, code, reason }
      skipped.push(entry)
      this.logger.warn('snapshot skipped', { file: info.file, code, reason })
      options.onSkip?.(entry)
    }
    const all = await this.list()
    for (let i = all.length - 1; i >= 0; i--) {
      const info = all[i]!
      if (options.maxSeq !== undefined && info.seq > options.maxSeq) {
        skip(info, 'SNAPSHOT_STALE', `seq ${info.seq} is past ${options.maxSeq}`)
        continue
      }
      const bytes = await readSnapshotFile(info.file)
      if (bytes === undefined) continue // removed since listed
      let contents: ReturnType<typeof decodeSnapshot>
      try {
        contents = decodeSnapshot(bytes, info.file)
        if (contents.seq !== info.seq) {
          throw SnapshotError.CORRUPT(`${info.file}: holds seq ${contents.seq}`, info)
        }
      } catch (err) {
        if (!isSnapshotError(err, 'SNAPSHOT_CORRUPT')) throw err
        skip(info, 'SNAPSHOT_CORRUPT', err.message)
        continue
      }
      if (contents.codec !== this.codec.name) {
        throw SnapshotError.SERIALIZER_MISMATCH(
          `${info.file} was written by codec '${contents.codec}', this store uses '${this.codec.name}'`,
          info,
        )
      }
      let state: S
      try {
        state = this.codec.decode(contents.state)
      } catch (err) {
        throw SnapshotError.SERIALIZER_ERROR(`codec '${this.codec.name}' failed to decode ${info.file}`, {
          ...info,
          cause: err,
        })
      }
      return { state, seq: info.seq, file: info.file, time: contents.time, skipped }
    }
    return undefined
  }

  /**
   * Sets a snapshot file aside so it is never loaded again: renames it to `<file>.stale` (kept for
   * inspection; retention ignores it). `recover()` does this to snapshots ahead of the WAL.
   *
   * @param file - the snapshot file's path
   * @returns the new path
   * @throws SnapshotError `SNAPSHOT_IO`
   */
  async quarantine(file: string): Promise<string> {
    const to = `${file}.stale`
    await renameDurably(this.dir, file, to)
    this.logger.warn('snapshot set aside', { file: to })
    return to
  }

  private async write(prepared: PreparedSnapshot): Promise<SavedSnapshot> {
    const file = join(this.dir, snapshotFileName(prepared.seq))
    await writeFileAtomic(this.dir, file, prepared.bytes)
    const all = await this.list()
    const drop = all.slice(0, Math.max(0, all.length - this.keep))
    try {
      await removeFiles(
        this.dir,
        drop.map((s) => s.file),
      )
    } catch (err) {
      this.logger.warn('deleting old snapshots failed', { error: String(err) })
    }
    return {
      seq: prepared.seq,
      file,
      size: prepared.bytes.byteLength,
      retained: all.slice(drop.length).map((s) => s.seq),
    }
  }
}

async function readSnapshotFile(file: string): Promise<Buffer | undefined> {
  try {
    return await readFile(file)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw SnapshotError.IO(`reading ${file} failed`, { file, cause: err })
  }
}
