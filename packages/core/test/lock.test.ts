import { writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { exited, waitForLine } from '../../../test-support/child-process.js'
import { tempDir } from '../../../test-support/temp-dir.js'
import { readLock, Wal } from '../src/index.js'
import { startFixture } from './helpers.js'

describe('single-writer lock', () => {
  it('a second writer in the same process gets WAL_LOCKED; after close it can open', async () => {
    const dir = tempDir()
    const wal = await Wal.open({ dir })
    await expect(Wal.open({ dir })).rejects.toMatchObject({ code: 'WAL_LOCKED' })
    await wal.close()
    await (await Wal.open({ dir })).close()
  })

  it('a writer in another process holds the lock; once it is SIGKILLed the stale lock is taken over', async () => {
    const dir = tempDir()
    const child = startFixture('hold-lock.mjs', [dir])
    const pid = Number((await waitForLine(child, (line) => line.startsWith('ready '))).slice(6))
    const err = await Wal.open({ dir }).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'WAL_LOCKED' })
    expect(String(err)).toContain(`pid ${pid}`)
    expect(readLock(dir)).toMatchObject({ alive: true, owner: { pid } })
    child.kill('SIGKILL')
    await exited(child)
    expect(readLock(dir)).toMatchObject({ alive: false })
    const wal = await Wal.open({ dir })
    expect(readLock(dir)).toMatchObject({ alive: true, owner: { pid: process.pid } })
    await wal.close()
    expect(readLock(dir)).toBeUndefined()
  })

  it('a lock naming a pid that no longer exists is stale', async () => {
    const dir = tempDir()
    await (await Wal.open({ dir })).close()
    writeFileSync(join(dir, 'LOCK'), JSON.stringify({ pid: 2 ** 22 + 12345, host: hostname(), start: '1' }))
    await (await Wal.open({ dir })).close()
  })

  it('a reader takes no lock and can read while a writer is open; it has no append', async () => {
    const dir = tempDir()
    const wal = await Wal.open({ dir })
    await wal.append({ type: 'a', data: new Uint8Array([1]) })
    await wal.flush()
    const reader = await Wal.openReader({ dir })
    expect(reader.lastSeq).toBe(1)
    // @ts-expect-error: a WalReader has no append (a read-only mistake fails at compile time)
    expect(reader.append).toBeUndefined()
    await expect(Wal.open({ dir: tempDir(), readOnly: true } as never)).rejects.toMatchObject({
      code: 'WAL_INVALID_ARGUMENT',
    })
    await reader.close()
    await wal.close()
  })
})

describe('stale lock takeover race', () => {
  it('when several processes take over a stale lock at once, exactly one wins', async () => {
    const dir = tempDir()
    await (await Wal.open({ dir })).close()
    writeFileSync(join(dir, 'LOCK'), JSON.stringify({ pid: 2 ** 22 + 54321, host: hostname(), start: '1' }))
    const children = [0, 1, 2, 3].map(() => startFixture('hold-lock.mjs', [dir]))
    const outcomes = await Promise.all(
      children.map((child) =>
        waitForLine(child, (line) => line.startsWith('ready') || line.startsWith('refused')).then((line) =>
          line.startsWith('ready') ? 'ready' : line,
        ),
      ),
    )
    for (const child of children) child.kill('SIGKILL')
    await Promise.all(children.map(exited))
    expect(outcomes.filter((o) => o === 'ready')).toHaveLength(1)
    expect(outcomes.filter((o) => o !== 'ready')).toEqual([
      'refused WAL_LOCKED',
      'refused WAL_LOCKED',
      'refused WAL_LOCKED',
    ])
  })
})
