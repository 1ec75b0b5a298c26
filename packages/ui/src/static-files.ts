/**
 * The page: the package's `static/` files, and the two small libraries it is written with (Preact
 * and htm) served from their installed packages, so nothing is fetched from the internet and
 * nothing is built at install time. The import map that lets the page (and Preact's hooks module)
 * say `import ... from 'preact'` is inline in `index.html`, and so is `boot.js` once served; their
 * hashes go into the Content-Security-Policy, which allows no other inline script.
 *
 * @internal
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const require = createRequire(import.meta.url)
const STATIC_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'static')

/** The vendored modules, by the path the page imports them from. */
const VENDOR: Readonly<Record<string, () => string>> = {
  '/vendor/preact.mjs': () => require.resolve('preact'),
  '/vendor/preact-hooks.mjs': () => require.resolve('preact/hooks'),
  // htm's `require` entry is `dist/htm.js`; its ES module lies beside it.
  '/vendor/htm.mjs': () => join(dirname(require.resolve('htm')), 'htm.mjs'),
}

/**
 * `static/index.html` as served: its `<script src="/static/boot.js">` replaced by the script itself,
 * inline, so that the first API requests start as the page is parsed rather than after one more
 * round trip (see `boot.js`). Built once, at startup.
 */
const INDEX_HTML = readFileSync(join(STATIC_DIR, 'index.html'), 'utf8').replace(
  '<script src="/static/boot.js"></script>',
  () => `<script>${readFileSync(join(STATIC_DIR, 'boot.js'), 'utf8')}</script>`,
)

/** The page's inline scripts (the import map, boot.js): the only inline code the CSP allows. */
const INLINE_SCRIPTS = [...INDEX_HTML.matchAll(/<script(?: type="importmap")?>([\s\S]*?)<\/script>/g)].map(
  (m) => m[1]!,
)

/** The page's Content-Security-Policy: same-origin everything, its inline scripts by their hashes. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  `script-src 'self'${INLINE_SCRIPTS.map((code) => ` 'sha256-${createHash('sha256').update(code).digest('base64')}'`).join('')}`,
  "style-src 'self'",
  "img-src 'self' data:",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ')

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
}

/** A file to send. */
export interface StaticFile {
  body: Buffer
  type: string
}

const cache = new Map<string, StaticFile>()
const INDEX: StaticFile = { body: Buffer.from(INDEX_HTML), type: TYPES['.html']! }

async function load(path: string): Promise<StaticFile> {
  const ext = path.slice(path.lastIndexOf('.'))
  const body = await readFile(path)
  return { body, type: TYPES[ext] ?? 'application/octet-stream' }
}

/**
 * The file served at `pathname`, or undefined when there is none. Only known names are served (no
 * path from the request ever reaches the file system).
 */
export async function staticFile(pathname: string): Promise<StaticFile | undefined> {
  if (pathname === '/' || pathname === '/index.html') return INDEX
  const hit = cache.get(pathname)
  if (hit) return hit
  let path: string | undefined
  if (pathname === '/static/app.js') path = join(STATIC_DIR, 'app.js')
  else if (pathname === '/static/style.css') path = join(STATIC_DIR, 'style.css')
  else if (Object.hasOwn(VENDOR, pathname)) path = VENDOR[pathname]!()
  if (path === undefined) return undefined
  const file = await load(path)
  cache.set(pathname, file)
  return file
}
