export { BINARY_SERIALIZER_NAME, BINARY_SHARED_SERIALIZER_NAME } from './options.js'
export { type BinarySerializerOptions, binarySerializer } from './serializer.js'
export type { EventMap, RecordOf } from './types.js'
