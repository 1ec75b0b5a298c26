import { WaltzError } from '@waltz/core'
import { describe, expect, it } from 'vitest'
import { isReplicationError, ReplicationError, type ReplicationErrorCode } from '../src/index.js'

// `satisfies` makes the table exhaustive: a code without a factory fails the type check.
const factories = {
  REPLICATION_GAP: ReplicationError.GAP,
  REPLICATION_DIVERGED: ReplicationError.DIVERGED,
  REPLICATION_BAD_MESSAGE: ReplicationError.BAD_MESSAGE,
  REPLICATION_CLOSED: ReplicationError.CLOSED,
  REPLICATION_INVALID_ARGUMENT: ReplicationError.INVALID_ARGUMENT,
} satisfies Record<ReplicationErrorCode, unknown>

describe('ReplicationError factories', () => {
  it.each(Object.entries(factories))('%s', (code, make) => {
    const cause = new Error('timeout')
    const err = make('it broke', { seq: 5, streamSeq: 9, cause })
    expect(err).toBeInstanceOf(ReplicationError)
    expect(err).toBeInstanceOf(WaltzError)
    expect(err.name).toBe('ReplicationError')
    expect(err.message).toBe(`${code}: it broke`)
    expect([err.code, err.seq, err.streamSeq, err.cause]).toEqual([code, 5, 9, cause])
    expect(isReplicationError(err, code as ReplicationErrorCode)).toBe(true)
  })

  it('sets no cause when given none', () => {
    const err = ReplicationError.CLOSED('the NATS connection is closed')
    expect('cause' in err).toBe(false)
    expect(err).toEqual(new ReplicationError('REPLICATION_CLOSED', 'the NATS connection is closed'))
  })
})
