// The WAL's serializer. The engine, the demo and recovery all take it from `engineSerializer` below:
// switching the whole example from MessagePack to Protocol Buffers is that one line.
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import type { Serializer } from '@waltz/core'
import { binarySerializer, type RecordOf } from '@waltz/serializer-binary'
import { type ProtoMessageType, protoSerializer, protoType } from '@waltz/serializer-proto'
import type { Events, OrderCancelled, OrderPlaced, OrderRejected, TradeExecuted } from './events.js'

/** The order book's record union: `{ type, data }` for each of its four events (the serializer encodes `data`). */
export type OrderRecord = RecordOf<Events>
export type OrderSerializer = Serializer<OrderRecord['type'], OrderRecord['data'], OrderRecord>

/** Every serializer the engine can run on; each one writes the same events. */
export const serializers = {
  /** MessagePack (`@waltz/serializer-binary`). */
  binary: (): OrderSerializer => binarySerializer<Events>(),
  /** Protocol Buffers (`@waltz/serializer-proto`) with its shipped `order_events.proto`. */
  proto: (): OrderSerializer => {
    const root = loadOrderEventsProto()
    return protoSerializer({
      types: {
        OrderPlaced: protoType<OrderPlaced>(root.lookupType('waltz.example.OrderPlaced')),
        TradeExecuted: protoType<TradeExecuted>(root.lookupType('waltz.example.TradeExecuted')),
        OrderCancelled: protoType<OrderCancelled>(root.lookupType('waltz.example.OrderCancelled')),
        OrderRejected: protoType<OrderRejected>(root.lookupType('waltz.example.OrderRejected')),
      },
    })
  },
} as const
export type SerializerName = keyof typeof serializers

/** The engine's serializer: change `'binary'` to `'proto'` to switch the whole example. */
export const engineSerializer: SerializerName = 'binary'

/** Loads `order_events.proto`, shipped in @waltz/serializer-proto's `proto/` folder, with protobufjs. */
function loadOrderEventsProto(): { lookupType(name: string): ProtoMessageType<object> } {
  const require = createRequire(import.meta.url)
  const protobuf = require('protobufjs') as {
    loadSync(path: string): { lookupType(name: string): ProtoMessageType<object> }
  }
  const protoPackage = require.resolve('@waltz/serializer-proto/package.json')
  return protobuf.loadSync(join(dirname(protoPackage), 'proto', 'order_events.proto'))
}
