/**
 * The single-writer lock: a `LOCK` file in the WAL directory holding the owner's pid, host and process
 * start time. Created with O_EXCL; a lock whose owner is gone (no such pid, or the pid now belongs to a
 * process started at another time) is taken over.
 *
 * @internal
 */
import { randomBytes } from 'node:crypto'
import * as fs from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { WalError } from './errors.js'

/** The lock file's name inside the WAL directory. */
export const LOCK_FILE = 'LOCK'

/** Who holds a lock, as written in the lock file. */
export interface LockOwner {
  /** The owner's process id. */
  pid: number
  /** The owner's host name (`os.hostname()`); a lock held on another host is always taken as alive. */
  host: string
  /** The owner's start time from /proc (clock ticks since boot), or null where /proc is unavailable. */
  start: string | null
}

/** Directories locked by this process: a second open in the same process fails without touching disk. */
const heldHere = new Set<string>()

function processStart(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    // Field 22 (starttime); the command name (field 2) may contain spaces, so split after its ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return fields[19] ?? null
  } catch {
    return null
  }
}

function isAlive(owner: LockOwner): boolean {
  if (owner.host !== hostname()) return true // cannot tell for another machine: assume held
  try {
    process.kill(owner.pid, 0)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false
  }
  // The pid exists (or we may not signal it). If it was recycled, its start time differs.
  const start = processStart(owner.pid)
  return owner.start === null || start === null || start === owner.start
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const v = JSON.parse(text) as Partial<LockOwner>
    if (typeof v.pid === 'number' && typeof v.host === 'string') {
      return { pid: v.pid, host: v.host, start: typeof v.start === 'string' ? v.start : null }
    }
  } catch {}
  return undefined
}

/**
 * Reads the current lock holder, if any.
 *
 * @param dir - the WAL directory
 * @returns the owner and whether that process is still alive, or undefined when there is no lock file
 */
export function readLock(dir: string):
  | {
      /** The owner written in the lock file, or undefined when the file cannot be parsed. */
      owner: LockOwner | undefined
      /** Whether that owner is still running (a lock held on another host counts as alive). */
      alive: boolean
    }
  | undefined {
  let text: string
  try {
    text = fs.readFileSync(join(dir, LOCK_FILE), 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
  const owner = parseOwner(text)
  return { owner, alive: owner !== undefined && isAlive(owner) }
}

/**
 * Creates the lock file with its content in one atomic step: the owner is written to a temp file,
 * which is then hard-linked to `LOCK` (link fails if `LOCK` exists). A racing process therefore never
 * sees an empty lock file that it could mistake for a stale one.
 */
function tryCreate(path: string, content: string, mode: number): boolean {
  const temp = `${path}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`
  const fd = fs.openSync(temp, 'wx', mode)
  try {
    fs.writeSync(fd, content)
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
  try {
    fs.linkSync(temp, path)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw err
  } finally {
    fs.rmSync(temp, { force: true })
  }
}

/** A held lock. */
export interface Lock {
  /** Removes the lock file. Idempotent. */
  release(): void
}

/**
 * Takes the directory's writer lock.
 *
 * @param dir - the WAL directory (must exist)
 * @param mode - permission bits of the lock file
 * @returns the held lock
 * @throws WalError `WAL_LOCKED` when a live process (this one included) holds it; `WAL_IO` on fs errors
 */
export function acquireLock(dir: string, mode: number): Lock {
  const path = join(dir, LOCK_FILE)
  const key = fs.realpathSync(dir)
  if (heldHere.has(key)) throw WalError.LOCKED(`${dir} is already open for writing in this process`)
  const me: LockOwner = { pid: process.pid, host: hostname(), start: processStart(process.pid) }
  const content = JSON.stringify(me)
  try {
    // Two attempts: the second follows the removal of a stale lock.
    for (let attempt = 0; attempt < 2; attempt++) {
      if (tryCreate(path, content, mode)) {
        heldHere.add(key)
        let released = false
        return {
          release() {
            if (released) return
            released = true
            heldHere.delete(key)
            // Remove the lock only while it is still ours.
            try {
              if (fs.readFileSync(path, 'utf8') === content) fs.rmSync(path, { force: true })
            } catch {}
          },
        }
      }
      const current = readLock(dir)
      if (current?.alive) {
        const o = current.owner!
        throw WalError.LOCKED(`${dir} is locked by pid ${o.pid} on ${o.host}`, { file: path })
      }
      // Stale: move it aside under a unique name, then create ours. If another process took it over
      // between our read and the rename, the moved file is a live lock: put it back and report locked.
      const aside = `${path}.stale-${process.pid}-${Date.now()}`
      try {
        fs.renameSync(path, aside)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue
        throw err
      }
      const moved = parseOwner(fs.readFileSync(aside, 'utf8'))
      if (moved !== undefined && isAlive(moved)) {
        // Put the live lock back, unless a third process has created one meanwhile (link, unlike
        // rename, never replaces an existing file).
        try {
          fs.linkSync(aside, path)
        } catch {}
        fs.rmSync(aside, { force: true })
        throw WalError.LOCKED(`${dir} is locked by pid ${moved.pid} on ${moved.host}`, {
          file: path,
        })
      }
      fs.rmSync(aside, { force: true })
    }
  } catch (err) {
    if (err instanceof WalError) throw err
    throw WalError.IO(`cannot take the lock in ${dir}`, { cause: err, file: path })
  }
  throw WalError.LOCKED(`${dir}: could not take over a stale lock (contended)`, { file: path })
}
