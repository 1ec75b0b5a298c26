import type { ChildProcess } from 'node:child_process'
import { cpSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { requireBuilt, startNode } from '../../../test-support/child-process.js'
import { payloadFor } from '../../../test-support/payload.mjs'
import { tempDir } from '../../../test-support/temp-dir.js'
import { type Files, nodeFiles } from '../src/files.js'
import { Wal } from '../src/index.js'

/** Starts `test/fixtures/<script>` with node, after checking the build it imports exists. */
export function startFixture(script: string, args: string[]): ChildProcess {
  requireBuilt(new URL('../dist/index.js', import.meta.url))
  return startNode(new URL(`./fixtures/${script}`, import.meta.url), args)
}

/** The segment files of a log directory, oldest first, as paths. */
export function segmentFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => n.endsWith('.wal'))
    .sort()
    .map((n) => join(dir, n))
}

/**
 * A log as a crash leaves it in the middle of an unsynced write: 10 durable records (`'always'`), then
 * 40 more (`payloadFor(seq, 100)`) written in one write that no fdatasync covered ('background' mode),
 * copied before any close or final sync (the copy has no LOCK).
 *
 * @returns the copy's directory, its one segment file, and that file's bytes
 */
export async function unsyncedWrite(): Promise<{ dir: string; file: string; bytes: Buffer }> {
  const dir = tempDir()
  const wal = await Wal.open({ dir, sync: 'always' })
  for (let seq = 1; seq <= 10; seq++) await wal.append({ type: 'r', data: payloadFor(seq, 100) })
  await wal.close()
  const background = await Wal.open({ dir, sync: 'background', syncIntervalMs: 60_000, bufferSize: 1 << 20 })
  for (let seq = 11; seq <= 50; seq++) void background.append({ type: 'r', data: payloadFor(seq, 100) })
  await background.flush()
  const crashed = tempDir()
  cpSync(dir, crashed, { recursive: true })
  rmSync(join(crashed, 'LOCK'))
  await background.close()
  const file = segmentFiles(crashed)[0]!
  return { dir: crashed, file, bytes: readFileSync(file) }
}

/** A {@link Files} wrapper that counts calls and can be told to fail one operation. */
export function faultyFiles(base: Files = nodeFiles) {
  const calls: Record<string, number> = {}
  const failures = new Map<string, NodeJS.ErrnoException>()
  const wrap =
    <A extends unknown[], R>(name: keyof Files, fn: (...args: A) => Promise<R>) =>
    (...args: A): Promise<R> => {
      calls[name] = (calls[name] ?? 0) + 1
      const failure = failures.get(name)
      if (failure) return Promise.reject(failure)
      return fn(...args)
    }
  // A blocking call also fails when its asynchronous twin is told to (`write` fails `writeSync`).
  const wrapSync =
    <A extends unknown[], R>(name: keyof Files, twin: keyof Files, fn: (...args: A) => R) =>
    (...args: A): R => {
      calls[name] = (calls[name] ?? 0) + 1
      const failure = failures.get(name) ?? failures.get(twin)
      if (failure) throw failure
      return fn(...args)
    }
  const files: Files = {
    open: wrap('open', base.open),
    close: wrap('close', base.close),
    write: wrap('write', base.write),
    writeSync: wrapSync('writeSync', 'write', base.writeSync),
    read: wrap('read', base.read),
    ...(base.readSync ? { readSync: wrapSync('readSync', 'read', base.readSync) } : {}),
    fdatasync: wrap('fdatasync', base.fdatasync),
    fdatasyncSync: wrapSync('fdatasyncSync', 'fdatasync', base.fdatasyncSync),
    ftruncate: wrap('ftruncate', base.ftruncate),
    size: wrap('size', base.size),
    readdir: wrap('readdir', base.readdir),
    mkdir: wrap('mkdir', base.mkdir),
    syncDir: wrap('syncDir', base.syncDir),
    rename: wrap('rename', base.rename),
    unlink: wrap('unlink', base.unlink),
    readFile: wrap('readFile', base.readFile),
  }
  return {
    files,
    calls,
    /** Makes every later call of `op` fail with `code` (e.g. 'EIO'). */
    fail(op: keyof Files, code: string) {
      const err: NodeJS.ErrnoException = new Error(`injected ${code} on ${op}`)
      err.code = code
      failures.set(op, err)
    },
    heal(op: keyof Files) {
      failures.delete(op)
    },
  }
}
