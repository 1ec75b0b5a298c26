export { PROTO_SERIALIZER_NAME, type ProtoSerializerOptions, protoSerializer } from './serializer.js'
export {
  type ProtoDataOf,
  type ProtoMessageType,
  type ProtoRecordOf,
  type ProtoTypes,
  protoType,
} from './types.js'
