/**
 * An encrypted log's key store in its sealed form, for the log's copies: a replica (each entry travels
 * in a message of `@waltz/replicate-nats`) and an archive (the key store file is uploaded with the
 * segments). Nothing here needs or reveals a key: data keys stay sealed by the key-encryption key
 * (KEK), and the KEK stays wrapped by the master key, which only the keyring holds.
 *
 * The entries are those of `keys.wzk` (docs/FORMAT.md, "Key store"); {@link encodeKeyStoreEntry}
 * gives an entry's exact bytes in the file.
 */
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { WalError } from './errors.js'
import { type Files, nodeFiles } from './files.js'
import {
  applyEntries,
  checkEntry,
  type Entry,
  encodeEntry,
  entriesOf,
  KEY_STORE_FILE,
  KeyStore,
  type KeyStoreState,
  parseEntries,
} from './key-store.js'
import { silentLogger, type WalLogger } from './logger.js'

/**
 * One entry of a key store, sealed: the header (the KEK wrapped by a master key), a data key (sealed
 * by the KEK), or the id of a shredded key.
 */
export type KeyStoreEntry =
  | {
      /** The store's header: first in a store, exactly once. */
      readonly kind: 'header'
      /** The id of the master key that wrapped the KEK (the keyring's `currentKeyId` then). */
      readonly masterKeyId: string
      /** The KEK as the keyring wrapped it (opaque to waltz). */
      readonly wrappedKek: Uint8Array
    }
  | {
      /** A data key. */
      readonly kind: 'key'
      /** The key id (data subject) it seals records of. */
      readonly keyId: string
      /** 60 bytes: nonce (12), the 32-byte data key sealed by the KEK (AES-256-GCM, the key id as associated data), tag (16). */
      readonly wrapped: Uint8Array
    }
  | {
      /** A shredded key: its records read as shredded. */
      readonly kind: 'shredded'
      /** The key id that was shredded. */
      readonly keyId: string
    }

/** A key store as read at one moment. */
export interface SealedKeyStore {
  /** Differs whenever the store changed since (opaque: compare two values for equality only). */
  readonly version: string
  /**
   * The header first, then every data key, then every shredded id (a shredded id has no key entry);
   * or, when {@link incremental}, only the entries added since the version asked about.
   */
  readonly entries: readonly KeyStoreEntry[]
  /**
   * True when `entries` are only those added since the `since` version given to `keyStore` (the
   * store was appended to, not rewritten, in between: no shred, no rotation).
   */
  readonly incremental: boolean
}

/**
 * The exact bytes of an entry as `keys.wzk` stores it: length, kind, body, CRC-32.
 *
 * @param entry - the entry
 * @returns its bytes
 * @throws WalError `WAL_INVALID_ARGUMENT` for an entry that would not read back (a key id that is no
 *   well-formed string of at most 65,535 UTF-8 bytes, a sealed key that is not 60 bytes, a master key
 *   id of more than 255 bytes)
 */
export function encodeKeyStoreEntry(entry: KeyStoreEntry): Uint8Array {
  const e = checkedEntry(entry)
  checkEntry(e)
  return encodeEntry(e)
}

/**
 * Reads one entry from its bytes ({@link encodeKeyStoreEntry}'s): all of them, checksum included.
 *
 * @param bytes - exactly one entry
 * @param what - names the bytes in the error (e.g. a message)
 * @returns the entry
 * @throws WalError `WAL_CORRUPT` for bytes that are not exactly one intact entry
 */
export function decodeKeyStoreEntry(bytes: Uint8Array, what = 'a key store entry'): KeyStoreEntry {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const { entries, validEnd } = parseEntries(buf, what)
  if (entries.length !== 1 || validEnd !== buf.length) {
    throw WalError.CORRUPT(`${what} is not one intact key store entry`, { file: what })
  }
  return entries[0]!
}

/**
 * Reads a whole key store from its bytes (a copy downloaded from an archive), strictly: every entry
 * intact, the header first.
 *
 * @param bytes - the file's bytes
 * @param file - names the bytes in errors
 * @returns its entries, as {@link SealedKeyStore.entries}
 * @throws WalError `WAL_CORRUPT` (a damaged or cut-short entry, no header first, two keys for an id)
 */
export function parseKeyStore(bytes: Uint8Array, file = KEY_STORE_FILE): KeyStoreEntry[] {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const { entries, validEnd } = parseEntries(buf, file)
  if (validEnd !== buf.length) {
    throw WalError.CORRUPT(`${file} at offset ${validEnd}: an entry is cut short or damaged`, {
      file,
      offset: validEnd,
    })
  }
  return fold(entries, file)
}

/**
 * Reads the key store of the log in `dir` as it is on disk now (a writer may be adding to it: an
 * entry it is still writing is left out, as a restart would cut it).
 *
 * @param dir - a log directory
 * @returns the store, or undefined when `dir` holds none (the log is not encrypted)
 * @throws WalError `WAL_CORRUPT` (damage before the last entry), `WAL_IO`
 */
export function readKeyStore(dir: string): Promise<SealedKeyStore | undefined> {
  return readKeyStoreWith(nodeFiles, dir)
}

/**
 * {@link readKeyStore} through `files`.
 *
 * @internal
 */
export async function readKeyStoreWith(files: Files, dir: string): Promise<SealedKeyStore | undefined> {
  const path = join(dir, KEY_STORE_FILE)
  const version = await keyStoreVersion(dir)
  if (version === undefined) return undefined
  let bytes: Buffer
  try {
    bytes = await files.readFile(path)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw WalError.IO(`cannot read ${path}`, { cause: err, file: path })
  }
  if (bytes.length === 0) return undefined
  return { version, entries: fold(parseEntries(bytes, path).entries, path), incremental: false }
}

/**
 * The version {@link readKeyStore} would report for `dir`'s key store now, without reading it: its
 * identity, size and modification time (an append grows the file, a rewrite replaces it).
 *
 * @returns undefined when there is no key store
 * @throws WalError `WAL_IO`
 * @internal
 */
export async function keyStoreVersion(dir: string): Promise<string | undefined> {
  const path = join(dir, KEY_STORE_FILE)
  try {
    const st = await stat(path)
    return `${st.ino}:${st.size}:${st.mtimeMs}`
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw WalError.IO(`cannot read ${path}`, { cause: err, file: path })
  }
}

/** Options of {@link importKeys}. */
export interface ImportKeysOptions {
  /** Permission bits of a key store created here. Default `0o600`. */
  fileMode?: number
  /** Where a cut torn entry is reported. Default: silent. */
  logger?: WalLogger
}

/**
 * Takes key store entries into the key store of `dir` (creating it), as {@link Wal.importKeys} does
 * for an open sealed copy: for a directory no writer has open, such as segments fetched from an
 * archive (`waltz archive fetch`). Durable when it resolves.
 *
 * @param dir - the directory
 * @param entries - the entries, in order; the header is required when `dir` has no key store yet
 * @param options - file mode and logger
 * @returns whether the file was rewritten (a shred or a new header)
 * @throws WalError `WAL_INVALID_ARGUMENT` (no header for a new store, two keys for one id, a malformed
 *   entry), `WAL_CORRUPT` (the store in `dir` is damaged), `WAL_IO`
 */
export async function importKeys(
  dir: string,
  entries: Iterable<KeyStoreEntry>,
  options: ImportKeysOptions = {},
): Promise<boolean> {
  const store = await KeyStore.open({
    files: nodeFiles,
    dir,
    keyring: undefined,
    readOnly: false,
    logHasRecords: false,
    fileMode: options.fileMode ?? 0o600,
    logger: options.logger ?? silentLogger,
  })
  try {
    return await store.import(toEntries(entries))
  } finally {
    await store.close()
  }
}

/**
 * Entries as the key store takes them (Buffers), checked as far as their shape goes (the store
 * checks the rest).
 *
 * @throws WalError `WAL_INVALID_ARGUMENT`
 * @internal
 */
export function toEntries(entries: Iterable<KeyStoreEntry>): Entry[] {
  if (entries === null || typeof (entries as Iterable<unknown>)?.[Symbol.iterator] !== 'function') {
    throw WalError.INVALID_ARGUMENT('key store entries must be iterable')
  }
  const out: Entry[] = []
  for (const e of entries) out.push(checkedEntry(e))
  return out
}

/** An entry with Buffer fields, its shape checked. */
function checkedEntry(e: KeyStoreEntry): Entry {
  const bytes = (value: unknown, what: string): Buffer => {
    if (!(value instanceof Uint8Array))
      throw WalError.INVALID_ARGUMENT(`a key store entry needs ${what} bytes`)
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength)
  }
  switch (e?.kind) {
    case 'header':
      if (typeof e.masterKeyId !== 'string' || e.masterKeyId === '' || Buffer.byteLength(e.masterKeyId) > 255)
        throw WalError.INVALID_ARGUMENT('a key store header needs a master key id of 1 to 255 UTF-8 bytes')
      return { kind: 'header', masterKeyId: e.masterKeyId, wrappedKek: bytes(e.wrappedKek, 'wrappedKek') }
    case 'key':
      return { kind: 'key', keyId: e.keyId, wrapped: bytes(e.wrapped, 'wrapped') }
    case 'shredded':
      return { kind: 'shredded', keyId: e.keyId }
    default:
      throw WalError.INVALID_ARGUMENT(`a key store entry has no kind 'header', 'key' or 'shredded'`)
  }
}

/** The state a file's entries leave, as entries. */
function fold(entries: readonly Entry[], file: string): KeyStoreEntry[] {
  const header = entries[0]
  if (header?.kind !== 'header')
    throw WalError.CORRUPT(`${file}: the first entry is not the header`, { file })
  const state: KeyStoreState = { header, wrapped: new Map(), shredded: new Set() }
  applyEntries(state, entries.slice(1), file)
  return entriesOf(state)
}
