/**
 * The inspector's HTTP server (`node:http`, no framework: a handful of GET routes, one POST and one
 * server-sent-events stream). Every request, page and API alike, passes the access check first.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { type EncryptionOptions, readLock, type WalLogger } from '@waltz/core'
import { EventStoreReader, isEventStoreError } from '@waltz/eventstore'
import { allowedHosts, cookieName, hostPort, isLoopback, newToken, refusal } from './access.js'
import { diskUsage } from './disk.js'
import { UiError } from './errors.js'
import { RateSampler } from './rates.js'
import { type DataDecoder, viewOf } from './render.js'
import { CONTENT_SECURITY_POLICY, staticFile } from './static-files.js'
import { VerifyJob } from './verify-job.js'

/** Options of {@link startUi}. */
export interface UiOptions {
  /** The event store's directory. Opened read-only: no lock, nothing written. */
  dir: string
  /** The address to listen on. Default `127.0.0.1`; another than loopback needs `allowRemote`. */
  host?: string
  /** The port; default 0 (a free one, chosen by the system). */
  port?: number
  /** Allows a `host` that is not a loopback address (the token still guards every request). */
  allowRemote?: boolean
  /**
   * Decodes event data for display (the store's serializer: `(bytes, type) => serializer.decode(bytes, type)`).
   * Without it, data is shown as hex with its stored size; data it fails on is shown as hex too.
   */
  decode?: (bytes: Uint8Array, type: string) => unknown
  /** How the page names the decoding, e.g. `json (waltz-json/1)`. Default: `hex` or `custom`. */
  decoderName?: string
  /** Where problems met while following the log are reported (default: silent). */
  logger?: WalLogger
  /**
   * An encrypted store's master key (`localKeyring` from `@waltz/core`): event data is then opened
   * (and decoded), shredded events are marked. Without it, encrypted data is not shown.
   */
  encryption?: Pick<EncryptionOptions, 'keyring'>
}

/** A running inspector. */
export interface UiServer {
  /** The URL to open, with the access token: `http://127.0.0.1:<port>/?token=<token>`. */
  readonly url: string
  /** The access token (random, 24 bytes). */
  readonly token: string
  /** The address listened on. */
  readonly host: string
  /** The port listened on. */
  readonly port: number
  /** The read-only view of the store the server reads. */
  readonly reader: EventStoreReader
  /** Ends live tails, stops the server and closes the view. Idempotent. */
  close(): Promise<void>
}

/** Most records a live tail keeps queued for a slow browser before it is disconnected. */
const TAIL_QUEUE = 1000
/** Comment lines sent on idle tails, so that proxies and browsers keep them open. */
const HEARTBEAT_MS = 15_000

class BadRequest extends Error {}

function send(res: ServerResponse, status: number, type: string, body: string | Buffer): void {
  res.writeHead(status, {
    'content-type': type,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  })
  res.end(body)
}

function sendJson(res: ServerResponse, value: unknown): void {
  send(res, 200, 'application/json; charset=utf-8', JSON.stringify(value))
}

function intParam(url: URL, name: string): number | undefined {
  const text = url.searchParams.get(name)
  if (text === null || text === '') return undefined
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new BadRequest(`${name} must be a non-negative integer, got '${text}'`)
  }
  return Number(text)
}

function directionParam(url: URL): 'forwards' | 'backwards' {
  const d = url.searchParams.get('direction') ?? 'forwards'
  if (d !== 'forwards' && d !== 'backwards') throw new BadRequest(`direction must be forwards or backwards`)
  return d
}

function stringParam(url: URL, name: string): string | undefined {
  const v = url.searchParams.get(name)
  return v === null || v === '' ? undefined : v
}

function typesParam(url: URL): string[] | undefined {
  const t = stringParam(url, 'types')
  return t
    ?.split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
}

/**
 * Starts the inspector on the store in `options.dir`: opens a read-only view of it (no lock; the
 * service that owns the store keeps running) and serves the page and its API.
 *
 * @param options - see {@link UiOptions}
 * @returns the running server; print its `url`
 * @throws UiError `UI_REMOTE_NOT_ALLOWED`, `UI_INVALID_ARGUMENT`, `UI_LISTEN_FAILED`; WalError from
 *   opening the log (`WAL_INVALID_ARGUMENT` for a missing directory, ...)
 * @example
 * ```ts no-run
 * const ui = await startUi({ dir: './shop' })
 * console.log(`open ${ui.url}`)
 * ```
 */
export async function startUi(options: UiOptions): Promise<UiServer> {
  const host = options.host ?? '127.0.0.1'
  const port = options.port ?? 0
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UiError('UI_INVALID_ARGUMENT', `port must be an integer from 0 to 65535, got ${String(port)}`)
  }
  if (!isLoopback(host) && options.allowRemote !== true) {
    throw new UiError(
      'UI_REMOTE_NOT_ALLOWED',
      `${host} is not a loopback address: other machines could reach the inspector; pass allowRemote (--allow-remote) to allow it`,
    )
  }
  const reader = await EventStoreReader.open({
    dir: options.dir,
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.encryption ? { encryption: options.encryption } : {}),
  })
  const token = newToken()
  const decode: DataDecoder | undefined = options.decode
  const decoderName = options.decoderName ?? (decode ? 'custom' : 'hex')
  const rates = new RateSampler(() => reader.log.lastSeq)
  const verify = new VerifyJob(options.dir)
  const tails = new Set<ServerResponse>()
  let hosts = new Set<string>()
  let boundPort = 0

  const api = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    switch (url.pathname) {
      case '/api/overview': {
        const disk = await diskUsage(options.dir)
        const lock = readLock(options.dir)
        sendJson(res, {
          dir: options.dir,
          decoder: decoderName,
          firstPosition: reader.log.firstSeq,
          lastPosition: reader.log.lastSeq,
          serializer: reader.log.serializerName ?? null,
          disk,
          index: reader.stats(),
          writer: lock
            ? { pid: lock.owner?.pid ?? null, host: lock.owner?.host ?? null, alive: lock.alive }
            : null,
          rates: rates.list(),
          verify: verify.state(),
        })
        return
      }
      case '/api/info':
        // What every page's header shows: cheap, no listing of the directory.
        sendJson(res, { dir: options.dir, decoder: decoderName })
        return
      case '/api/verify':
        sendJson(res, req.method === 'POST' ? verify.start() : verify.state())
        return
      case '/api/streams': {
        const page = await reader.listStreams({
          prefix: stringParam(url, 'prefix') ?? '',
          ...(stringParam(url, 'after') !== undefined ? { after: stringParam(url, 'after')! } : {}),
          limit: intParam(url, 'limit') ?? 50,
        })
        sendJson(res, page)
        return
      }
      case '/api/stream': {
        const name = stringParam(url, 'name')
        if (name === undefined) throw new BadRequest('name is required')
        const from = intParam(url, 'from')
        const page = await reader.readStream(name, {
          direction: directionParam(url),
          limit: intParam(url, 'limit') ?? 50,
          ...(from !== undefined ? { from } : {}),
        })
        sendJson(res, { ...page, events: page.events.map((e) => viewOf(e, decode)) })
        return
      }
      case '/api/all': {
        const from = intParam(url, 'from')
        const prefix = stringParam(url, 'prefix')
        const types = typesParam(url)
        const page = await reader.readAll({
          direction: directionParam(url),
          limit: intParam(url, 'limit') ?? 50,
          ...(from !== undefined ? { from } : {}),
          ...(prefix !== undefined ? { streamPrefix: prefix } : {}),
          ...(types !== undefined ? { types } : {}),
        })
        sendJson(res, { ...page, records: page.records.map((e) => viewOf(e, decode)) })
        return
      }
      case '/api/consumers':
        sendJson(res, { lastPosition: reader.log.lastSeq, consumers: await reader.consumers() })
        return
      case '/api/tail':
        tail(req, res, url)
        return
      default:
        send(res, 404, 'text/plain; charset=utf-8', 'not found\n')
    }
  }

  /** A live tail: every new record matching the filters, as a server-sent event. */
  const tail = (req: IncomingMessage, res: ServerResponse, url: URL): void => {
    const prefix = stringParam(url, 'prefix')
    const types = typesParam(url)
    const typeSet = types ? new Set(types) : undefined
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    })
    // The page shows the tail as on once this arrives: appends from now on will be sent.
    res.write(`event: ready\ndata: ${JSON.stringify({ from: reader.position + 1 })}\n\n`)
    tails.add(res)
    let queued = 0
    const unsubscribe = reader.subscribe((r) => {
      if (prefix !== undefined && !r.stream.startsWith(prefix)) return
      if (typeSet !== undefined && !typeSet.has(r.type)) return
      // A browser that does not keep up is cut off rather than buffered without bound.
      if (queued > TAIL_QUEUE) {
        res.destroy()
        return
      }
      if (!res.write(`event: record\ndata: ${JSON.stringify(viewOf(r, decode))}\n\n`)) queued++
    })
    res.on('drain', () => {
      queued = 0
    })
    const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), HEARTBEAT_MS)
    const end = () => {
      clearInterval(heartbeat)
      unsubscribe()
      tails.delete(res)
    }
    req.on('close', end)
    res.on('close', end)
  }

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    res.setHeader('x-content-type-options', 'nosniff')
    res.setHeader('referrer-policy', 'no-referrer')
    res.setHeader('x-frame-options', 'DENY')
    res.setHeader('content-security-policy', CONTENT_SECURITY_POLICY)
    const url = new URL(req.url ?? '/', 'http://inspector.invalid')
    const why = refusal(req, url, token, hosts, boundPort)
    if (why !== undefined) {
      send(res, 403, 'text/plain; charset=utf-8', `forbidden: ${why}\n`)
      return
    }
    const post = req.method === 'POST' && url.pathname === '/api/verify'
    if (req.method !== 'GET' && req.method !== 'HEAD' && !post) {
      send(res, 405, 'text/plain; charset=utf-8', 'method not allowed: the inspector is read-only\n')
      return
    }
    try {
      if (url.pathname.startsWith('/api/')) {
        await api(req, res, url)
        return
      }
      if (url.pathname === '/favicon.ico') {
        res.writeHead(204, { 'cache-control': 'max-age=86400' }).end()
        return
      }
      const file = await staticFile(url.pathname)
      if (file === undefined) {
        send(res, 404, 'text/plain; charset=utf-8', 'not found\n')
        return
      }
      if (url.searchParams.has('token')) {
        // Later requests (the page's scripts, its API calls, the live tail) carry the cookie.
        res.setHeader('set-cookie', `${cookieName(boundPort)}=${token}; HttpOnly; SameSite=Strict; Path=/`)
      }
      send(res, 200, file.type, file.body)
    } catch (err) {
      if (res.headersSent) {
        res.destroy()
        return
      }
      if (
        err instanceof BadRequest ||
        (isEventStoreError(err) && err.code === 'EVENTSTORE_INVALID_ARGUMENT')
      ) {
        send(res, 400, 'application/json; charset=utf-8', JSON.stringify({ error: (err as Error).message }))
        return
      }
      send(res, 500, 'application/json; charset=utf-8', JSON.stringify({ error: (err as Error).message }))
    }
  }

  const server: Server = createServer((req, res) => {
    void handle(req, res)
  })
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, host, () => {
        server.off('error', reject)
        resolve()
      })
    })
  } catch (err) {
    rates.stop()
    await reader.close()
    throw new UiError(
      'UI_LISTEN_FAILED',
      `cannot listen on ${hostPort(host, port)}: ${(err as Error).message}`,
      {
        cause: err,
      },
    )
  }
  boundPort = (server.address() as AddressInfo).port
  hosts = allowedHosts(host, boundPort)
  let closing: Promise<void> | undefined
  return {
    url: `http://${hostPort(host, boundPort)}/?token=${token}`,
    token,
    host,
    port: boundPort,
    reader,
    close() {
      closing ??= (async () => {
        rates.stop()
        for (const res of tails) res.destroy()
        await new Promise<void>((resolve) => server.close(() => resolve()))
        server.closeAllConnections()
        await reader.close()
      })()
      return closing
    },
  }
}
