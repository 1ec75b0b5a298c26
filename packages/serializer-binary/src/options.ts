import type { Options } from 'msgpackr'

/**
 * The serializer name of self-describing data (the default). Version 2: the data alone, one MessagePack
 * value (version 1 wrapped it in a `[type, time, data]` envelope, now core's).
 */
export const BINARY_SERIALIZER_NAME = 'waltz-msgpackr/2'
/** The serializer name of data that references a shared structures file (`structuresPath`). */
export const BINARY_SHARED_SERIALIZER_NAME = 'waltz-msgpackr-shared/2'

/**
 * The msgpackr options shared by every mode, chosen so that all supported values round-trip:
 * records for plain objects (`useRecords`), `Map` stays `Map` (`mapsAsObjects: false`), `Set`, typed
 * arrays and `Error` via `moreTypes`, bigints of any size (`useBigIntExtension`, int64 decoded as
 * `bigint`), `toJSON()` ignored so stored state is the object's own properties, and binary values
 * decoded as zero-copy views (`copyBuffers: false`; the WAL never reuses the buffer it decodes from).
 *
 * @returns a fresh options object
 */
export function baseOptions(): Options {
  return {
    useRecords: true,
    mapsAsObjects: false,
    moreTypes: true,
    useBigIntExtension: true,
    int64AsType: 'bigint',
    useToJSON: false,
    copyBuffers: false,
  }
}
