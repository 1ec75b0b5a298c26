/**
 * The key store of an encrypted log: `keys.wzk` in the log directory. It holds one data key per key id
 * (a data subject: a stream, a customer), each wrapped (AES-256-GCM) by the store's key-encryption key
 * (KEK), which is itself wrapped by the caller's master key ({@link Keyring}); and the ids of keys that
 * were shredded, so their records read as shredded, not as damage.
 *
 * ```
 * entries back to back, each:  u32 LE body length n (1..MAX_BODY) | u8 kind | n bytes body | u32 LE CRC-32 of kind and body
 * kind 1, header (first entry, exactly once):  u16 version (1) | u8 id length | master key id | u16 length | wrapped KEK
 * kind 2, data key:                            u16 id length | key id | 60 bytes: nonce (12), wrapped key (32), tag (16)
 * kind 3, shredded:                            u16 id length | key id
 * ```
 *
 * New keys are appended and fdatasync'ed (one fdatasync for the keys of concurrent appends) before any
 * record using them is written, so an acknowledged record never outlives its key. A crash during an
 * append leaves a torn last entry, whose keys no record uses: a writer cuts it at open. Shredding and
 * master-key rotation rewrite the file (temp file, fdatasync, rename, directory fsync): after
 * `shred` resolves, no copy of the wrapped key is left in the file a restart reads. (Blocks the file
 * system freed may keep old bytes until reused; the wrapped key in them is still under the KEK.)
 *
 * A store opened without a keyring is *sealed*: the key store of a copy of an encrypted log (a replica)
 * kept by a process that has no master key. It never unwraps anything; it takes another store's
 * entries through {@link KeyStore.import} (new keys appended, shreds and a new header by a rewrite, as
 * above), so the copy holds exactly the sealed keys its records need.
 *
 * @internal
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import { WalError } from './errors.js'
import type { Fd, Files } from './files.js'
import type { Keyring } from './keyring.js'
import type { WalLogger } from './logger.js'

/** The key store's file name, in the log directory and in an archive: `keys.wzk`. */
export const KEY_STORE_FILE = 'keys.wzk'
const VERSION = 1
const KIND_HEADER = 1
const KIND_KEY = 2
const KIND_SHREDDED = 3
/** Largest entry body: a key id of up to 65,535 bytes and a wrapped key. */
const MAX_BODY = 2 + 65_535 + 60
const NONCE = 12
const TAG = 16
const WRAPPED = NONCE + 32 + TAG

/** What the store knows of a key id. */
export type KeyState = 'present' | 'shredded' | 'unknown'

/** What opening a key store needs. */
export interface KeyStoreOptions {
  readonly files: Files
  readonly dir: string
  /** The master key; undefined for a sealed store (see the module comment). */
  readonly keyring: Keyring | undefined
  /** A reader: never creates, cuts or rewrites the file. */
  readonly readOnly: boolean
  /**
   * The log holds records already: a missing key store is then an error (its records' keys would be
   * lost, or they were never encrypted), never a fresh start.
   */
  readonly logHasRecords: boolean
  readonly fileMode: number
  readonly logger: WalLogger
}

/** One parsed entry. */
export type Entry =
  | { kind: 'header'; masterKeyId: string; wrappedKek: Buffer }
  | { kind: 'key'; keyId: string; wrapped: Buffer }
  | { kind: 'shredded'; keyId: string }

/** The header entry. */
type Header = Extract<Entry, { kind: 'header' }>

/** What a store holds: its header (none yet in a sealed store never imported into), keys and shredded ids. */
export interface KeyStoreState {
  header: Header | undefined
  readonly wrapped: Map<string, Buffer>
  readonly shredded: Set<string>
}

/** See the module comment. */
export class KeyStore {
  private readonly options: KeyStoreOptions
  private readonly path: string
  /** Undefined in a sealed store. */
  private kek: Buffer | undefined
  /** The header; undefined only in a sealed store nothing was imported into yet (no file). */
  private header: Header | undefined
  private wrapped = new Map<string, Buffer>()
  private readonly unwrapped = new Map<string, Buffer>()
  private shreddedIds = new Set<string>()
  /** Where the next entry is appended. */
  private end: number
  /** Key ids asked for and not yet durable, and the promise of their append. */
  private readonly creating = new Map<string, Promise<void>>()
  private queued: string[] = []
  /** Ids whose shred is under way: no key is created for them. */
  private readonly shredding = new Set<string>()
  private flushing: Promise<void> | undefined
  /** File writes (appends, rewrites), one after the other. */
  private writes: Promise<unknown> = Promise.resolve()
  private fd: Fd = -1
  /** A reader's: the file's identity, size and time when last read. */
  private fileVersion = ''
  /** Counts the durable changes of this store (appends, rewrites, imports) since open. */
  private changes = 0
  /** Names this object in versions (another object's, or another process's, version never matches). */
  private readonly instance = randomBytes(6).toString('hex')
  /** Counts the rewrites since open: each starts a new {@link log}. */
  private epoch = 0
  /** The entries appended since the last rewrite (or open), in order: what {@link changesSince} hands over. */
  private log: Entry[] = []

  private constructor(
    options: KeyStoreOptions,
    header: Header | undefined,
    kek: Buffer | undefined,
    end: number,
  ) {
    this.options = options
    this.path = join(options.dir, KEY_STORE_FILE)
    this.kek = kek
    this.header = header
    this.end = end
  }

  /**
   * Opens the key store of `dir`, creating it (a writer, no file yet) with a new KEK.
   *
   * @throws WalError `WAL_KEYRING` (the master key cannot unwrap the KEK, or the keyring failed; a
   *   reader finding no key store), `WAL_CORRUPT` (a damaged entry before the last), `WAL_IO`
   */
  static async open(options: KeyStoreOptions): Promise<KeyStore> {
    const { files, dir, keyring, readOnly, logger } = options
    const path = join(dir, KEY_STORE_FILE)
    let bytes: Buffer | undefined
    try {
      bytes = await files.readFile(path)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw WalError.IO(`cannot read ${path}`, { cause: err, file: path })
      }
    }
    if (bytes === undefined || bytes.length === 0) {
      if (readOnly || options.logHasRecords) {
        throw WalError.KEYRING(
          `${path} does not exist: the log has no encryption keys (encryption is chosen when a log is created; a lost key store cannot be recreated)`,
          { file: path },
        )
      }
      // A sealed store starts empty: its file is written by the first import (it has no KEK to make).
      if (keyring === undefined) return new KeyStore(options, undefined, undefined, 0)
      return KeyStore.create(options, keyring)
    }
    const { entries, validEnd } = parseEntries(bytes, path)
    const header = entries[0]
    if (header?.kind !== 'header')
      throw WalError.CORRUPT(`${path}: the first entry is not the header`, { file: path })
    const kek = keyring === undefined ? undefined : await unwrapKek(keyring, header, path)
    const store = new KeyStore(options, header, kek, validEnd)
    store.apply(entries.slice(1), path)
    if (validEnd < bytes.length && !readOnly) {
      // A torn append: its keys were never made durable, so no record uses them. (parseEntries
      // refuses a tail in which a whole entry can still be found: that is damage, not a torn append.)
      // The cut bytes are kept beside the store all the same.
      const aside = `${path}.torn-${Date.now()}`
      logger.warn('cut a torn entry off the key store; the cut bytes are kept', {
        file: path,
        bytes: bytes.length - validEnd,
        keptIn: aside,
      })
      try {
        const fd = await files.open(aside, 'wx', options.fileMode)
        try {
          await files.write(fd, bytes, validEnd, bytes.length - validEnd, 0)
          await files.fdatasync(fd)
        } finally {
          await files.close(fd)
        }
        await store.withFile(async (fd) => {
          await files.ftruncate(fd, validEnd)
          await files.fdatasync(fd)
        })
      } catch (err) {
        throw WalError.IO(`cutting the torn end of ${path} failed`, { cause: err, file: path })
      }
    }
    return store
  }

  /** Creates the file: a new KEK wrapped by the current master key, written atomically. */
  private static async create(options: KeyStoreOptions, keyring: Keyring): Promise<KeyStore> {
    const kek = randomBytes(32)
    let wrappedKek: Buffer
    try {
      wrappedKek = Buffer.from(await keyring.wrap(kek))
    } catch (err) {
      throw WalError.KEYRING('the keyring failed to wrap a new key-encryption key', { cause: err })
    }
    checkHeader(keyring.currentKeyId, wrappedKek)
    const header = { kind: 'header' as const, masterKeyId: keyring.currentKeyId, wrappedKek }
    const store = new KeyStore(options, header, kek, 0)
    await store.rewrite(store.current())
    return store
  }

  /**
   * A reader's refresh: reads the file again (keys the writer created or shredded since), and
   * unwraps the KEK again if the master key was rotated. A file that cannot be read leaves the keys
   * as they were (the next refresh tries again).
   *
   * @throws WalError `WAL_KEYRING` (a rotation to a master key the keyring does not hold),
   *   `WAL_CORRUPT`
   */
  async reload(): Promise<void> {
    // Only when the file changed since it was read: an append grows it, a rewrite replaces it.
    let version: string
    try {
      const st = await stat(this.path)
      version = `${st.ino}:${st.size}:${st.mtimeMs}`
    } catch {
      return
    }
    if (version === this.fileVersion) return
    let bytes: Buffer
    try {
      bytes = await this.options.files.readFile(this.path)
    } catch {
      return
    }
    this.fileVersion = version
    const { entries } = parseEntries(bytes, this.path)
    const header = entries[0]
    if (header?.kind !== 'header')
      throw WalError.CORRUPT(`${this.path}: the first entry is not the header`, { file: this.path })
    if (!sameHeader(header, this.header)) {
      const { keyring } = this.options
      if (keyring !== undefined) this.kek = await unwrapKek(keyring, header, this.path)
      this.header = header
      this.unwrapped.clear()
    }
    const before = new Map(this.wrapped)
    this.wrapped.clear()
    this.apply(entries.slice(1), this.path)
    this.changes++
    for (const keyId of before.keys()) if (!this.wrapped.has(keyId)) this.unwrapped.delete(keyId)
  }

  /**
   * Takes the key and shredded entries of the file into memory. A shredded id stays shredded (a key
   * entry for it is ignored); an id with two key entries is damage.
   *
   * @throws WalError `WAL_CORRUPT`
   */
  private apply(entries: readonly Entry[], file: string): void {
    applyEntries({ header: this.header, wrapped: this.wrapped, shredded: this.shreddedIds }, entries, file)
  }

  /** Whether records can be sealed with key `keyId` now: it exists and no shred of it is under way. */
  usable(keyId: string): boolean {
    return this.wrapped.has(keyId) && !this.shredding.has(keyId)
  }

  /** Whether key `keyId` is shredded, or its shred is under way: nothing more is sealed with it. */
  refuses(keyId: string): boolean {
    return this.shreddedIds.has(keyId) || this.shredding.has(keyId)
  }

  /** Whether key `keyId` is present, shredded or unknown. */
  state(keyId: string): KeyState {
    if (this.wrapped.has(keyId)) return 'present'
    return this.shreddedIds.has(keyId) ? 'shredded' : 'unknown'
  }

  /**
   * The data key `keyId` (32 bytes), present in the store.
   *
   * @throws WalError `WAL_CORRUPT` when its wrapped bytes do not authenticate under the KEK
   */
  dataKey(keyId: string): Buffer | undefined {
    const cached = this.unwrapped.get(keyId)
    if (cached !== undefined) return cached
    const wrapped = this.wrapped.get(keyId)
    if (wrapped === undefined) return undefined
    if (this.kek === undefined) throw new Error('a sealed key store opens no data key')
    let key: Buffer
    try {
      key = open(this.kek, wrapped, Buffer.from(keyId))
    } catch (err) {
      throw WalError.CORRUPT(`${this.path}: the data key '${keyId}' does not authenticate`, {
        cause: err,
        file: this.path,
      })
    }
    this.unwrapped.set(keyId, key)
    return key
  }

  /**
   * Makes sure data keys exist for `keyIds`, creating the missing ones: appended and fdatasync'ed
   * together before this resolves.
   *
   * @throws WalError `WAL_INVALID_ARGUMENT` (a shredded key id), `WAL_IO`
   */
  ensure(keyIds: Iterable<string>): Promise<void> {
    const waits: Promise<void>[] = []
    for (const keyId of keyIds) {
      if (this.refuses(keyId)) {
        return Promise.reject(
          WalError.INVALID_ARGUMENT(`key '${keyId}' was shredded: nothing more is encrypted with it`),
        )
      }
      if (this.wrapped.has(keyId)) continue
      let creating = this.creating.get(keyId)
      if (creating === undefined) {
        this.queued.push(keyId)
        creating = this.flush()
        this.creating.set(keyId, creating)
      }
      waits.push(creating)
    }
    return waits.length === 0 ? Promise.resolve() : Promise.all(waits).then(() => {})
  }

  /**
   * Destroys key `keyId`: the file is rewritten without it (and with its id marked shredded), then
   * it is dropped from memory. Records encrypted with it then read as shredded.
   *
   * @param after - settles when the appends already handed over are sealed (they are shredded too)
   * @throws WalError `WAL_IO`
   */
  async shred(keyId: string, after?: Promise<unknown>): Promise<void> {
    checkKeyId(keyId)
    // From this call on, nothing more is sealed with the id (an append racing the shred is refused).
    this.shredding.add(keyId)
    try {
      await after
      await this.creating.get(keyId)?.catch(() => {})
      await this.serial(async () => {
        const next = this.current()
        next.wrapped.delete(keyId)
        next.shredded.add(keyId)
        await this.rewrite(next)
        this.unwrapped.delete(keyId)
      })
    } finally {
      this.shredding.delete(keyId)
    }
  }

  /**
   * Wraps the KEK again with the keyring's current master key and rewrites the file: afterwards the
   * old master key is no longer needed. Data keys and segments are unchanged.
   *
   * @throws WalError `WAL_KEYRING`, `WAL_IO`
   */
  async rotateMasterKey(): Promise<void> {
    const { keyring } = this.options
    const kek = this.kek
    if (keyring === undefined || kek === undefined) throw new Error('a sealed key store is not rotated')
    await this.serial(async () => {
      let wrappedKek: Buffer
      try {
        wrappedKek = Buffer.from(await keyring.wrap(kek))
      } catch (err) {
        throw WalError.KEYRING('the keyring failed to wrap the key-encryption key', { cause: err })
      }
      checkHeader(keyring.currentKeyId, wrappedKek)
      const next = this.current()
      next.header = { kind: 'header', masterKeyId: keyring.currentKeyId, wrappedKek }
      await this.rewrite(next)
    })
  }

  /**
   * Takes another key store's entries into this sealed one (a replica's), in order: a header
   * replaces this store's (a master-key rotation), a data key is added (an id already shredded here
   * stays shredded), a shredded id drops its key and stays shredded. Durable before it resolves: new
   * keys are appended and fdatasync'ed; a shred of a key held here, a new header, or the store's first
   * import rewrites the file (temp file, fdatasync, rename, directory fsync).
   *
   * @returns whether the file was rewritten (a shred or a new header): the old copy of a removed key
   *   is gone from it
   * @throws WalError `WAL_INVALID_ARGUMENT` (no header in the first import, two keys for one id, a
   *   malformed entry), `WAL_IO`
   */
  import(entries: Iterable<Entry>): Promise<boolean> {
    if (this.options.keyring !== undefined) {
      return Promise.reject(
        WalError.INVALID_ARGUMENT("keys are imported into a sealed copy only (encryption: 'sealed')"),
      )
    }
    const list = [...entries]
    return this.serial(async () => {
      // Planned against the store as it is (not copied: imports of new keys are the common case and
      // the store may hold many), applied once durable.
      let header = this.header
      let rewrite = header === undefined
      const added = new Map<string, Buffer>()
      const shredded = new Set<string>()
      const appended: Entry[] = []
      for (const e of list) {
        checkEntry(e)
        if (e.kind === 'header') {
          if (!sameHeader(e, header)) rewrite = true
          header = e
        } else if (e.kind === 'key') {
          if (this.shreddedIds.has(e.keyId) || shredded.has(e.keyId)) continue
          const known = added.get(e.keyId) ?? this.wrapped.get(e.keyId)
          if (known !== undefined) {
            if (known.equals(e.wrapped)) continue
            throw WalError.INVALID_ARGUMENT(`two keys for the id '${e.keyId}': another log's key store?`)
          }
          added.set(e.keyId, e.wrapped)
          appended.push(e)
        } else if (!this.shreddedIds.has(e.keyId) && !shredded.has(e.keyId)) {
          // The key's bytes must leave the file: held here, or about to be appended by this import.
          if (this.wrapped.has(e.keyId) || added.delete(e.keyId)) rewrite = true
          shredded.add(e.keyId)
          appended.push(e)
        }
      }
      if (header === undefined) {
        throw WalError.INVALID_ARGUMENT("the first keys imported must include the key store's header")
      }
      if (!rewrite && appended.length === 0) return false
      if (rewrite) {
        const next = this.current()
        next.header = header
        for (const [id, w] of added) next.wrapped.set(id, w)
        for (const id of shredded) {
          next.wrapped.delete(id)
          next.shredded.add(id)
        }
        await this.rewrite(next)
        return true
      }
      await this.append(Buffer.concat(appended.map(encodeEntry)))
      for (const [id, w] of added) this.wrapped.set(id, w)
      for (const id of shredded) this.shreddedIds.add(id)
      this.log.push(...appended)
      this.changes++
      return false
    })
  }

  /** The master key id the KEK is wrapped with now (undefined in a sealed store never imported into). */
  get masterKey(): string | undefined {
    return this.header?.masterKeyId
  }

  /**
   * Increases with every durable change this object made or (a reader) read: compare two values to
   * know whether the store changed between them.
   */
  get generation(): number {
    return this.changes
  }

  /**
   * Names the store's durable state: equal versions of this object mean equal stores, and a later
   * version of the same epoch (no rewrite between) only added entries (see {@link changesSince}).
   */
  get version(): string {
    return `${this.instance}.${this.epoch}.${this.log.length}`
  }

  /**
   * The entries added since `version` (an earlier {@link version} of this object), when the store
   * was only appended to since; undefined when it was rewritten (a shred, a rotation) or `version` is
   * not this object's: then only the whole store says what it holds.
   */
  changesSince(version: string): Entry[] | undefined {
    const [instance, epoch, count] = version.split('.')
    const n = Number(count)
    if (instance !== this.instance || Number(epoch) !== this.epoch || !(n >= 0 && n <= this.log.length)) {
      return undefined
    }
    return this.log.slice(n)
  }

  /**
   * The store's durable state in its sealed form (the header first, then the keys, then the shredded
   * ids), as the file's bytes would be after a rewrite; undefined for a sealed store with no header
   * yet.
   */
  sealedEntries(): Entry[] | undefined {
    return this.header === undefined ? undefined : entriesOf(this.current())
  }

  /** Waits for writes under way and closes the file. */
  async close(): Promise<void> {
    await this.writes.catch(() => {})
    if (this.fd >= 0) {
      const fd = this.fd
      this.fd = -1
      await this.options.files.close(fd).catch(() => {})
    }
  }

  /** Appends the queued keys, once the write under way is done. */
  private flush(): Promise<void> {
    this.flushing ??= this.serial(async () => {
      this.flushing = undefined
      const ids = this.queued
      this.queued = []
      const refused = ids.filter((id) => this.shreddedIds.has(id) || this.shredding.has(id))
      if (refused.length > 0) {
        for (const id of ids) this.creating.delete(id)
        throw WalError.INVALID_ARGUMENT(`key '${refused[0]}' was shredded: nothing more is encrypted with it`)
      }
      const kek = this.kek
      if (kek === undefined) {
        for (const id of ids) this.creating.delete(id)
        throw WalError.INVALID_ARGUMENT('a sealed key store creates no keys (it has no master key)')
      }
      const keys = ids.map((keyId) => {
        const key = randomBytes(32)
        return { keyId, key, wrapped: seal(kek, key, Buffer.from(keyId)) }
      })
      const bytes = Buffer.concat(
        keys.map(({ keyId, wrapped }) => encodeEntry({ kind: 'key', keyId, wrapped })),
      )
      try {
        await this.append(bytes)
      } catch (err) {
        for (const id of ids) this.creating.delete(id)
        throw err
      }
      for (const { keyId, key, wrapped } of keys) {
        this.wrapped.set(keyId, wrapped)
        this.unwrapped.set(keyId, key)
        this.creating.delete(keyId)
        this.log.push({ kind: 'key', keyId, wrapped })
      }
      this.changes++
    })
    return this.flushing
  }

  /** Runs `work` after every write before it. */
  private serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.writes.then(work, work)
    this.writes = run.catch(() => {})
    return run
  }

  private async withFile(work: (fd: Fd) => Promise<void>): Promise<void> {
    if (this.fd < 0) this.fd = await this.options.files.open(this.path, 'r+')
    await work(this.fd)
  }

  /** Appends whole entries at the end and fdatasyncs them. */
  private async append(bytes: Buffer): Promise<void> {
    try {
      await this.withFile(async (fd) => {
        await this.options.files.write(fd, bytes, 0, bytes.length, this.end)
        await this.options.files.fdatasync(fd)
      })
    } catch (err) {
      throw WalError.IO(`appending keys to ${this.path} failed`, { cause: err, file: this.path })
    }
    this.end += bytes.length
  }

  /** A copy of the store's durable state, to change and {@link rewrite} before it replaces the state. */
  private current(): KeyStoreState {
    return { header: this.header, wrapped: new Map(this.wrapped), shredded: new Set(this.shreddedIds) }
  }

  /**
   * Writes `state` as the whole store (a temp file renamed into place, see the module comment), then
   * makes it the store's state, in one step with a new {@link version}: a version never names a
   * state the store does not hold.
   */
  private async rewrite(state: KeyStoreState): Promise<void> {
    const { files, dir, fileMode } = this.options
    const bytes = Buffer.concat(entriesOf(state).map(encodeEntry))
    const temp = `${this.path}.tmp`
    try {
      const fd = await files.open(temp, 'w', fileMode)
      try {
        await files.write(fd, bytes, 0, bytes.length, 0)
        await files.fdatasync(fd)
      } finally {
        await files.close(fd)
      }
      // The old file's descriptor must not be written after the rename.
      if (this.fd >= 0) {
        await files.close(this.fd).catch(() => {})
        this.fd = -1
      }
      await files.rename(temp, this.path)
      this.end = bytes.length
      await files.syncDir(dir)
    } catch (err) {
      await files.unlink(temp).catch(() => {})
      throw WalError.IO(`rewriting ${this.path} failed`, { cause: err, file: this.path })
    }
    this.header = state.header
    this.wrapped = state.wrapped
    this.shreddedIds = state.shredded
    this.epoch++
    this.log = []
    this.changes++
  }
}

/**
 * The entries of a whole store: the header, every key, every shredded id.
 *
 * @throws WalError `WAL_KEYRING` when the header's master key id or wrapped KEK would not read back
 */
export function entriesOf(state: KeyStoreState): Entry[] {
  const { header } = state
  if (header === undefined) throw new Error('a key store without a header is never written')
  checkHeader(header.masterKeyId, header.wrappedKek)
  const entries: Entry[] = [header]
  for (const [keyId, wrapped] of state.wrapped) entries.push({ kind: 'key', keyId, wrapped })
  for (const keyId of state.shredded) entries.push({ kind: 'shredded', keyId })
  return entries
}

/**
 * Applies key and shredded entries to `state`, in order. A shredded id stays shredded (a key entry for
 * it is ignored); an id with two different key entries is damage.
 *
 * @param file - named in errors
 * @throws WalError `WAL_CORRUPT` (a second header, two keys for one id)
 */
export function applyEntries(state: KeyStoreState, entries: readonly Entry[], file: string): void {
  for (const e of entries) {
    if (e.kind === 'header') throw WalError.CORRUPT(`${file}: a second header`, { file })
    if (e.kind === 'shredded') {
      state.wrapped.delete(e.keyId)
      state.shredded.add(e.keyId)
    } else if (!state.shredded.has(e.keyId)) {
      const known = state.wrapped.get(e.keyId)
      if (known !== undefined && !known.equals(e.wrapped)) {
        throw WalError.CORRUPT(`${file}: two keys for the id '${e.keyId}'`, { file })
      }
      state.wrapped.set(e.keyId, e.wrapped)
    }
  }
}

/** Whether two headers wrap the KEK the same way (the same master key id and wrapped bytes). */
function sameHeader(a: Header, b: Header | undefined): boolean {
  return b !== undefined && a.masterKeyId === b.masterKeyId && a.wrappedKek.equals(b.wrappedKek)
}

/**
 * Unwraps a store's KEK with the keyring.
 *
 * @throws WalError `WAL_KEYRING`
 */
async function unwrapKek(keyring: Keyring, header: Header, file: string): Promise<Buffer> {
  let kek: Buffer
  try {
    kek = Buffer.from(await keyring.unwrap(header.wrappedKek, header.masterKeyId))
  } catch (err) {
    throw WalError.KEYRING(
      `the keyring cannot unwrap the key store's key with master key '${header.masterKeyId}' (a wrong or missing master key)`,
      { cause: err, file },
    )
  }
  if (kek.length !== 32) throw WalError.KEYRING(`the keyring unwrapped ${kek.length} bytes, not 32`, { file })
  return kek
}

/**
 * Checks an entry handed in from outside (an import) the way reading it from a file would.
 *
 * @throws WalError `WAL_INVALID_ARGUMENT`
 */
export function checkEntry(e: Entry): void {
  const bad = (why: string) => WalError.INVALID_ARGUMENT(`a key store entry ${why}`)
  if (e === null || typeof e !== 'object') throw bad('must be an object')
  if (e.kind === 'header') {
    if (!Buffer.isBuffer(e.wrappedKek)) throw bad('(header) needs wrappedKek bytes')
    try {
      checkHeader(e.masterKeyId, e.wrappedKek)
    } catch (err) {
      throw bad(`(header): ${(err as Error).message}`)
    }
  } else if (e.kind === 'key' || e.kind === 'shredded') {
    checkKeyId(e.keyId)
    if (e.kind === 'key' && (!Buffer.isBuffer(e.wrapped) || e.wrapped.length !== WRAPPED)) {
      throw bad(`(key '${e.keyId}') needs a sealed key of ${WRAPPED} bytes`)
    }
  } else {
    throw bad(`has an unknown kind '${String((e as { kind: unknown }).kind)}'`)
  }
}

/** AES-256-GCM of `plain` under `key`, with `aad`: nonce, ciphertext, tag. */
function seal(key: Buffer, plain: Buffer, aad: Buffer): Buffer {
  const nonce = randomBytes(NONCE)
  const cipher = createCipheriv('aes-256-gcm', key, nonce)
  cipher.setAAD(aad)
  const body = Buffer.concat([cipher.update(plain), cipher.final()])
  return Buffer.concat([nonce, body, cipher.getAuthTag()])
}

/** Opens what {@link seal} sealed; throws when it does not authenticate. */
function open(key: Buffer, sealed: Buffer, aad: Buffer): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, NONCE))
  decipher.setAAD(aad)
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG))
  return Buffer.concat([decipher.update(sealed.subarray(NONCE, sealed.length - TAG)), decipher.final()])
}

/** The bytes of one entry: length, kind, body, CRC-32 (see the module comment). */
export function encodeEntry(entry: Entry): Buffer {
  let body: Buffer
  if (entry.kind === 'header') {
    const id = Buffer.from(entry.masterKeyId)
    body = Buffer.alloc(2 + 1 + id.length + 2 + entry.wrappedKek.length)
    body.writeUInt16LE(VERSION, 0)
    body[2] = id.length
    id.copy(body, 3)
    body.writeUInt16LE(entry.wrappedKek.length, 3 + id.length)
    entry.wrappedKek.copy(body, 5 + id.length)
  } else {
    const id = Buffer.from(entry.keyId)
    const extra = entry.kind === 'key' ? entry.wrapped : Buffer.alloc(0)
    body = Buffer.alloc(2 + id.length + extra.length)
    body.writeUInt16LE(id.length, 0)
    id.copy(body, 2)
    extra.copy(body, 2 + id.length)
  }
  const kind = entry.kind === 'header' ? KIND_HEADER : entry.kind === 'key' ? KIND_KEY : KIND_SHREDDED
  const out = Buffer.alloc(4 + 1 + body.length + 4)
  out.writeUInt32LE(body.length, 0)
  out[4] = kind
  body.copy(out, 5)
  out.writeUInt32LE(crc32(out.subarray(4, 5 + body.length)), 5 + body.length)
  return out
}

/**
 * The entries of a key store file, and where its valid part ends: an entry cut short or failing its
 * checksum at the very end is a torn append (left out); anywhere else it is damage.
 *
 * @throws WalError `WAL_CORRUPT`
 */
export function parseEntries(bytes: Buffer, file: string): { entries: Entry[]; validEnd: number } {
  const entries: Entry[] = []
  let at = 0
  while (at < bytes.length) {
    const bad = (reason: string) =>
      WalError.CORRUPT(`${file} at offset ${at}: ${reason}`, { file, offset: at })
    if (at + 4 > bytes.length) break // torn: not even a length
    const n = bytes.readUInt32LE(at)
    if (n < 1 || n > MAX_BODY) {
      // A length no entry has: damage, unless nothing follows that could be an entry.
      if (at + 4 + 1 + 4 >= bytes.length) break
      throw bad(`entry length ${n}`)
    }
    const end = at + 4 + 1 + n + 4
    if (end > bytes.length) break // torn: the entry is cut short
    if (bytes.readUInt32LE(end - 4) !== crc32(bytes.subarray(at + 4, end - 4))) {
      if (end === bytes.length) break // torn: the last entry's bytes did not all reach the disk
      throw bad('checksum mismatch')
    }
    entries.push(decodeEntry(bytes[at + 4]!, bytes.subarray(at + 5, end - 4), bad))
    at = end
  }
  if (at < bytes.length && holdsEntry(bytes, at + 1)) {
    throw WalError.CORRUPT(`${file} at offset ${at}: a damaged entry with whole entries after it`, {
      file,
      offset: at,
    })
  }
  return { entries, validEnd: at }
}

/** Whether a whole, checksummed key or shredded entry starts anywhere in `bytes` from `from` on. */
function holdsEntry(bytes: Buffer, from: number): boolean {
  for (let p = from; p + 9 <= bytes.length; p++) {
    const n = bytes.readUInt32LE(p)
    const kind = bytes[p + 4]
    if (n < 3 || n > MAX_BODY || (kind !== KIND_KEY && kind !== KIND_SHREDDED)) continue
    const end = p + 9 + n
    if (end <= bytes.length && bytes.readUInt32LE(end - 4) === crc32(bytes.subarray(p + 4, end - 4)))
      return true
  }
  return false
}

function decodeEntry(kind: number, body: Buffer, bad: (reason: string) => WalError): Entry {
  if (kind === KIND_HEADER) {
    if (body.length < 5 || body.readUInt16LE(0) !== VERSION) throw bad('unsupported key store version')
    const idLength = body[2]!
    const wrappedLength = body.length >= 5 + idLength ? body.readUInt16LE(3 + idLength) : -1
    if (5 + idLength + wrappedLength !== body.length) throw bad('bad header')
    return {
      kind: 'header',
      masterKeyId: body.toString('utf8', 3, 3 + idLength),
      wrappedKek: Buffer.from(body.subarray(5 + idLength)),
    }
  }
  if (kind !== KIND_KEY && kind !== KIND_SHREDDED) throw bad(`unknown entry kind ${kind}`)
  const idLength = body.length >= 2 ? body.readUInt16LE(0) : -1
  const expected = 2 + idLength + (kind === KIND_KEY ? WRAPPED : 0)
  if (idLength < 0 || body.length !== expected) throw bad('bad key entry')
  const keyId = body.toString('utf8', 2, 2 + idLength)
  if (kind === KIND_SHREDDED) return { kind: 'shredded', keyId }
  return { kind: 'key', keyId, wrapped: Buffer.from(body.subarray(2 + idLength)) }
}

/**
 * Checks what a header stores: a master key id of 1 to 255 UTF-8 bytes and a wrapped KEK of at most
 * 65,535 bytes (a longer one would not read back).
 *
 * @throws WalError `WAL_KEYRING`
 */
export function checkHeader(masterKeyId: string, wrappedKek: Buffer): void {
  const idBytes = typeof masterKeyId === 'string' ? Buffer.byteLength(masterKeyId) : 0
  if (idBytes < 1 || idBytes > 255 || !wellFormed(masterKeyId)) {
    throw WalError.KEYRING("the keyring's currentKeyId must be 1 to 255 UTF-8 bytes")
  }
  if (wrappedKek.length < 1 || wrappedKek.length > 65_535) {
    throw WalError.KEYRING(
      `the keyring wrapped the key into ${wrappedKek.length} bytes; at most 65,535 are stored`,
    )
  }
}

/**
 * Checks a data key id: a string that round-trips through UTF-8 (a lone surrogate would collide with
 * another id on disk), of at most 65,535 bytes.
 *
 * @throws WalError `WAL_INVALID_ARGUMENT`
 */
export function checkKeyId(keyId: unknown): string {
  if (typeof keyId !== 'string' || !wellFormed(keyId) || Buffer.byteLength(keyId) > 65_535) {
    throw WalError.INVALID_ARGUMENT(
      `a key id must be a well-formed string of at most 65,535 UTF-8 bytes, got ${typeof keyId === 'string' ? 'a string that is not' : typeof keyId}`,
    )
  }
  return keyId
}

/** Whether a string round-trips through UTF-8 (no lone surrogate). */
function wellFormed(value: string): boolean {
  return (value as unknown as { isWellFormed(): boolean }).isWellFormed()
}
