export { JSON_SERIALIZER_NAME, type JsonSerializerOptions, jsonSerializer } from './serializer.js'
export type { JsonRecordOf, JsonSchemas, Upcast, UpcastContext } from './types.js'
