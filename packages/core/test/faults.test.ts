import { describe, expect, it } from 'vitest'
import { collect } from '../../../test-support/collect.js'
import { payloadFor } from '../../../test-support/payload.mjs'
import { tempDir } from '../../../test-support/temp-dir.js'
import type { Files } from '../src/files.js'
import { isWalError, Wal } from '../src/index.js'
import { faultyFiles } from './helpers.js'

const OPS: Array<keyof Files> = ['writeSync', 'fdatasync', 'open', 'syncDir']
const CODES = ['EIO', 'ENOSPC']

describe('injected I/O faults', () => {
  for (const op of OPS) {
    for (const code of CODES) {
      it(`${code} on ${op}: typed error, fails closed, reopen recovers everything acknowledged`, async () => {
        const dir = tempDir()
        const fault = faultyFiles()
        // Small segments so rotation (open, syncDir) happens within a few appends.
        const wal = await Wal.open({ dir, sync: 'always', segmentSize: 2048, files: fault.files })
        const acked: number[] = []
        for (let i = 1; i <= 10; i++) acked.push(await wal.append({ type: 'ok', data: payloadFor(i, 200) }))
        fault.fail(op, code)
        let failure: unknown
        for (let i = 0; i < 100 && failure === undefined; i++) {
          // Concurrent appends: the faulty batch and those queued behind it must all reject.
          const results = await Promise.allSettled(
            [0, 1, 2].map((k) => wal.append({ type: 'late', data: payloadFor(1000 + i * 3 + k, 200) })),
          )
          for (const r of results) {
            if (r.status === 'fulfilled') acked.push(r.value)
            else failure ??= r.reason
          }
        }
        expect(isWalError(failure, 'WAL_IO')).toBe(true)
        expect((failure as Error).cause).toMatchObject({ code })
        // Fail closed: healing the file system does not revive the WAL; nothing more is acknowledged.
        fault.heal(op)
        await expect(wal.append({ type: 'after', data: new Uint8Array(1) })).rejects.toMatchObject({
          code: 'WAL_IO',
        })
        await expect(wal.sync()).rejects.toMatchObject({ code: 'WAL_IO' })
        await wal.close().catch(() => {})
        const reopened = await Wal.open({ dir })
        const records = await collect(reopened.records())
        const bySeq = new Map(records.map((r) => [r.seq, r]))
        for (const seq of acked) expect(bySeq.has(seq), `acknowledged seq ${seq} lost`).toBe(true)
        expect(records.map((r) => r.seq)).toEqual(records.map((_, i) => i + 1))
        // And the reopened log takes appends again.
        expect(await reopened.append({ type: 'again', data: new Uint8Array(1) })).toBe(records.length + 1)
        await reopened.close()
      })
    }
  }

  it('a failing open on Wal.open is a typed WAL_IO error and releases the lock', async () => {
    const dir = tempDir()
    await (await Wal.open({ dir })).close()
    const fault = faultyFiles()
    fault.fail('open', 'EIO')
    await expect(Wal.open({ dir, files: fault.files })).rejects.toMatchObject({ code: 'WAL_IO' })
    await (await Wal.open({ dir })).close()
  })
})
