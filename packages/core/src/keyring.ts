/**
 * Master keys for encryption at rest. A {@link Keyring} wraps and unwraps the log's key-encryption key
 * (the key store's one secret, see `key-store.ts`) with a master key the caller holds: in memory from
 * an environment variable or a file ({@link localKeyring}), or in a KMS behind the same two calls. The
 * master key itself is never stored by waltz.
 *
 * @internal
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'

/**
 * Where the master key lives: wraps the log's key-encryption key for storage, and unwraps it at open.
 * Implement it over a KMS (`Encrypt`/`Decrypt` of 32 bytes), or use {@link localKeyring}.
 */
export interface Keyring {
  /** The id of the master key new wraps use (stored beside the wrapped key, so rotation can find the old one). */
  readonly currentKeyId: string
  /**
   * Wraps (encrypts and authenticates) `key` with the current master key.
   *
   * @param key - 32 bytes
   * @returns the wrapped bytes, opaque to waltz
   */
  wrap(key: Uint8Array): Promise<Uint8Array> | Uint8Array
  /**
   * Unwraps bytes that {@link wrap} returned, with the master key `masterKeyId` (the current one or an
   * older one the keyring still holds).
   *
   * @returns the 32-byte key
   * @throws when the master key is unknown or the bytes do not authenticate (a wrong master key)
   */
  unwrap(wrapped: Uint8Array, masterKeyId: string): Promise<Uint8Array> | Uint8Array
}

/** A master key held in memory: an id and 32 bytes. */
export interface MasterKey {
  /** Names the key in the key store (not secret), e.g. `'2026-12'`. */
  readonly id: string
  /** 32 bytes (AES-256), e.g. `Buffer.from(process.env.WALTZ_MASTER_KEY!, 'base64')`. */
  readonly key: Uint8Array
}

const NONCE = 12
const TAG = 16

/**
 * A {@link Keyring} over master keys held in memory (from an environment variable, a secrets file):
 * AES-256-GCM with a random nonce, the master key's id as associated data. The first key wraps; the
 * others only unwrap, which is how the master key is rotated (open with `[new, old]`, then
 * `wal.rotateMasterKey()`).
 *
 * @param keys - the current master key first, then older ones still needed to unwrap
 * @returns the keyring
 * @throws TypeError for no key, a key that is not 32 bytes, or an id used twice
 * @example
 * ```ts no-run
 * const keyring = localKeyring([{ id: 'k1', key: Buffer.from(process.env.WALTZ_MASTER_KEY!, 'base64') }])
 * ```
 */
export function localKeyring(keys: readonly MasterKey[]): Keyring {
  if (!Array.isArray(keys) || keys.length === 0)
    throw new TypeError('localKeyring needs at least one master key')
  const byId = new Map<string, Buffer>()
  for (const k of keys) {
    if (typeof k?.id !== 'string' || k.id === '' || Buffer.byteLength(k.id) > 255) {
      throw new TypeError('a master key id must be 1 to 255 UTF-8 bytes')
    }
    if (!(k.key instanceof Uint8Array) || k.key.length !== 32) {
      throw new TypeError(`master key ${k.id} must be 32 bytes (AES-256), got ${k.key?.length ?? 'none'}`)
    }
    if (byId.has(k.id)) throw new TypeError(`master key id ${k.id} is given twice`)
    byId.set(k.id, Buffer.from(k.key))
  }
  const current = keys[0]!.id
  return {
    currentKeyId: current,
    wrap(key) {
      const nonce = randomBytes(NONCE)
      const cipher = createCipheriv('aes-256-gcm', byId.get(current)!, nonce)
      cipher.setAAD(Buffer.from(current))
      const body = Buffer.concat([cipher.update(key), cipher.final()])
      return Buffer.concat([nonce, body, cipher.getAuthTag()])
    },
    unwrap(wrapped, masterKeyId) {
      const master = byId.get(masterKeyId)
      if (master === undefined) throw new Error(`the keyring has no master key '${masterKeyId}'`)
      if (wrapped.length < NONCE + TAG) throw new Error('the wrapped key is too short')
      const w = Buffer.from(wrapped.buffer, wrapped.byteOffset, wrapped.byteLength)
      const decipher = createDecipheriv('aes-256-gcm', master, w.subarray(0, NONCE))
      decipher.setAAD(Buffer.from(masterKeyId))
      decipher.setAuthTag(w.subarray(w.length - TAG))
      return Buffer.concat([decipher.update(w.subarray(NONCE, w.length - TAG)), decipher.final()])
    },
  }
}
