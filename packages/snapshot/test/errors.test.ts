import { WaltzError } from '@waltz/core'
import { describe, expect, it } from 'vitest'
import { isSnapshotError, SnapshotError, type SnapshotErrorCode } from '../src/index.js'

// `satisfies` makes the table exhaustive: a code without a factory fails the type check.
const factories = {
  SNAPSHOT_CORRUPT: SnapshotError.CORRUPT,
  SNAPSHOT_IO: SnapshotError.IO,
  SNAPSHOT_SERIALIZER_MISMATCH: SnapshotError.SERIALIZER_MISMATCH,
  SNAPSHOT_SERIALIZER_ERROR: SnapshotError.SERIALIZER_ERROR,
  SNAPSHOT_FORMAT_UNSUPPORTED: SnapshotError.FORMAT_UNSUPPORTED,
  SNAPSHOT_STALE: SnapshotError.STALE,
  SNAPSHOT_GAP: SnapshotError.GAP,
  SNAPSHOT_CLOSED: SnapshotError.CLOSED,
  SNAPSHOT_INVALID_ARGUMENT: SnapshotError.INVALID_ARGUMENT,
} satisfies Record<SnapshotErrorCode, unknown>

describe('SnapshotError factories', () => {
  it.each(Object.entries(factories))('%s', (code, make) => {
    const cause = new Error('EIO')
    const err = make('it broke', { file: 'snap-1', seq: 4, cause })
    expect(err).toBeInstanceOf(SnapshotError)
    expect(err).toBeInstanceOf(WaltzError)
    expect(err.name).toBe('SnapshotError')
    expect(err.message).toBe(`${code}: it broke`)
    expect([err.code, err.file, err.seq, err.cause]).toEqual([code, 'snap-1', 4, cause])
    expect(isSnapshotError(err, code as SnapshotErrorCode)).toBe(true)
  })

  it('sets no cause when given none', () => {
    const err = SnapshotError.CLOSED('the snapshotter is closed')
    expect('cause' in err).toBe(false)
    expect(err).toEqual(new SnapshotError('SNAPSHOT_CLOSED', 'the snapshotter is closed'))
  })
})
