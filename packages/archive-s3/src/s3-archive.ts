/**
 * An {@link Archive} on S3 or any S3-compatible store, through the caller's `S3Client`.
 *
 * A segment is one object, `<prefix><segment file name>`, written with one `PutObject` (atomic: a
 * reader of the bucket sees the whole copy or none; a second put replaces the first). The request
 * carries the bytes' MD5 (`Content-MD5`: the server refuses bytes that arrive otherwise) and, as
 * metadata, their size, SHA-256 and MD5. `stat` reads them back with `HeadObject` and reports a copy
 * whose ETag (the MD5 of the stored bytes, for an object written in one put) disagrees with the MD5
 * it was sent with as not matching, so the WAL copies it again. `list` pages through
 * `ListObjectsV2` under the prefix; `get` streams a `GetObject` body and hands over the SHA-256 from
 * the object's metadata, which the WAL checks the bytes against.
 */
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import {
  GetObjectCommand,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3'
import type { Archive, ArchiveDownload, ArchivedSegment, ArchiveEntry } from '@waltz/core'

/** Options of {@link s3Archive}. */
export interface S3ArchiveOptions {
  /** A configured client (region, credentials; `endpoint` and `forcePathStyle` for other stores). */
  client: S3Client
  /** The bucket (it must exist). */
  bucket: string
  /** Prepended to each segment's file name, e.g. `'orders/wal/'`. Default `''`. */
  prefix?: string
}

/** Metadata keys (S3 lowercases them and sends them as `x-amz-meta-*`). */
const META_SHA256 = 'waltz-sha256'
const META_MD5 = 'waltz-md5'
const META_SIZE = 'waltz-size'

/**
 * An archive of sealed segments in an S3 bucket, for `Wal.open({ archive })`.
 *
 * @param options - the client, the bucket and a key prefix
 * @returns the archive
 * @throws TypeError for options that are not a client and a bucket name
 * @example
 * ```ts no-run
 * import { S3Client } from '@aws-sdk/client-s3'
 * import { s3Archive } from '@waltz/archive-s3'
 * import { Wal } from '@waltz/core'
 *
 * const archive = s3Archive({ client: new S3Client({ region: 'eu-west-1' }), bucket: 'events', prefix: 'orders/' })
 * const wal = await Wal.open({ dir: './events', archive, retention: { maxBytes: 50 * 2 ** 30 } })
 * ```
 */
export function s3Archive(options: S3ArchiveOptions): Archive {
  const { client, bucket } = options
  const prefix = options.prefix ?? ''
  if (typeof client?.send !== 'function') throw new TypeError('s3Archive needs an S3Client as client')
  if (typeof bucket !== 'string' || bucket === '') throw new TypeError('s3Archive needs a bucket name')
  if (typeof prefix !== 'string') throw new TypeError('s3Archive: prefix must be a string')
  return {
    name: `s3://${bucket}/${prefix}`,

    async put(segment: ArchivedSegment, path: string, signal: AbortSignal): Promise<void> {
      // Sealed segments are at most `segmentSize` (10 MiB by default): read whole, hashed once more
      // here for the MD5 the server checks.
      const body = await readFile(path, { signal })
      const md5 = createHash('md5').update(body).digest()
      const sha256 = createHash('sha256').update(body).digest('hex')
      if (body.length !== segment.size || sha256 !== segment.sha256) {
        throw new Error(`${path} changed while it was being archived`)
      }
      await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: prefix + segment.name,
          Body: body,
          ContentLength: body.length,
          ContentMD5: md5.toString('base64'),
          ContentType: 'application/octet-stream',
          Metadata: {
            [META_SHA256]: sha256,
            [META_MD5]: md5.toString('hex'),
            [META_SIZE]: String(body.length),
          },
        }),
        { abortSignal: signal },
      )
    },

    async stat(name: string, signal: AbortSignal): Promise<ArchivedSegment | undefined> {
      let head: HeadObjectCommandOutput
      try {
        head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: prefix + name }), {
          abortSignal: signal,
        })
      } catch (err) {
        if (isNotFound(err)) return undefined
        throw err
      }
      const meta = head.Metadata ?? {}
      const etag = (head.ETag ?? '').replaceAll('"', '')
      const size = head.ContentLength ?? -1
      // An object changed since (another writer, damage the store noticed) no longer has the ETag of
      // the bytes waltz sent: it does not match, whatever its metadata says.
      const intact = etag === meta[META_MD5] && String(size) === meta[META_SIZE]
      return {
        name,
        size,
        sha256: intact ? (meta[META_SHA256] ?? '') : `etag ${etag} is not md5 ${meta[META_MD5]}`,
      }
    },

    async list(signal: AbortSignal): Promise<ArchiveEntry[]> {
      const entries: ArchiveEntry[] = []
      let token: string | undefined
      do {
        const page = await client.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
          { abortSignal: signal },
        )
        for (const object of page.Contents ?? []) {
          const name = object.Key?.slice(prefix.length) ?? ''
          if (SEGMENT_NAME.test(name)) entries.push({ name, size: object.Size ?? 0 })
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined
      } while (token !== undefined)
      return entries
    },

    async get(name: string, signal: AbortSignal): Promise<ArchiveDownload | undefined> {
      try {
        const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: prefix + name }), {
          abortSignal: signal,
        })
        const body = object.Body as AsyncIterable<Uint8Array> | undefined
        if (body === undefined || typeof body[Symbol.asyncIterator] !== 'function') {
          throw new Error(`GetObject of ${prefix + name} returned no readable body`)
        }
        return { size: object.ContentLength ?? -1, sha256: object.Metadata?.[META_SHA256], body }
      } catch (err) {
        if (isNotFound(err)) return undefined
        throw err
      }
    },
  }
}

/** The name of a segment file (objects under the prefix with other names are not segments). */
const SEGMENT_NAME = /^\d{20}\.wal$/

/** Whether an S3 error says the object does not exist. */
function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } }
  return e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404
}
