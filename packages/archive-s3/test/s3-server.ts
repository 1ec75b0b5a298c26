/**
 * A real S3-compatible server for the tests: s3rver (the npm package, a Node implementation of the S3
 * HTTP API that keeps objects in a directory) in a child process on loopback, so a test can stop it
 * mid-upload and start it again on the same port and data.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { createServer } from 'node:net'
import { dirname, join } from 'node:path'
import { CreateBucketCommand, ListBucketsCommand, S3Client } from '@aws-sdk/client-s3'
import { fileTempDir } from '../../../test-support/temp-dir.js'

const require = createRequire(import.meta.url)
const S3RVER = join(dirname(require.resolve('s3rver/package.json')), 'bin', 's3rver.js')

/** The bucket every test uses. */
export const BUCKET = 'waltz-test'

/** A free TCP port on loopback. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

/** A client for the server on `port` (s3rver's fixed credentials). */
export function clientFor(port: number): S3Client {
  return new S3Client({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    maxAttempts: 1,
  })
}

/** The server: `start()` (again after `stop()`, same port and objects), `stop()`, and a client. */
export interface S3Server {
  readonly port: number
  readonly dataDir: string
  readonly client: S3Client
  start(): Promise<void>
  stop(): Promise<void>
}

/**
 * Starts s3rver on a free loopback port with a fresh data directory and the test bucket.
 *
 * @returns the running server
 */
export async function startS3(): Promise<S3Server> {
  const port = await freePort()
  // Shared by every test of the file (a per-test directory would vanish under the running server).
  const dataDir = fileTempDir()
  const client = clientFor(port)
  let child: ChildProcess | undefined
  const server: S3Server = {
    port,
    dataDir,
    client,
    async start() {
      // s3rver encrypts ListObjectsV2 continuation tokens with DES, which OpenSSL 3 (Node 17 and
      // later) only has in its legacy provider: without it every list past the first page fails.
      const args = [
        '--openssl-legacy-provider',
        S3RVER,
        '-d',
        dataDir,
        '-a',
        '127.0.0.1',
        '-p',
        String(port),
        '-s',
      ]
      child = spawn(process.execPath, args, { stdio: 'ignore' })
      const deadline = Date.now() + 15_000
      for (;;) {
        try {
          await client.send(new ListBucketsCommand({}))
          return
        } catch (err) {
          if (Date.now() > deadline)
            throw new Error(`s3rver did not start on ${port}: ${(err as Error).message}`)
          await new Promise((r) => setTimeout(r, 50))
        }
      }
    },
    async stop() {
      const c = child
      child = undefined
      if (!c || c.exitCode !== null) return
      await new Promise<void>((resolve) => {
        c.once('exit', () => resolve())
        c.kill('SIGKILL')
      })
    },
  }
  await server.start()
  await client.send(new CreateBucketCommand({ Bucket: BUCKET }))
  return server
}
