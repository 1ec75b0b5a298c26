/**
 * The key store an encrypted log keeps in its archive (`keys.wzk`, sealed: data keys under the log's
 * key-encryption key, that one wrapped by the master key), downloaded and checked: the size and the
 * SHA-256 the archive recorded, then every entry (core's `parseKeyStore`). And the key ids the sealed
 * records of a segment need, so that `archive verify` finds a segment whose keys the archive lacks.
 */
import { createHash } from 'node:crypto'
import {
  type Archive,
  KEY_STORE_FILE,
  type KeyStoreEntry,
  parseKeyStore,
  sealedKeyId,
  Wal,
} from '@waltz/core'
import { archiveFailure } from './archive-failure.js'
import type { SegmentProblem } from './segment-download.js'

/** What the download of the archived key store and its checks found. */
export interface CheckedKeyStore {
  /** `keys.wzk`. */
  readonly name: string
  /** Bytes downloaded. */
  readonly size: number
  /** SHA-256 of the bytes downloaded. */
  readonly sha256: string
  /** Whether the archive recorded a SHA-256 that the bytes were checked against. */
  readonly sha256Recorded: boolean
  /** Data keys it holds. */
  readonly keys: number
  /** Shredded key ids it lists. */
  readonly shredded: number
  /** The master key its key-encryption key is wrapped with (null when it cannot be read). */
  readonly masterKeyId: string | null
  /** Empty when it is intact. */
  readonly problems: readonly SegmentProblem[]
  /** Its entries, when intact. */
  readonly entries: readonly KeyStoreEntry[] | undefined
  /** Its bytes, when intact. */
  readonly bytes: Buffer | undefined
}

/**
 * Downloads the archive's key store (small: read whole) and checks it.
 *
 * @returns undefined when the archive holds none (a log that is not encrypted)
 * @throws CliError from {@link archiveFailure} when the archive fails the request
 */
export async function downloadKeyStore(
  archive: Archive,
  signal: AbortSignal,
): Promise<CheckedKeyStore | undefined> {
  const action = `downloading ${KEY_STORE_FILE}`
  let bytes: Buffer
  let recorded: { size: number; sha256: string | undefined }
  try {
    const download = await archive.get(KEY_STORE_FILE, signal)
    if (download === undefined) return undefined
    const chunks: Uint8Array[] = []
    for await (const chunk of download.body) chunks.push(chunk)
    bytes = Buffer.concat(chunks)
    recorded = { size: download.size, sha256: download.sha256 }
  } catch (err) {
    throw archiveFailure(err, archive.name, action)
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex')
  const problems: SegmentProblem[] = []
  const problem = (code: string, reason: string, offset?: number) => problems.push({ code, offset, reason })
  if (recorded.size >= 0 && bytes.length !== recorded.size) {
    problem('size', `${bytes.length} bytes downloaded, the archive reported ${recorded.size}`)
  }
  if (recorded.sha256 !== undefined && recorded.sha256 !== sha256) {
    problem(
      'sha256',
      `SHA-256 ${sha256} of the bytes is not ${recorded.sha256}, recorded when it was archived`,
    )
  }
  let entries: KeyStoreEntry[] | undefined
  if (problems.length === 0) {
    try {
      entries = parseKeyStore(bytes, KEY_STORE_FILE)
    } catch (err) {
      const e = err as { offset?: number; message: string }
      problem('key-store', e.message.replace(/^WAL_CORRUPT: /, ''), e.offset ?? 0)
    }
  }
  const header = entries?.[0]
  return {
    name: KEY_STORE_FILE,
    size: bytes.length,
    sha256,
    sha256Recorded: recorded.sha256 !== undefined,
    keys: entries?.filter((e) => e.kind === 'key').length ?? 0,
    shredded: entries?.filter((e) => e.kind === 'shredded').length ?? 0,
    masterKeyId: header?.kind === 'header' ? header.masterKeyId : null,
    problems,
    entries,
    bytes: entries === undefined ? undefined : bytes,
  }
}

/**
 * The key ids the sealed records of the segments in `dir` are sealed with, each with the first seq
 * that needs it (raw reads: nothing is decrypted, no key is needed).
 *
 * @param dir - a directory of intact segments
 * @returns the ids, and how many records are sealed
 * @throws WalError when the segments cannot be read
 */
export async function sealedKeyIds(dir: string): Promise<{ sealed: number; keyIds: Map<string, number> }> {
  const reader = await Wal.openReader({ dir })
  const keyIds = new Map<string, number>()
  let sealed = 0
  try {
    for await (const r of reader.recordsRaw()) {
      if (r.encrypted !== true) continue
      sealed++
      let keyId: string
      try {
        keyId = sealedKeyId(r) ?? '(malformed)'
      } catch {
        keyId = '(malformed)'
      }
      if (!keyIds.has(keyId)) keyIds.set(keyId, r.seq)
    }
  } finally {
    await reader.close()
  }
  return { sealed, keyIds }
}

/**
 * The problems of a segment whose sealed records need keys that `store` does not hold: no key store
 * in the archive at all, or one without their keys (neither a key nor a shredded id).
 *
 * @param found - what {@link sealedKeyIds} found in the segment
 * @param store - the archive's key store (undefined: none; one with problems checks nothing)
 */
export function keyProblems(
  found: { sealed: number; keyIds: ReadonlyMap<string, number> },
  store: CheckedKeyStore | undefined,
): SegmentProblem[] {
  if (found.sealed === 0) return []
  if (store === undefined) {
    const reason = `${found.sealed} encrypted records, and the archive holds no ${KEY_STORE_FILE}: no keyring can read them`
    return [{ code: 'keys-missing', offset: undefined, reason }]
  }
  if (store.entries === undefined) return []
  const held = new Set(store.entries.flatMap((e) => (e.kind === 'header' ? [] : [e.keyId])))
  const missing = [...found.keyIds].filter(([keyId]) => !held.has(keyId))
  if (missing.length === 0) return []
  const [keyId, seq] = missing[0]!
  const more = missing.length > 1 ? ` (and ${missing.length - 1} more key ids)` : ''
  const reason = `seq ${seq} is sealed with key '${keyId}', which the archived ${KEY_STORE_FILE} does not hold${more}`
  return [{ code: 'keys-missing', offset: undefined, reason }]
}
