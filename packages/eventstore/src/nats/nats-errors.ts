/** NATS client and server errors as the store's coded errors: a caller never sees a raw NATS error. */
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream'
import { EventStoreError, isEventStoreError } from '../errors.js'

/**
 * Whether `err` is the server's refusal of a publish whose expected last subject sequence did not
 * match: another writer appended to the stream first.
 */
export function isWrongLastSequence(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.StreamWrongLastSequence ||
      err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  )
}

/**
 * `err` as an `EventStoreError`: the store's own errors as they are, everything else as
 * `EVENTSTORE_UNAVAILABLE` with `err` as its cause.
 *
 * @param what - what failed, for the message
 * @param err - the error
 * @param stream - the stream concerned, if any
 */
export function unavailable(what: string, err: unknown, stream?: string): EventStoreError {
  if (isEventStoreError(err)) return err
  const message = err instanceof Error ? err.message : String(err)
  return EventStoreError.UNAVAILABLE(`${what} failed: ${message}`, { stream, cause: err })
}
