import { CliError, errnoCode } from './errors.js'

/** The parts of an AWS SDK error the CLI reads (`name` is the S3 error code, e.g. `AccessDenied`). */
interface ServiceError {
  name?: string
  message?: string
  errors?: unknown[]
  $metadata?: { httpStatusCode?: number }
}

/**
 * A request to the archive that failed (network, credentials, permissions, a missing bucket), as the
 * one-line error the CLI prints: the archive, what was being done, and why, instead of an SDK stack.
 *
 * @param err - what the archive call threw
 * @param archive - the archive's name, e.g. `s3://events/orders/`
 * @param action - what failed, e.g. `listing the archive`
 * @returns the error to throw: `NOT_FOUND` (exit 3) for a missing bucket; else exit 5, coded with
 *   Node's code (`ECONNREFUSED`, ...) or `IO`
 */
export function archiveFailure(err: unknown, archive: string, action: string): CliError {
  if (err instanceof CliError) return err
  const e = (err ?? {}) as ServiceError
  if (e.name === 'NoSuchBucket') return CliError.NOT_FOUND(`${archive}: the bucket does not exist`)
  // A connection refused on every address of a name (Node's happy eyeballs) is an AggregateError
  // whose own message is empty.
  const first = e.errors?.[0] as ServiceError | undefined
  const message = e.message || first?.message || String(err)
  const service =
    e.name !== undefined && e.name !== 'Error' && !message.startsWith(e.name) ? `${e.name}: ` : ''
  const status = e.$metadata?.httpStatusCode
  const http = status === undefined ? '' : ` (HTTP ${status})`
  return CliError.IO(`${archive}: ${action} failed: ${service}${message}${http}`, errnoCode(err))
}
