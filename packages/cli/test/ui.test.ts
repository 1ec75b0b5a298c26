import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { type Keyring, localKeyring } from '@waltz/core'
import { EventStore } from '@waltz/eventstore'
import { jsonSerializer } from '@waltz/serializer-json'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { tempDir } from '../../../test-support/temp-dir.js'
import { run } from '../src/index.js'
import { waltz } from './helpers.js'

async function store(dir: string, encryption?: { keyring: Keyring }): Promise<void> {
  const s = await EventStore.open({
    dir,
    serializer: jsonSerializer({ schemas: { Opened: z.object({ by: z.string() }) } }),
    ...(encryption ? { encryption } : {}),
  })
  await s.appendToStream('cart-1', [{ type: 'Opened', data: { by: 'ann' } }])
  await s.close()
}

/** Runs `waltz ui ...args` until `use` is done with the origin and token it printed. */
async function withUi(args: string[], use: (origin: string, token: string) => Promise<void>): Promise<void> {
  const stdout = new PassThrough()
  let out = ''
  stdout.on('data', (c: Buffer) => (out += c.toString()))
  const stop = new AbortController()
  const exit = run(['ui', ...args], { stdout, stderr: new PassThrough(), signal: stop.signal })
  const deadline = Date.now() + 10_000
  while (!/\?token=/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
  const url = /http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{32}/.exec(out)?.[0]
  expect(url, out).toBeDefined()
  try {
    await use(new URL(url!).origin, new URL(url!).searchParams.get('token')!)
  } finally {
    stop.abort()
    expect(await exit).toBe(0)
  }
}

describe('waltz ui', () => {
  it('serves until its signal aborts, then exits 0; the printed URL carries the token', async () => {
    const dir = tempDir()
    await store(dir)
    const stdout = new PassThrough()
    const stderr = new PassThrough()
    let out = ''
    let err = ''
    stdout.on('data', (c: Buffer) => (out += c.toString()))
    stderr.on('data', (c: Buffer) => (err += c.toString()))
    const stop = new AbortController()
    const exit = run(['ui', dir], { stdout, stderr, signal: stop.signal })
    const deadline = Date.now() + 10_000
    while (!/\?token=/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    const url = /http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{32}/.exec(out)?.[0]
    expect(url, out + err).toBeDefined()
    expect(out).toMatch(/^waltz ui: serving .* read-only \(no lock\) at\n/)
    // auto: the log's serializer (waltz-json/2) decodes the data, stored JSON as it is.
    expect(err).toContain('data is shown as stored')
    const origin = new URL(url!).origin
    const token = new URL(url!).searchParams.get('token')!
    const page = (await (
      await fetch(`${origin}/api/stream?name=cart-1`, { headers: { authorization: `Bearer ${token}` } })
    ).json()) as { events: { json: string }[] }
    expect(JSON.parse(page.events[0]!.json)).toEqual({ by: 'ann' })
    expect((await fetch(`${origin}/api/stream?name=cart-1`)).status).toBe(403)
    stop.abort()
    expect(await exit).toBe(0)
    await expect(fetch(`${origin}/`)).rejects.toThrow()
  })

  it('a --host other machines can reach needs --allow-remote (exit 2); a bad --port is exit 2', async () => {
    const dir = tempDir()
    await store(dir)
    const remote = await waltz('ui', dir, '--host', '0.0.0.0')
    expect(remote.code).toBe(2)
    expect(remote.stderr).toMatch(/^waltz ui: USAGE: .*0\.0\.0\.0 is not a loopback address.*--allow-remote/m)
    const port = await waltz('ui', dir, '--port', '70000')
    expect(port.code).toBe(2)
    expect(port.stderr).toMatch(/^waltz ui: USAGE: --port must be from 0 to 65535, got '70000'/)
  })

  it('an encrypted store: data shown with --master-key-file, marked encrypted without it', async () => {
    const dir = tempDir()
    const master = { id: 'm1', key: randomBytes(32) }
    await store(dir, { keyring: localKeyring([master]) })
    const keyFile = join(tempDir(), 'master.key')
    writeFileSync(keyFile, `${master.id}:${master.key.toString('base64')}`)
    const firstEvent = async (origin: string, token: string) => {
      const response = await fetch(`${origin}/api/stream?name=cart-1`, {
        headers: { authorization: `Bearer ${token}` },
      })
      return ((await response.json()) as { events: { json?: string; decodeError?: string }[] }).events[0]!
    }
    await withUi([dir, '--master-key-file', keyFile], async (origin, token) => {
      expect(JSON.parse((await firstEvent(origin, token)).json!)).toEqual({ by: 'ann' })
    })
    await withUi([dir], async (origin, token) => {
      const event = await firstEvent(origin, token)
      expect(event.decodeError).toMatch(/^encrypted/)
      expect(JSON.stringify(event)).not.toContain('ann')
    })
  })

  it('a port in use is exit 5 with the reason', async () => {
    const dir = tempDir()
    await store(dir)
    const { createServer } = await import('node:net')
    const busy = createServer()
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r))
    const port = (busy.address() as { port: number }).port
    try {
      const r = await waltz('ui', dir, '--port', String(port))
      expect(r.code).toBe(5)
      expect(r.stderr).toMatch(/^waltz ui: EADDRINUSE: UI_LISTEN_FAILED: cannot listen on 127\.0\.0\.1:\d+/m)
    } finally {
      busy.close()
    }
  })

  it('--archive: a missing archive directory is exit 3; S3 options without an s3:// archive are exit 2', async () => {
    const dir = tempDir()
    await store(dir)
    const missing = await waltz('ui', dir, '--archive', `${tempDir()}/nope`)
    expect(missing.code).toBe(3)
    expect(missing.stderr).toMatch(/archive directory .*nope does not exist/)
    const endpoint = await waltz('ui', dir, '--endpoint', 'http://127.0.0.1:1')
    expect(endpoint.code).toBe(2)
    expect(endpoint.stderr).toMatch(/--endpoint applies to an s3:\/\/ --archive only/)
    const scheme = await waltz('ui', dir, '--archive', 'gs://bucket/x')
    expect(scheme.code).toBe(2)
    expect(scheme.stderr).toMatch(/gs:\/\/ is not supported/)
  })
})
