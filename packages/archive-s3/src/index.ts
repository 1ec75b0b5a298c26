/**
 * `@waltz/archive-s3`: tiered storage for waltz on S3 or any S3-compatible store.
 *
 * @packageDocumentation
 */
export { type S3ArchiveOptions, s3Archive } from './s3-archive.js'
