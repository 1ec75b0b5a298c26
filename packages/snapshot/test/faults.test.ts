import { readdirSync } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { tempDir } from '../../../test-support/temp-dir.js'
import { isSnapshotError, SnapshotStore } from '../src/index.js'

type Op = 'open' | 'write' | 'sync' | 'rename'

// Injected faults: the snapshot store's file operations go through node:fs/promises, wrapped here.
const faults = vi.hoisted(() => ({ op: undefined as string | undefined, code: 'EIO' }))

function injected(op: string): NodeJS.ErrnoException | undefined {
  if (faults.op !== op) return undefined
  const err: NodeJS.ErrnoException = new Error(`injected ${faults.code} on ${op}`)
  err.code = faults.code
  return err
}

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>()
  const wrapHandle = (handle: FileHandle): FileHandle =>
    new Proxy(handle, {
      get(target, key, receiver) {
        const value = Reflect.get(target, key, receiver)
        if (typeof value !== 'function') return value
        if (key === 'writeFile' || key === 'write') {
          return (...args: unknown[]) => {
            const err = injected('write')
            return err ? Promise.reject(err) : value.apply(target, args)
          }
        }
        if (key === 'sync' || key === 'datasync') {
          return (...args: unknown[]) => {
            const err = injected('sync')
            return err ? Promise.reject(err) : value.apply(target, args)
          }
        }
        return value.bind(target)
      },
    })
  const open = (async (...args: Parameters<typeof real.open>) => {
    // Only file creation is faulted: opening the directory to fsync it stays real.
    const err = args[1] === 'wx' ? injected('open') : undefined
    if (err) throw err
    return wrapHandle(await real.open(...args))
  }) as typeof real.open
  const rename = (async (...args: Parameters<typeof real.rename>) => {
    const err = injected('rename')
    if (err) throw err
    return real.rename(...args)
  }) as typeof real.rename
  return { ...real, default: { ...real, open, rename }, open, rename }
})

afterEach(() => {
  faults.op = undefined
})

describe('snapshot store under injected I/O faults', () => {
  const cases: Array<[Op, string]> = []
  for (const op of ['open', 'write', 'sync', 'rename'] as const)
    for (const code of ['EIO', 'ENOSPC']) cases.push([op, code])

  it.each(cases)(
    '%s fails with %s: SNAPSHOT_IO, the previous snapshot stays the latest, no temp file left',
    async (op, code) => {
      const dir = tempDir()
      const store = await SnapshotStore.open<Map<string, number>>({ dir })
      await store.save(new Map([['balance', 1]]), 10)
      faults.op = op
      faults.code = code
      const err = await store.save(new Map([['balance', 2]]), 20).catch((e: unknown) => e)
      expect(isSnapshotError(err, 'SNAPSHOT_IO')).toBe(true)
      expect((err as Error).cause).toMatchObject({ code })
      faults.op = undefined
      const latest = await store.loadLatest()
      expect(latest?.seq).toBe(10)
      expect(latest?.state).toEqual(new Map([['balance', 1]]))
      expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([])
      // Once the file system works again, saving works again.
      await store.save(new Map([['balance', 3]]), 30)
      expect((await store.loadLatest())?.seq).toBe(30)
    },
  )
})
