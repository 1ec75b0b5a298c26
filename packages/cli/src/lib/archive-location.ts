/**
 * The archive named by `--archive`: a directory (core's `directoryArchive`) or `s3://bucket/prefix`
 * (`@waltz/archive-s3`'s `s3Archive` through an `S3Client` configured from the command line and the AWS
 * SDK's default credential chain). The S3 packages are loaded only for an `s3://` location: the other
 * commands never pay for them.
 */
import { stat } from 'node:fs/promises'
import { type Archive, directoryArchive } from '@waltz/core'
import { stringValue, type Values } from './command.js'
import { CliError, usageError } from './errors.js'

/** The options every `waltz archive` command takes to name its archive. */
export const ARCHIVE_OPTIONS = {
  archive: { type: 'string' },
  endpoint: { type: 'string' },
  region: { type: 'string' },
  'path-style': { type: 'boolean' },
} as const

/** Their `--help` lines. */
export const ARCHIVE_OPTIONS_HELP = `  --archive LOCATION  the archive: a directory (directoryArchive), or s3://BUCKET/PREFIX (s3Archive:
                      objects named PREFIX + segment file name; PREFIX exactly as given to s3Archive,
                      e.g. s3://events/orders/)
  --endpoint URL      s3:// only: the endpoint of an S3-compatible store (MinIO, Ceph, ...)
  --region REGION     s3:// only: the bucket's region (default $AWS_REGION, $AWS_DEFAULT_REGION, or
                      us-east-1)
  --path-style        s3:// only: path-style requests (forcePathStyle; MinIO and s3rver need it)
                      Credentials: the AWS SDK's default chain (AWS_ACCESS_KEY_ID and
                      AWS_SECRET_ACCESS_KEY, AWS_PROFILE, ...)`

/** An archive opened from the command line; `close` releases its connections. */
export interface OpenedArchive {
  readonly archive: Archive
  close(): void
}

/** Where an `s3://` location points. */
export interface S3Location {
  readonly bucket: string
  readonly prefix: string
}

const S3_OPTIONS = ['endpoint', 'region', 'path-style'] as const

/**
 * Splits `s3://bucket/prefix` (the prefix may be empty, and is kept exactly, trailing slash or not).
 *
 * @param location - the `--archive` value
 * @param command - for the usage error's hint
 * @returns the bucket and prefix, or undefined when the location is not an `s3://` one
 * @throws CliError usage (exit 2) for another URL scheme or an `s3://` location without a bucket
 */
export function parseS3Location(location: string, command: string): S3Location | undefined {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(location)?.[1]
  if (scheme === undefined) return undefined
  if (scheme !== 's3') {
    throw usageError(`--archive: ${scheme}:// is not supported (a directory or s3://BUCKET/PREFIX)`, command)
  }
  const rest = location.slice('s3://'.length)
  const slash = rest.indexOf('/')
  const bucket = slash < 0 ? rest : rest.slice(0, slash)
  if (bucket === '') throw usageError(`--archive ${location} names no bucket (s3://BUCKET/PREFIX)`, command)
  return { bucket, prefix: slash < 0 ? '' : rest.slice(slash + 1) }
}

/**
 * Opens the archive the options name.
 *
 * @param values - the parsed options
 * @param command - the command, for usage errors
 * @param env - where the default region comes from
 * @returns the archive and how to release it
 * @throws CliError usage (exit 2) without `--archive`, for a bad location or S3 options with a
 *   directory; `NOT_FOUND` or `NOT_AN_ARCHIVE` (exit 3) for a directory that is missing or is a file
 */
export async function openArchive(
  values: Values,
  command: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<OpenedArchive> {
  const location = stringValue(values, 'archive')
  if (location === undefined || location === '') {
    throw usageError('missing --archive <location>: a directory or s3://BUCKET/PREFIX', command)
  }
  const s3 = parseS3Location(location, command)
  if (s3 === undefined) {
    const given = S3_OPTIONS.find((o) => values[o] !== undefined)
    if (given !== undefined) throw usageError(`--${given} applies to s3:// archives only`, command)
    await requireArchiveDirectory(location)
    return { archive: directoryArchive(location), close: () => {} }
  }
  const endpoint = stringValue(values, 'endpoint')
  if (endpoint !== undefined && !URL.canParse(endpoint)) {
    throw usageError(`--endpoint must be a URL, got '${endpoint}'`, command)
  }
  const region = stringValue(values, 'region') ?? (env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1')
  const [{ S3Client }, { s3Archive }] = await Promise.all([
    import('@aws-sdk/client-s3'),
    import('@waltz/archive-s3'),
  ])
  const client = new S3Client({
    region,
    ...(endpoint === undefined ? {} : { endpoint }),
    forcePathStyle: values['path-style'] === true,
  })
  return {
    archive: s3Archive({ client, bucket: s3.bucket, prefix: s3.prefix }),
    close: () => client.destroy(),
  }
}

/** A directory archive must exist: a mistyped path would otherwise read as an empty archive. */
async function requireArchiveDirectory(dir: string): Promise<void> {
  try {
    if ((await stat(dir)).isDirectory()) return
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code as `E${string}` | undefined
    if (code === 'ENOENT') throw CliError.NOT_FOUND(`archive directory ${dir} does not exist`)
    if (code !== 'ENOTDIR') throw CliError.IO(`cannot read ${dir}: ${(err as Error).message}`, code)
  }
  throw CliError.NOT_AN_ARCHIVE(`${dir} is not a directory`)
}
