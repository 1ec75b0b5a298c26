/**
 * Encryption of record data at rest. The serializer's bytes of an encrypted record are sealed with
 * AES-256-GCM under the data key of the record's key id (one per data subject, kept in the key store),
 * and the frame's data field holds:
 *
 * ```
 * u8 version (1) | u16 LE key id length | key id (UTF-8) | 12-byte nonce | ciphertext | 16-byte tag
 * u8 version (2) | u16 LE key id length | key id | u8 codec | u32 LE size | 12-byte nonce | ciphertext | tag
 * ```
 *
 * Version 2 (a log with `compression`): the serializer's bytes were compressed with the codec before
 * they were sealed (compress, then encrypt), and are `size` bytes once decompressed.
 *
 * The associated data is the record's type and the field's first part (version and key id), so a
 * sealed field moved to a record of another type or relabelled with another key id fails to
 * authenticate. Seq, time, type, key and headers stay readable: ordering, stream reads and the CLI
 * work without keys. A record whose key was shredded reads with no data and `shredded: true`.
 *
 * @internal
 */
import { createCipheriv, createDecipheriv, randomFillSync } from 'node:crypto'
import { type BlockCompressor, decompressBlock } from './compression.js'
import { WalError } from './errors.js'
import { MIN_COMPRESS_BYTES } from './format.js'
import { checkKeyId, type KeyStore } from './key-store.js'
import type { RawRecord } from './serializer.js'

const VERSION = 1
const VERSION_COMPRESSED = 2
/** Codec id and decompressed size, in a compressed field's authenticated prefix. */
const COMPRESSED_HEAD = 5
const NONCE = 12
const TAG = 16

/**
 * Random nonces, drawn from the CSPRNG 4096 at a time: one `randomBytes(12)` per record cost more
 * than sealing the record. Each nonce is handed out once.
 */
const nonces = Buffer.alloc(NONCE * 4096)
let nonceAt = nonces.length

function nextNonce(): Buffer {
  if (nonceAt === nonces.length) {
    randomFillSync(nonces)
    nonceAt = 0
  }
  const nonce = nonces.subarray(nonceAt, nonceAt + NONCE)
  nonceAt += NONCE
  return nonce
}

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
  private readonly compressor: BlockCompressor | undefined
  private readonly maxDataSize: number

  /**
   * @param keys - the log's key store
   * @param keyFor - the key id of a record (default: its key, or `''` for records without one)
   * @param maxDataSize - the largest data a compressed field may decompress to (`maxRecordSize`)
   * @param compressor - compresses data before sealing it (a writer with `compression`)
   */
  constructor(
    keys: KeyStore,
    keyFor: ((record: KeyedRecord) => string) | undefined,
    maxDataSize: number,
    compressor?: BlockCompressor,
  ) {
    this.keys = keys
    this.keyFor = keyFor ?? defaultKeyFor
    this.maxDataSize = maxDataSize
    this.compressor = compressor
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

  /** Bytes of the sealed field of `plainLength` bytes under key id `keyId`, at most. */
  sealedSize(keyId: string, plainLength: number): number {
    const head = this.compressor === undefined ? 0 : COMPRESSED_HEAD
    return 3 + this.bytesOf(keyId).length + head + NONCE + plainLength + TAG
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
    let prefixEnd = at + 3 + id.length
    buf[at] = VERSION
    buf.writeUInt16LE(id.length, at + 1)
    id.copy(buf, at + 3)
    const compressed = this.compress(plain)
    if (compressed !== undefined) {
      buf[at] = VERSION_COMPRESSED
      buf[prefixEnd] = this.compressor!.id
      buf.writeUInt32LE(plain.byteLength, prefixEnd + 1)
      prefixEnd += COMPRESSED_HEAD
      plain = compressed
    }
    const nonce = nextNonce()
    nonce.copy(buf, prefixEnd)
    const cipher = createCipheriv('aes-256-gcm', key, nonce)
    // The associated data in two parts, as one stream: no concatenated copy per record.
    cipher.setAAD(type)
    cipher.setAAD(buf.subarray(at, prefixEnd))
    let end = prefixEnd + NONCE
    end += cipher.update(plain).copy(buf, end)
    end += cipher.final().copy(buf, end)
    return end + cipher.getAuthTag().copy(buf, end)
  }

  /**
   * The data compressed, when this cipher compresses and that is worth it (as for blocks: 256 bytes
   * or more, saving an eighth at least), else undefined.
   */
  private compress(plain: Uint8Array): Buffer | undefined {
    if (this.compressor === undefined || plain.byteLength < MIN_COMPRESS_BYTES) return undefined
    const compressed = this.compressor.compress(plain)
    return compressed.length + COMPRESSED_HEAD <= (plain.byteLength * 7) / 8 ? compressed : undefined
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
    const version = buf[start]
    if (end - start < 3 + NONCE + TAG || (version !== VERSION && version !== VERSION_COMPRESSED)) {
      throw corrupt('not a sealed data field')
    }
    const idLength = buf.readUInt16LE(start + 1)
    const idEnd = start + 3 + idLength
    const prefixEnd = idEnd + (version === VERSION_COMPRESSED ? COMPRESSED_HEAD : 0)
    if (prefixEnd + NONCE + TAG > end) throw corrupt('the sealed data field is cut short')
    let keyId: string
    try {
      keyId = UTF8.decode(buf.subarray(start + 3, idEnd))
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
    let plain: Buffer
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, buf.subarray(prefixEnd, prefixEnd + NONCE))
      decipher.setAAD(type)
      decipher.setAAD(buf.subarray(start, prefixEnd))
      decipher.setAuthTag(buf.subarray(end - TAG, end))
      plain = decipher.update(buf.subarray(prefixEnd + NONCE, end - TAG))
      decipher.final() // checks the tag; GCM holds nothing back, so it adds no bytes
    } catch (err) {
      throw corrupt('the encrypted data does not authenticate (damaged, or not sealed with this key)', err)
    }
    if (version === VERSION_COMPRESSED) {
      // Authenticated, so written by this log's writer: still bounded, never trusted to allocate.
      const size = buf.readUInt32LE(idEnd + 1)
      if (size > this.maxDataSize) throw corrupt(`compressed data of ${size} bytes, over ${this.maxDataSize}`)
      const out = decompressBlock(buf[idEnd]!, plain, size)
      if (typeof out === 'string') throw corrupt(out)
      plain = out
    }
    return { shredded: false, plain }
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

/**
 * The key id a record of an encrypted log was sealed with, read from its sealed data field (no key
 * needed): what a shred of that record's subject must destroy, whatever `keyFor` says today.
 *
 * @param record - a record from a raw read (`recordsRaw`, `recordsAtRaw`, `tailRaw`)
 * @returns the key id, or undefined when the record is not sealed (`encrypted` unset)
 * @throws WalError `WAL_CORRUPT` when its data is not a sealed data field
 */
export function sealedKeyId(record: Pick<RawRecord, 'seq' | 'data' | 'encrypted'>): string | undefined {
  if (record.encrypted !== true) return undefined
  const d = record.data
  const corrupt = (reason: string, cause?: unknown) =>
    WalError.CORRUPT(`seq ${record.seq}: ${reason}`, { seq: record.seq, cause })
  if (d.byteLength < 3 + NONCE + TAG || (d[0] !== VERSION && d[0] !== VERSION_COMPRESSED)) {
    throw corrupt('not a sealed data field')
  }
  const idEnd = 3 + (d[1]! | (d[2]! << 8))
  const head = d[0] === VERSION_COMPRESSED ? COMPRESSED_HEAD : 0
  if (idEnd + head + NONCE + TAG > d.byteLength) throw corrupt('the sealed data field is cut short')
  try {
    return UTF8.decode(d.subarray(3, idEnd))
  } catch (err) {
    throw corrupt('the key id is not UTF-8', err)
  }
}

function defaultKeyFor(record: KeyedRecord): string {
  return record.key ?? ''
}
