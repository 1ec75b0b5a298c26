import { describe, expect, it } from 'vitest'
import {
  isSerializerError,
  isWalError,
  isWaltzError,
  SerializerError,
  type SerializerErrorCode,
  WalError,
  type WalErrorCode,
  type WalErrorDetails,
  WaltzError,
} from '../src/index.js'

// `satisfies` makes these tables exhaustive: a code without a factory fails the type check.
const walFactories = {
  WAL_CORRUPT: WalError.CORRUPT,
  WAL_LOCKED: WalError.LOCKED,
  WAL_IO: WalError.IO,
  WAL_CLOSED: WalError.CLOSED,
  WAL_SERIALIZER_MISMATCH: WalError.SERIALIZER_MISMATCH,
  WAL_RECORD_TOO_LARGE: WalError.RECORD_TOO_LARGE,
  WAL_SERIALIZER_ERROR: WalError.SERIALIZER_ERROR,
  WAL_FORMAT_UNSUPPORTED: WalError.FORMAT_UNSUPPORTED,
  WAL_TRUNCATED: WalError.TRUNCATED,
  WAL_INVALID_ARGUMENT: WalError.INVALID_ARGUMENT,
  WAL_ARCHIVE: WalError.ARCHIVE,
  WAL_KEYRING: WalError.KEYRING,
} satisfies Record<Exclude<WalErrorCode, 'WAL_READ_ONLY'>, (m: string, d?: WalErrorDetails) => WalError>

const serializerFactories = {
  SERIALIZER_UNKNOWN_TYPE: SerializerError.UNKNOWN_TYPE,
  SERIALIZER_VALIDATION_FAILED: SerializerError.VALIDATION_FAILED,
  SERIALIZER_ENCODE_FAILED: SerializerError.ENCODE_FAILED,
  SERIALIZER_DECODE_FAILED: SerializerError.DECODE_FAILED,
  SERIALIZER_UPCAST_FAILED: SerializerError.UPCAST_FAILED,
  SERIALIZER_STRUCTURES_FAILED: SerializerError.STRUCTURES_FAILED,
} satisfies Record<SerializerErrorCode, unknown>

describe('WalError factories', () => {
  it.each(Object.entries(walFactories))('%s', (code, make) => {
    const cause = new Error('EIO')
    const err = make('it broke', { file: 'a.wal', offset: 7, seq: 3, cause })
    expect(err).toBeInstanceOf(WalError)
    expect(err).toBeInstanceOf(WaltzError)
    expect(err.name).toBe('WalError')
    expect(err.code).toBe(code)
    expect(err.message).toBe(`${code}: it broke`)
    expect([err.file, err.offset, err.seq, err.cause]).toEqual(['a.wal', 7, 3, cause])
    expect(isWalError(err, code as WalErrorCode)).toBe(true)
    expect(isSerializerError(err)).toBe(false)
  })

  it('sets no cause and undefined fields when given none, like the constructor', () => {
    const made = WalError.CLOSED('the WAL is closed')
    const constructed = new WalError('WAL_CLOSED', 'the WAL is closed')
    for (const err of [made, constructed]) {
      expect('cause' in err).toBe(false)
      expect([err.file, err.offset, err.seq]).toEqual([undefined, undefined, undefined])
    }
    expect(made).toEqual(constructed)
  })
})

describe('SerializerError factories', () => {
  it.each(Object.entries(serializerFactories))('%s', (code, make) => {
    const err = make('bad data', { serializer: 'test/1', type: 'T' })
    expect(err).toBeInstanceOf(SerializerError)
    expect(err).toBeInstanceOf(WaltzError)
    expect(err.name).toBe('SerializerError')
    expect(err.message).toBe(`${code}: bad data`)
    expect([err.code, err.serializer, err.type]).toEqual([code, 'test/1', 'T'])
    expect(isSerializerError(err, code as SerializerErrorCode)).toBe(true)
    expect(isWalError(err)).toBe(false)
  })
})

describe('isWaltzError', () => {
  it('checks name and code, not the class, so a copy from another install passes', () => {
    const copy = { name: 'WalError', code: 'WAL_IO', message: 'WAL_IO: x' }
    expect(isWaltzError(copy, 'WalError')).toBe(true)
    expect(isWaltzError<WalError>(copy, 'WalError', 'WAL_IO')).toBe(true)
    expect(isWaltzError<WalError>(copy, 'WalError', 'WAL_CORRUPT')).toBe(false)
    expect(isWaltzError(copy, 'SnapshotError')).toBe(false)
    expect(isWaltzError({ name: 'WalError' }, 'WalError')).toBe(false)
    expect(isWaltzError(new Error('x'), 'Error')).toBe(false)
    expect(isWaltzError(null, 'WalError')).toBe(false)
  })
})
