/**
 * Simulated power loss, in the manner of the ALICE study (OSDI 2014) and LazyFS: a {@link Files}
 * wrapper records every mutating file operation of a real run; {@link crashStates} then rebuilds the
 * directory as a power cut at any point could have left it.
 *
 * The model: what an fdatasync covered is kept. Of the writes to a file after its last fdatasync, each
 * 512-byte sector may independently survive or not (so a later write can survive while an earlier one
 * does not, and a write can tear). A directory entry created or removed after the directory's last
 * fsync may or may not be there; a rename not followed by a directory fsync happened or not, as a
 * whole (the file is under exactly one of its two names).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { basename, dirname, join, relative } from 'node:path'
import type { Fd, Files } from '../src/files.js'
import { nodeFiles } from '../src/files.js'

const SECTOR = 512

type Op =
  | { kind: 'create'; path: string }
  | { kind: 'write'; path: string; position: number; data: Buffer }
  | { kind: 'truncate'; path: string; length: number }
  | { kind: 'fdatasync'; path: string }
  | { kind: 'unlink'; path: string }
  | { kind: 'rename'; from: string; to: string }
  | { kind: 'syncDir' }

/** Files on node:fs that log every mutating operation, in order. */
export class RecordingFiles {
  readonly ops: Op[] = []
  readonly files: Files
  /** How many of the recorded fdatasyncs were the blocking call. */
  blockingSyncs = 0
  private readonly paths = new Map<Fd, string>()

  constructor() {
    const ops = this.ops
    const paths = this.paths
    const pathOf = (fd: Fd): string => {
      const path = paths.get(fd)
      if (path === undefined) throw new Error(`unknown fd ${fd}`)
      return path
    }
    this.files = {
      ...nodeFiles,
      open: async (path, flags, mode) => {
        const fd = await nodeFiles.open(path, flags, mode)
        paths.set(fd, path)
        if (flags.includes('x')) ops.push({ kind: 'create', path })
        return fd
      },
      close: async (fd) => {
        paths.delete(fd)
        await nodeFiles.close(fd)
      },
      write: async (fd, buf, offset, length, position) => {
        ops.push({
          kind: 'write',
          path: pathOf(fd),
          position,
          data: Buffer.from(buf.subarray(offset, offset + length)),
        })
        await nodeFiles.write(fd, buf, offset, length, position)
      },
      writeSync: (fd, buf, offset, length, position) => {
        ops.push({
          kind: 'write',
          path: pathOf(fd),
          position,
          data: Buffer.from(buf.subarray(offset, offset + length)),
        })
        nodeFiles.writeSync(fd, buf, offset, length, position)
      },
      fdatasync: async (fd) => {
        await nodeFiles.fdatasync(fd)
        ops.push({ kind: 'fdatasync', path: pathOf(fd) })
      },
      fdatasyncSync: (fd) => {
        nodeFiles.fdatasyncSync(fd)
        this.blockingSyncs++
        ops.push({ kind: 'fdatasync', path: pathOf(fd) })
      },
      ftruncate: async (fd, length) => {
        ops.push({ kind: 'truncate', path: pathOf(fd), length })
        await nodeFiles.ftruncate(fd, length)
      },
      unlink: async (path) => {
        ops.push({ kind: 'unlink', path })
        await nodeFiles.unlink(path)
      },
      syncDir: async (dir) => {
        await nodeFiles.syncDir(dir)
        ops.push({ kind: 'syncDir' })
      },
      rename: async (from, to) => {
        await nodeFiles.rename(from, to)
        ops.push({ kind: 'rename', from, to })
        // Open descriptors follow the file to its new name.
        for (const [fd, path] of paths) if (path === from) paths.set(fd, to)
      },
    }
  }
}

interface FileModel {
  durable: Buffer
  pending: Array<Extract<Op, { kind: 'write' | 'truncate' }>>
}

function applyWrite(content: Buffer, position: number, data: Buffer): Buffer {
  const end = position + data.length
  const out = end > content.length ? Buffer.concat([content, Buffer.alloc(end - content.length)]) : content
  data.copy(out, position)
  return out
}

function applyAll(model: FileModel): Buffer {
  let content = model.durable
  for (const op of model.pending) {
    content = op.kind === 'write' ? applyWrite(content, op.position, op.data) : content.subarray(0, op.length)
  }
  return Buffer.from(content)
}

/** How the unsynced writes of a crash state were chosen. */
export type Survival = 'none' | 'all' | 'random-sectors'

/** A directory as a power cut after `ops[0..at)` could leave it. */
export interface CrashState {
  at: number
  survival: Survival
  files: Map<string, Buffer>
}

/**
 * Builds the state after a power cut that happens once `at` operations have completed.
 *
 * @param ops - the recorded operations
 * @param at - how many of them completed
 * @param survival - unsynced data: all lost, all kept, or each sector and each unsynced directory
 *   entry kept at random
 * @param rnd - the random source for `'random-sectors'`
 * @param initial - files that existed, durable, before the recorded run (path to content)
 */
export function crashState(
  ops: readonly Op[],
  at: number,
  survival: Survival,
  rnd: () => number,
  initial: ReadonlyMap<string, Buffer> = new Map(),
): CrashState {
  // Files that existed, durably, before the recorded run.
  const models = new Map<string, FileModel>(
    [...initial].map(([path, content]) => [path, { durable: Buffer.from(content), pending: [] }]),
  )
  const current = new Set<string>(initial.keys())
  let durableEntries = new Set<string>(initial.keys())
  // Renames since the last directory fsync: each happened or not, decided once.
  let pendingRenames: Array<{ from: string; to: string }> = []
  for (const op of ops.slice(0, at)) {
    switch (op.kind) {
      case 'create':
        current.add(op.path)
        models.set(op.path, { durable: Buffer.alloc(0), pending: [] })
        break
      case 'write':
      case 'truncate':
        models.get(op.path)?.pending.push(op)
        break
      case 'fdatasync': {
        const m = models.get(op.path)
        if (m) models.set(op.path, { durable: applyAll(m), pending: [] })
        break
      }
      case 'unlink':
        current.delete(op.path)
        break
      case 'rename': {
        const m = models.get(op.from)
        if (m) models.set(op.to, m)
        current.delete(op.from)
        current.add(op.to)
        pendingRenames.push({ from: op.from, to: op.to })
        break
      }
      case 'syncDir':
        durableEntries = new Set(current)
        pendingRenames = []
        break
    }
  }
  const keep = (): boolean => (survival === 'all' ? true : survival === 'none' ? false : rnd() < 0.5)
  const files = new Map<string, Buffer>()
  const renamed = new Map<string, boolean>() // path -> present, for both names of a pending rename
  for (const r of pendingRenames) {
    const done = keep()
    renamed.set(r.to, done)
    renamed.set(r.from, !done && (durableEntries.has(r.from) || keep()))
  }
  for (const path of new Set([...current, ...durableEntries, ...renamed.keys()])) {
    const model = models.get(path)
    if (!model) continue
    const durableEntry = durableEntries.has(path)
    const currentEntry = current.has(path)
    // An entry whose creation or removal was not followed by a directory fsync may go either way.
    const present = renamed.get(path) ?? (durableEntry === currentEntry ? currentEntry : keep())
    if (!present) continue
    let content: Buffer = Buffer.from(model.durable)
    for (const op of model.pending) {
      if (op.kind === 'truncate') {
        if (keep()) content = content.subarray(0, op.length)
        continue
      }
      // Each sector the write touches survives or not on its own: writes tear and reorder.
      for (let s = Math.floor(op.position / SECTOR) * SECTOR; s < op.position + op.data.length; s += SECTOR) {
        if (!keep()) continue
        const from = Math.max(s, op.position)
        const to = Math.min(s + SECTOR, op.position + op.data.length)
        content = applyWrite(content, from, op.data.subarray(from - op.position, to - op.position))
      }
    }
    files.set(path, content)
  }
  return { at, survival, files }
}

/** Writes a crash state's files into `dir` (by base name). */
export function materialize(state: CrashState, dir: string, root?: string): void {
  mkdirSync(dir, { recursive: true })
  for (const [path, content] of state.files) {
    // By base name, or (with `root`) by the path below `root`, sub-directories included.
    const target = root === undefined ? join(dir, basename(path)) : join(dir, relative(root, path))
    mkdirSync(dirname(target), { recursive: true })
    writeFileSync(target, content)
  }
}
