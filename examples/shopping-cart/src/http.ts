/**
 * The HTTP API: commands go through the decider and the event store, queries read the SQLite read
 * model (or a cart's stream). Every error is JSON `{ code, message, ... }` with a stable `code`.
 *
 * Revisions travel as ETags: a command's reply and GET /carts/:id/events carry `ETag: "<revision>"`,
 * and a command sent with `If-Match: "<revision>"` (or a bare number) is only applied if the cart is
 * still at that revision, else 412 `WRONG_EXPECTED_REVISION`.
 */
import { type EventStore, isEventStoreError, uuidv7 } from '@waltz/eventstore'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { z } from 'zod'
import { type CartCommand, type CartRejectionCode, isCartRejected, MAX_UNITS_PER_CART } from './cart.js'
import { executeCartCommand, RevisionMismatch } from './commands.js'
import { type CartRecord, cartStream } from './events.js'
import type { CartReadModel } from './read-model.js'

/** What the routes need from the service. */
export interface RouteContext {
  store: EventStore<CartRecord>
  readModel: CartReadModel
  /** Re-reads after a write conflict before answering 409. */
  commandRetries: number
  /** The read model's progress. */
  readModelStatus(): ReadModelStatus
  /** Clears the read model and replays every event into it (returns once the consumer restarted). */
  rebuildReadModel(): Promise<void>
}

/** GET /read-model. */
export interface ReadModelStatus {
  /** The last store position applied to the read model. */
  position: number
  /** The store's last acknowledged position. */
  storePosition: number
  /** Positions acknowledged but not yet in the read model. */
  lag: number
  /** Whether the consumer runs (false after a failure, until a rebuild or a restart). */
  running: boolean
  /** Why the consumer stopped, if it failed. */
  error: string | null
}

/** HTTP status of each domain rejection. */
const REJECTION_STATUS: Record<CartRejectionCode, number> = {
  CART_NOT_FOUND: 404,
  CART_ALREADY_OPEN: 409,
  CART_CONFIRMED: 409,
  CART_EMPTY: 422,
  ITEM_NOT_IN_CART: 422,
  PRICE_MISMATCH: 422,
  CART_LIMIT_EXCEEDED: 422,
}

const cartId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'a cart id is 1-64 of A-Z a-z 0-9 _ -')
const sku = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'a sku is 1-64 of A-Z a-z 0-9 _ . -')
const openBody = z.strictObject({ customerId: z.string().min(1).max(128), cartId: cartId.optional() })
const addBody = z.strictObject({
  sku,
  quantity: z.int().min(1).max(MAX_UNITS_PER_CART),
  unitPrice: z.int().min(0).max(100_000_000),
})
const idParams = z.object({ id: cartId })
const itemParams = z.object({ id: cartId, sku })
const listQuery = z.object({
  status: z.enum(['open', 'confirmed']).optional(),
  limit: z.coerce.number().int().min(1).max(1000).optional(),
})

/** A request the API cannot read: 400 with the offending fields. */
class RequestInvalid extends Error {
  override readonly name = 'RequestInvalid'
  readonly code: 'INVALID_REQUEST' | 'INVALID_IF_MATCH'
  readonly issues: unknown

  constructor(code: 'INVALID_REQUEST' | 'INVALID_IF_MATCH', message: string, issues?: unknown) {
    super(message)
    this.code = code
    this.issues = issues
  }
}

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value ?? {})
  if (!result.success) {
    throw new RequestInvalid(
      'INVALID_REQUEST',
      `invalid ${what}: ${z.prettifyError(result.error)}`,
      result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    )
  }
  return result.data
}

/**
 * The expected revision of an `If-Match` header: `"3"` or `3`. No header: undefined.
 *
 * @throws RequestInvalid `INVALID_IF_MATCH` for anything else (weak tags, lists, `*`)
 */
export function parseIfMatch(header: string | string[] | undefined): number | undefined {
  if (header === undefined) return undefined
  const m = typeof header === 'string' ? /^\s*(?:"(\d{1,15})"|(\d{1,15}))\s*$/.exec(header) : null
  if (!m) {
    throw new RequestInvalid(
      'INVALID_IF_MATCH',
      `If-Match must be one revision such as "3", got ${String(header)}`,
    )
  }
  return Number(m[1] ?? m[2])
}

function etag(revision: number): string {
  return `"${revision}"`
}

/**
 * Registers the routes and the error handlers on `app`.
 *
 * @param app - a Fastify instance
 * @param ctx - the store, the read model and the read model's controls
 */
export function registerRoutes(app: FastifyInstance, ctx: RouteContext): void {
  const run = async (req: FastifyRequest, reply: FastifyReply, id: string, command: CartCommand) => {
    const expectedRevision = parseIfMatch(req.headers['if-match'])
    const outcome = await executeCartCommand(ctx.store, id, command, {
      expectedRevision,
      retries: ctx.commandRetries,
    })
    reply.header('etag', etag(outcome.revision))
    return { cartId: id, ...outcome }
  }

  app.post('/carts', async (req, reply) => {
    const body = parse(openBody, req.body, 'body')
    const id = body.cartId ?? uuidv7()
    const result = await run(req, reply, id, { type: 'OpenCart', customerId: body.customerId })
    reply.code(201).header('location', `/carts/${id}`)
    return result
  })

  app.post('/carts/:id/items', async (req, reply) => {
    const { id } = parse(idParams, req.params, 'path')
    const body = parse(addBody, req.body, 'body')
    return run(req, reply, id, { type: 'AddItem', ...body })
  })

  app.delete('/carts/:id/items/:sku', async (req, reply) => {
    const { id, sku } = parse(itemParams, req.params, 'path')
    return run(req, reply, id, { type: 'RemoveItem', sku })
  })

  app.post('/carts/:id/confirm', async (req, reply) => {
    const { id } = parse(idParams, req.params, 'path')
    return run(req, reply, id, { type: 'ConfirmCart' })
  })

  app.get('/carts', async (req) => {
    const query = parse(listQuery, req.query, 'query')
    return { carts: ctx.readModel.list(query) }
  })

  app.get('/carts/:id', async (req, reply) => {
    const { id } = parse(idParams, req.params, 'path')
    const cart = ctx.readModel.get(id)
    if (!cart) {
      return reply.code(404).send({
        code: 'CART_NOT_FOUND',
        message: `no cart ${id} in the read model (a cart opened a moment ago may not be projected yet)`,
      })
    }
    reply.header('etag', etag(cart.revision))
    return cart
  })

  app.get('/carts/:id/events', async (req, reply) => {
    const { id } = parse(idParams, req.params, 'path')
    const events = []
    for await (const e of ctx.store.readStream(cartStream(id))) {
      events.push({
        revision: e.revision,
        position: e.position,
        id: e.id,
        time: e.time,
        type: e.type,
        data: e.data,
      })
    }
    if (events.length === 0) {
      return reply.code(404).send({ code: 'CART_NOT_FOUND', message: `cart ${id} has no events` })
    }
    const revision = events.at(-1)!.revision
    reply.header('etag', etag(revision))
    return { cartId: id, revision, events }
  })

  app.get('/read-model', async () => ctx.readModelStatus())

  app.post('/read-model/rebuild', async (_req, reply) => {
    await ctx.rebuildReadModel()
    reply.code(202)
    return ctx.readModelStatus()
  })

  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send({ code: 'ROUTE_NOT_FOUND', message: `no route ${req.method} ${req.url}` })
  })

  app.setErrorHandler((err: FastifyError, req, reply) => {
    const { status, body, headers } = toHttpError(err)
    if (status >= 500) req.log.error({ err }, 'request failed')
    reply.code(status).headers(headers).send(body)
  })
}

interface HttpError {
  status: number
  body: { code: string; message: string; [detail: string]: unknown }
  headers: Record<string, string>
}

/** The one place that maps a failure to a status and a JSON body. */
function toHttpError(err: FastifyError | Error): HttpError {
  if (isCartRejected(err)) {
    return { status: REJECTION_STATUS[err.code], body: { code: err.code, message: err.message }, headers: {} }
  }
  if (err instanceof RevisionMismatch) {
    return {
      status: 412,
      body: { code: err.code, message: err.message, expected: err.expected, actual: err.actual },
      headers: { etag: etag(err.actual) },
    }
  }
  if (isEventStoreError(err, 'COMMAND_RETRIES_EXHAUSTED')) {
    return {
      status: 409,
      body: { code: err.code, message: 'the cart kept changing under the command; try again' },
      headers: {},
    }
  }
  if (err instanceof RequestInvalid) {
    return { status: 400, body: { code: err.code, message: err.message, issues: err.issues }, headers: {} }
  }
  const statusCode = (err as FastifyError).statusCode
  if (statusCode !== undefined && statusCode >= 400 && statusCode < 500) {
    // Fastify's own refusals: malformed JSON, wrong content type, body too large.
    const code = (err as FastifyError).code ?? 'BAD_REQUEST'
    return { status: statusCode, body: { code, message: err.message }, headers: {} }
  }
  return { status: 500, body: { code: 'INTERNAL', message: 'internal error' }, headers: {} }
}
