/**
 * Encryption of record data at rest. The serializer's bytes of an encrypted record are sealed with
 * AES-256-GCM under the data key of the record's key id (one per data subject, kept in the key store),
 * and the frame's data field holds:
 *
 * ```
 * u8 version (1) | u16 LE key id length | key id (UTF-8) | 12-byte nonce | ciphertext | 16-byte tag
 * ```
 *
 * The associated data is the record's type and the field's first part (version and key id), so a
 * sealed field moved to a record of another type or relabelled with another key id fails to
 * authenticate. Seq, time, type, key and headers stay readable: ordering, stream reads and the CLI
 * work without keys. A record whose key was shredded reads with no data and `shredded: true`.
 *
 * @internal
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { WalError } from './errors.js'
import { checkKeyId, type KeyStore } from './key-store.js'

const VERSION = 1
const NONCE = 12
const TAG = 16

/** What `keyFor` sees of a record being appended. */
export interface KeyedRecord {
  /** The record type. */
  readonly type: string
  /** The record key (a stream), when it has one. */
  readonly key?: string | undefined
  /** The record headers, when it has any. */
  readonly headers?: Readonly<Record<string, string>> | undefined
}

/** What opening a sealed field found. */
export type Opened = { shredded: false; plain: Buffer } | { shredded: true }

/** Seals and opens record data (see the module comment). */
export class RecordCipher {
  /** The key store the data keys come from. */
  readonly keys: KeyStore
  private readonly keyFor: (record: KeyedRecord) => string
  private readonly idBytes = new Map<string, Buffer>()

  /**
   * @param keys - the log's key store
   * @param keyFor - the key id of a record (default: its key, or `''` for records without one)
   */
  constructor(keys: KeyStore, keyFor: ((record: KeyedRecord) => string) | undefined) {
    this.keys = keys
    this.keyFor = keyFor ?? defaultKeyFor
  }

  /**
   * The key id of a record being appended.
   *
   * @throws WalError `WAL_INVALID_ARGUMENT` when `keyFor` returns no string or one over 65,535 bytes
   */
  keyIdOf(record: KeyedRecord): string {
    let id: unknown
    try {
      id = this.keyFor(record)
    } catch (err) {
      throw WalError.INVALID_ARGUMENT('encryption.keyFor threw', { cause: err })
    }
    return checkKeyId(id)
  }

  /** Bytes of the sealed field of `plainLength` bytes under key id `keyId`. */
  sealedSize(keyId: string, plainLength: number): number {
    return 3 + this.bytesOf(keyId).length + NONCE + plainLength + TAG
  }

  /**
   * Seals `plain` into `buf` at `at` (capacity checked by the caller).
   *
   * @param type - the record type's UTF-8 bytes (associated data)
   * @returns the offset just past the field
   * @throws Error when the key is not in the store (the caller ensured it)
   */
  seal(buf: Buffer, at: number, keyId: string, plain: Uint8Array, type: Uint8Array): number {
    const key = this.keys.dataKey(keyId)
    if (key === undefined) {
      // Shredded between the append's key check and its encoding (a shred racing the append).
      throw this.keys.state(keyId) === 'shredded'
        ? WalError.INVALID_ARGUMENT(`key '${keyId}' was shredded: nothing more is encrypted with it`)
        : WalError.KEYRING(`no data key for '${keyId}'`)
    }
    const id = this.bytesOf(keyId)
    const prefixEnd = at + 3 + id.length
    buf[at] = VERSION
    buf.writeUInt16LE(id.length, at + 1)
    id.copy(buf, at + 3)
    const nonce = randomBytes(NONCE)
    nonce.copy(buf, prefixEnd)
    const cipher = createCipheriv('aes-256-gcm', key, nonce)
    cipher.setAAD(Buffer.concat([type, buf.subarray(at, prefixEnd)]))
    let end = prefixEnd + NONCE
    end += cipher.update(plain).copy(buf, end)
    end += cipher.final().copy(buf, end)
    return end + cipher.getAuthTag().copy(buf, end)
  }

  /**
   * Opens the sealed field `buf[start..end)` of record `seq`.
   *
   * @param type - the record type's UTF-8 bytes (associated data)
   * @throws WalError `WAL_CORRUPT` (a malformed field, or one that does not authenticate), `WAL_KEYRING`
   *   (a key id the key store does not know)
   */
  open(buf: Buffer, start: number, end: number, type: Uint8Array, seq: number, file: string): Opened {
    const corrupt = (reason: string, cause?: unknown) =>
      WalError.CORRUPT(`${file}: seq ${seq}: ${reason}`, { file, seq, cause })
    if (end - start < 3 + NONCE + TAG || buf[start] !== VERSION) throw corrupt('not a sealed data field')
    const idLength = buf.readUInt16LE(start + 1)
    const prefixEnd = start + 3 + idLength
    if (prefixEnd + NONCE + TAG > end) throw corrupt('the sealed data field is cut short')
    let keyId: string
    try {
      keyId = UTF8.decode(buf.subarray(start + 3, prefixEnd))
    } catch (err) {
      throw corrupt('the key id is not UTF-8', err)
    }
    const state = this.keys.state(keyId)
    if (state === 'shredded') return { shredded: true }
    if (state === 'unknown') {
      throw WalError.KEYRING(
        `seq ${seq} is encrypted with key '${keyId}', which the key store does not hold`,
        {
          file,
          seq,
        },
      )
    }
    const key = this.keys.dataKey(keyId)!
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, buf.subarray(prefixEnd, prefixEnd + NONCE))
      decipher.setAAD(Buffer.concat([type, buf.subarray(start, prefixEnd)]))
      decipher.setAuthTag(buf.subarray(end - TAG, end))
      const plain = Buffer.concat([
        decipher.update(buf.subarray(prefixEnd + NONCE, end - TAG)),
        decipher.final(),
      ])
      return { shredded: false, plain }
    } catch (err) {
      throw corrupt('the encrypted data does not authenticate (damaged, or not sealed with this key)', err)
    }
  }

  private bytesOf(keyId: string): Buffer {
    let bytes = this.idBytes.get(keyId)
    if (bytes === undefined) {
      bytes = Buffer.from(keyId, 'utf8')
      if (this.idBytes.size >= 4096) this.idBytes.clear() // many subjects must not grow memory
      this.idBytes.set(keyId, bytes)
    }
    return bytes
  }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

function defaultKeyFor(record: KeyedRecord): string {
  return record.key ?? ''
}

/**
 * The key id a sealed data field names (a raw record of an encrypted log, `encrypted: true`): the
 * data key its data was sealed with, which a copy of the log needs before it stores the record.
 *
 * @param data - the record's stored data
 * @returns the key id, or undefined for bytes that are not a sealed field (version, lengths, UTF-8)
 */
export function sealedKeyId(data: Uint8Array): string | undefined {
  if (data.length < 3 + NONCE + TAG || data[0] !== VERSION) return undefined
  const idLength = data[1]! | (data[2]! << 8)
  if (3 + idLength + NONCE + TAG > data.length) return undefined
  try {
    return UTF8.decode(data.subarray(3, 3 + idLength))
  } catch {
    return undefined
  }
}
