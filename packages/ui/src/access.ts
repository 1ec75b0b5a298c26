/**
 * Who may use the inspector: whoever holds the token printed in its URL, through the address it was
 * bound to. The token keeps other local users (and any web page the browser opens) out; the `Host`
 * check defeats DNS rebinding (a page on `evil.example` re-pointed at 127.0.0.1 sends
 * `Host: evil.example`), so no page of another origin can read the events even if it could guess
 * the port.
 *
 * @internal
 */
import { randomBytes, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { networkInterfaces } from 'node:os'

/** A fresh random token: 24 bytes, URL-safe base64. */
export function newToken(): string {
  return randomBytes(24).toString('base64url')
}

/** `host:port` as a URL and a `Host` header write it (IPv6 in brackets). */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}

/** Whether `host` is a wildcard address (all interfaces). */
export function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::'
}

/** Whether `host` is a loopback address. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host)
}

/**
 * The `Host` headers accepted: the bound address and port; for a wildcard bind, every address of
 * the machine's interfaces with the port.
 */
export function allowedHosts(host: string, port: number): Set<string> {
  if (!isWildcard(host)) return new Set([hostPort(host, port)])
  const out = new Set<string>()
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      if (host === '0.0.0.0' && a.family !== 'IPv4') continue
      out.add(hostPort(a.address, port))
    }
  }
  return out
}

/** The cookie the token is kept in after the first page load (one per port: cookies ignore ports). */
export function cookieName(port: number): string {
  return `waltz_ui_${port}`
}

function sameToken(given: string | undefined, token: string): boolean {
  if (given === undefined) return false
  const a = Buffer.from(given)
  const b = Buffer.from(token)
  return a.length === b.length && timingSafeEqual(a, b)
}

function cookie(req: IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie
  if (header === undefined) return undefined
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim()
  }
  return undefined
}

/** Why a request is refused, or undefined when it may proceed. */
export function refusal(
  req: IncomingMessage,
  url: URL,
  token: string,
  hosts: ReadonlySet<string>,
  port: number,
): string | undefined {
  if (req.headers.host === undefined || !hosts.has(req.headers.host.toLowerCase())) {
    return 'the Host header is not the address the inspector is bound to'
  }
  const auth = req.headers.authorization
  const bearer = auth?.startsWith('Bearer ') ? auth.slice(7) : undefined
  if (
    sameToken(url.searchParams.get('token') ?? undefined, token) ||
    sameToken(cookie(req, cookieName(port)), token) ||
    sameToken(bearer, token)
  ) {
    return undefined
  }
  return 'a valid access token is required (open the URL the inspector printed)'
}
