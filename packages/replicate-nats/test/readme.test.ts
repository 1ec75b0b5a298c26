import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { jetstreamManager } from '@nats-io/jetstream'
import { localKeyring, Wal } from '@waltz/core'
import { describe, expect, it } from 'vitest'
import { tempDir } from '../../../test-support/temp-dir.js'
import { ensureStream, replicateToJetStream, restoreFromJetStream } from '../src/index.js'
import { NO_NATS_SERVER, startServer } from './nats.js'

// The README's example, against a real server and temp directories (one replica instead of three).
describe.skipIf(NO_NATS_SERVER)('README', () => {
  it('runs the primary and replica example', async () => {
    const root = tempDir()
    const server = await startServer()
    const nc = await server.connect()
    await ensureStream(await jetstreamManager(nc), { stream: 'ORDERS', subject: 'waltz.orders', replicas: 1 })

    const wal = await Wal.open({ dir: join(root, 'orders'), sync: 'always' })
    const replicator = replicateToJetStream({ wal, nc, stream: 'ORDERS', subject: 'waltz.orders' })
    const seq = await wal.append({
      type: 'placed',
      key: 'order-7',
      headers: { 'correlation-id': 'c-1' },
      data: new Uint8Array([1]),
    })
    await replicator.waitFor(seq)
    expect(replicator.metrics().lag).toBe(0)

    await restoreFromJetStream({ nc, stream: 'ORDERS', subject: 'waltz.orders', dir: join(root, 'replica') })
    const replica = await Wal.openReader({ dir: join(root, 'replica') })
    const seen: unknown[] = []
    for await (const r of replica.records()) seen.push([r.seq, r.type, r.key, r.headers, [...r.data]])
    expect(seen).toEqual([[1, 'placed', 'order-7', { 'correlation-id': 'c-1' }, [1]]])

    await replica.close()
    await replicator.stop()
    await wal.close()
    await nc.close()
  })

  it('runs the encrypted log example', async () => {
    const root = tempDir()
    const server = await startServer()
    const nc = await server.connect()
    await ensureStream(await jetstreamManager(nc), { stream: 'CUSTOMERS', subject: 'waltz.customers' })

    const keyring = localKeyring([{ id: 'k1', key: randomBytes(32) }])
    const wal = await Wal.open({ dir: join(root, 'customers'), encryption: { keyring } })
    const replicator = replicateToJetStream({ wal, nc, stream: 'CUSTOMERS', subject: 'waltz.customers' })
    const seq = await wal.append({
      type: 'email-changed',
      key: 'customer-7',
      data: new TextEncoder().encode('ann@example.com'),
    })

    await wal.shred('customer-7')
    await replicator.syncKeys()
    await replicator.waitFor(seq)

    await restoreFromJetStream({
      nc,
      stream: 'CUSTOMERS',
      subject: 'waltz.customers',
      dir: join(root, 'replica'),
    })
    const replica = await Wal.openReader({ dir: join(root, 'replica'), encryption: { keyring } })
    const seen: unknown[] = []
    for await (const r of replica.records()) seen.push([r.seq, r.key, r.shredded === true])
    expect(seen).toEqual([[1, 'customer-7', true]])

    await replica.close()
    await replicator.stop()
    await wal.close()
    await nc.close()
  })
})
