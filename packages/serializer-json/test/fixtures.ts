import { z } from 'zod'

/** The example schemas: integer prices and quantities, and a Date carried as an ISO string by a codec. */
export const orderSchemas = {
  OrderPlaced: z.object({
    orderId: z.string(),
    side: z.enum(['buy', 'sell']),
    price: z.int(),
    quantity: z.int().positive(),
    tags: z.array(z.string()).optional(),
  }),
  OrderCancelled: z.object({ orderId: z.string(), reason: z.string() }),
  TradeExecuted: z.object({
    tradeId: z.string(),
    price: z.int(),
    quantity: z.int(),
    at: z.codec(z.iso.datetime(), z.date(), {
      decode: (iso) => new Date(iso),
      encode: (date) => date.toISOString(),
    }),
  }),
  Heartbeat: z.object({}),
  Note: z.object({ text: z.string() }),
  Anything: z.json(),
}
