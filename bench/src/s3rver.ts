/**
 * s3rver (a Node implementation of the S3 HTTP API keeping objects in a directory) in a child process
 * on a free loopback port, for the archive workload: the S3 side of `Archive.put` and `Archive.get` is
 * a real server speaking HTTP to the real `@aws-sdk/client-s3`, as in `@waltz/archive-s3`'s tests.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { createServer } from 'node:net'
import { dirname, join } from 'node:path'
import { CreateBucketCommand, ListBucketsCommand, S3Client } from '@aws-sdk/client-s3'

const require = createRequire(import.meta.url)

// The SDK warns under Node < 22 that its versions after January 2027 will need Node 22: the bench pins
// its version and runs on Node 20 on purpose, so the notice would only interleave with the progress log.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'

/** A running s3rver with one bucket, and a client for it. */
export interface S3rver {
  readonly client: S3Client
  readonly bucket: string
  stop(): Promise<void>
}

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

/**
 * Starts s3rver on `dataDir` and creates `bucket`.
 *
 * @param dataDir - where it keeps the objects
 * @param bucket - the bucket to create
 * @returns the server, once it answers
 */
export async function startS3rver(dataDir: string, bucket: string): Promise<S3rver> {
  const bin = join(dirname(require.resolve('s3rver/package.json')), 'bin', 's3rver.js')
  const port = await freePort()
  // s3rver's list continuation tokens are DES, which OpenSSL 3 has only in its legacy provider.
  const args = ['--openssl-legacy-provider', bin, '-d', dataDir, '-a', '127.0.0.1', '-p', String(port), '-s']
  const child: ChildProcess = spawn(process.execPath, args, { stdio: 'ignore' })
  const client = new S3Client({
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  })
  const stop = async () => {
    client.destroy()
    if (child.exitCode !== null) return
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve())
      child.kill('SIGKILL')
    })
  }
  const deadline = performance.now() + 15_000
  for (;;) {
    try {
      await client.send(new ListBucketsCommand({}))
      break
    } catch (err) {
      if (performance.now() > deadline) {
        await stop()
        throw new Error(`s3rver did not start on port ${port}: ${(err as Error).message}`)
      }
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  await client.send(new CreateBucketCommand({ Bucket: bucket }))
  return { client, bucket, stop }
}
