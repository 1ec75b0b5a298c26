/**
 * Stream names as NATS subjects: each event-store stream is one subject,
 * `<subjectPrefix>.<token>`, whose last token encodes the stream name reversibly. A subject token may
 * not hold `.`, `*`, `>` or whitespace, so every UTF-8 byte of a character outside `A-Z a-z 0-9 _ -`
 * is written `~XX` (two upper-case hex digits): `cart-1` stays `cart-1`, `a.b` is `a~2Eb`, `é` is
 * `~C3~A9`.
 */
import { EventStoreError } from '../errors.js'

/** Characters written as they are. */
const PLAIN = /[^A-Za-z0-9_-]/gu
/** A run of escaped bytes. */
const ESCAPED = /(?:~[0-9A-F]{2})+/g
/** A valid subject prefix: dot-separated tokens of the plain characters. */
const PREFIX = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/

/**
 * The longest token accepted: the subject travels in the protocol's control line, which servers
 * limit to 4 KiB by default.
 */
export const MAX_TOKEN_LENGTH = 2048

/**
 * The subject token of a stream name.
 *
 * @param stream - a checked stream name (well-formed UTF-16)
 * @returns the token
 * @throws EventStoreError `EVENTSTORE_INVALID_ARGUMENT` when the token would be longer than
 *   {@link MAX_TOKEN_LENGTH}
 */
export function streamToken(stream: string): string {
  const token = stream.replace(PLAIN, (c) => {
    let out = ''
    for (const b of Buffer.from(c, 'utf8')) out += `~${b < 16 ? '0' : ''}${b.toString(16).toUpperCase()}`
    return out
  })
  if (token.length > MAX_TOKEN_LENGTH) {
    throw EventStoreError.INVALID_ARGUMENT(
      `stream name too long for a NATS subject: its token has ${token.length} characters (at most ${MAX_TOKEN_LENGTH})`,
      { stream },
    )
  }
  return token
}

/**
 * The stream name of a subject token (the inverse of {@link streamToken}).
 *
 * @param token - a token made by {@link streamToken}
 * @returns the stream name
 */
export function streamOfToken(token: string): string {
  return token.replace(ESCAPED, (run) => Buffer.from(run.replaceAll('~', ''), 'hex').toString('utf8'))
}

/**
 * Checks a subject prefix: dot-separated tokens of `A-Z a-z 0-9 _ -`.
 *
 * @throws EventStoreError `EVENTSTORE_INVALID_ARGUMENT`
 */
export function checkSubjectPrefix(prefix: unknown): string {
  if (typeof prefix !== 'string' || !PREFIX.test(prefix)) {
    throw EventStoreError.INVALID_ARGUMENT(
      `subjectPrefix must be dot-separated tokens of A-Z a-z 0-9 _ -, got ${String(prefix)}`,
    )
  }
  return prefix
}
