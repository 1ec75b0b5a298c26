import type { Options } from 'msgpackr'

/** The serializer name of self-describing records (the default). */
export const BINARY_SERIALIZER_NAME = 'waltz-msgpackr/1'
/** The serializer name of records that reference a shared structures file (`structuresPath`). */
export const BINARY_SHARED_SERIALIZER_NAME = 'waltz-msgpackr-shared/1'

/** The envelope's element count: `[type, time, data]`. */
export const ENVELOPE_LENGTH = 3

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
