export {
  BinarySerializerError,
  type BinarySerializerErrorCode,
  type BinarySerializerErrorDetails,
  isBinarySerializerError,
} from './errors.js'
export {
  BINARY_SERIALIZER_NAME,
  BINARY_SHARED_SERIALIZER_NAME,
  type BinarySerializerOptions,
  binarySerializer,
} from './serializer.js'
export type { EventMap, RecordOf } from './types.js'
