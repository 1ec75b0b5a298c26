import { fileURLToPath } from 'node:url'
import protobuf from 'protobufjs'
import { type ProtoRecordOf, protoType } from '../src/index.js'

/** Payload shapes of `proto/order_events.proto` as plain objects (int64 as number, enums as numbers). */
export interface OrderPlaced {
  orderId: string
  accountId: string
  symbol: string
  side: number
  price: number
  quantity: number
  tags: string[]
}
export interface OrderCancelled {
  orderId: string
  reason: string
}
export interface TradeExecuted {
  tradeId: string
  buyOrderId: string
  sellOrderId: string
  price: number
  quantity: number
}
export interface OrderRejected {
  orderId: string
  reason: string
  code: number
}

export const protoDir = fileURLToPath(new URL('../proto/', import.meta.url))

/** The example schema, loaded at run time (reflection). */
export const root = protobuf.loadSync(`${protoDir}order_events.proto`)

/** The example types map, as a user would write it for runtime-loaded schemas. */
export const reflectedTypes = {
  OrderPlaced: protoType<OrderPlaced>(root.lookupType('waltz.example.OrderPlaced')),
  OrderCancelled: protoType<OrderCancelled>(root.lookupType('waltz.example.OrderCancelled')),
  TradeExecuted: protoType<TradeExecuted>(root.lookupType('waltz.example.TradeExecuted')),
  OrderRejected: protoType<OrderRejected>(root.lookupType('waltz.example.OrderRejected')),
}

export const placed: OrderPlaced = {
  orderId: 'o-1',
  accountId: 'acc-7',
  symbol: 'ACME',
  side: 1,
  price: 1_999_000,
  quantity: 3,
  tags: ['gtc', 'post-only'],
}

/** One record of every example type, with edge values (int64 at the safe-integer limits, enum 2). */
export const samples: ProtoRecordOf<typeof reflectedTypes>[] = [
  { type: 'OrderPlaced', data: placed },
  {
    type: 'OrderPlaced',
    data: {
      ...placed,
      price: Number.MAX_SAFE_INTEGER,
      quantity: -Number.MAX_SAFE_INTEGER,
      side: 2,
      tags: [],
    },
  },
  { type: 'OrderCancelled', data: { orderId: 'o-1', reason: 'user request' } },
  {
    type: 'TradeExecuted',
    data: { tradeId: 't-1', buyOrderId: 'o-1', sellOrderId: 'o-2', price: 1_999_000, quantity: 3 },
  },
  {
    type: 'OrderRejected',
    data: { orderId: 'o-3', reason: 'insufficient funds', code: 4001 },
  },
]
