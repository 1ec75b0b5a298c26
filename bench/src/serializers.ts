/**
 * The four serializers of the replay workload, each with the record it encodes. `zod` and `protobufjs`
 * are dependencies of the serializer packages, not of `bench/`: they are loaded from the serializer
 * package that depends on them (what a user's own dependency would be), typed only as far as used here.
 */
import { readdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { bytesSerializer, type RecordShape, type Serializer } from '@waltz/core'
import { binarySerializer } from '@waltz/serializer-binary'
import { type JsonSchemas, jsonSerializer } from '@waltz/serializer-json'
import { type ProtoMessageType, protoSerializer, protoType } from '@waltz/serializer-proto'
import { payloadPool } from './common.js'

export type AnySerializer = Serializer<string, unknown, RecordShape>

/** A record as the workloads append it: the same `time` values as before core v2, no key, no headers. */
export interface BenchRecord {
  type: string
  time: number
  data: unknown
}
export const SERIALIZERS = ['bytes', 'binary', 'json', 'proto'] as const
export type SerializerName = (typeof SERIALIZERS)[number]

/** The order event of `packages/serializer-proto/proto/order_events.proto`, as a plain object. */
interface OrderPlaced {
  orderId: string
  accountId: string
  symbol: string
  side: number
  price: number
  quantity: number
  tags: string[]
}

type ZodType = JsonSchemas[string]
interface ZodLike {
  object(shape: Record<string, ZodType>): ZodType
  string(): ZodType
  int(): ZodType
  array(item: ZodType): ZodType
}
interface ProtobufLike {
  loadSync(path: string): { lookupType(name: string): ProtoMessageType<object> }
}

const requireBeside = (pkg: string) => createRequire(fileURLToPath(import.meta.resolve(pkg)))

function orderPlaced(i: number): OrderPlaced {
  return {
    orderId: `o-${i}`,
    accountId: `acc-${i % 1000}`,
    symbol: 'ACME',
    side: 1 + (i & 1),
    price: 1_999_000 + (i % 5000),
    quantity: 1 + (i % 100),
    tags: ['gtc', 'post-only'],
  }
}

/** A serializer and a function producing the i-th record for it. */
export interface SerializerCase {
  serializer: AnySerializer
  record(i: number): BenchRecord
}

export function serializerCase(name: SerializerName, payloadSize: number): SerializerCase {
  switch (name) {
    case 'bytes': {
      const pool = payloadPool(payloadSize)
      return {
        serializer: bytesSerializer() as AnySerializer,
        record: (i) => ({ type: 'e', time: i, data: pool[i & 1023]! }),
      }
    }
    case 'binary':
      return {
        serializer: binarySerializer() as unknown as AnySerializer,
        record: (i) => ({ type: 'OrderPlaced', time: i, data: orderPlaced(i) }),
      }
    case 'json': {
      const z = requireBeside('@waltz/serializer-json')('zod') as ZodLike
      const schemas = {
        OrderPlaced: z.object({
          orderId: z.string(),
          accountId: z.string(),
          symbol: z.string(),
          side: z.int(),
          price: z.int(),
          quantity: z.int(),
          tags: z.array(z.string()),
        }),
      }
      return {
        serializer: jsonSerializer({ schemas }) as unknown as AnySerializer,
        record: (i) => ({ type: 'OrderPlaced', time: i, data: orderPlaced(i) }),
      }
    }
    case 'proto': {
      const protobuf = requireBeside('@waltz/serializer-proto')('protobufjs') as ProtobufLike
      const protoDir = join(
        dirname(fileURLToPath(import.meta.resolve('@waltz/serializer-proto/package.json'))),
        'proto',
      )
      if (!readdirSync(protoDir).includes('order_events.proto')) throw new Error(`no proto in ${protoDir}`)
      const root = protobuf.loadSync(join(protoDir, 'order_events.proto'))
      const types = { OrderPlaced: protoType<OrderPlaced>(root.lookupType('waltz.example.OrderPlaced')) }
      return {
        serializer: protoSerializer({ types }) as unknown as AnySerializer,
        record: (i) => ({ type: 'OrderPlaced', time: i, data: orderPlaced(i) }),
      }
    }
  }
}
