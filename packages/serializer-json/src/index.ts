export {
  JSON_SERIALIZER_NAME,
  type JsonSerializerOptions,
  jsonSerializer,
  readStoredJson,
  type StoredJsonData,
} from './serializer.js'
export type { JsonRecordOf, JsonSchemas, Upcast, UpcastContext } from './types.js'
