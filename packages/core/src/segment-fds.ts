/**
 * Keeps segment files open for point reads (`recordsAt`), so a read of a few records costs their
 * reads, not an open and a close per segment per call. At most `capacity` files stay open; the least
 * recently used one not in use is closed first. A segment that leaves the log (retention, a reader's
 * refresh) has its file closed once no read uses it; the log state says when.
 *
 * @internal
 */
import type { Fd, Files } from './files.js'
import type { LogState } from './log-state.js'
import { openSegment } from './reader.js'
import type { SegmentRef } from './scanner.js'

/** Segment files kept open by default. */
export const SEGMENT_FDS = 64

interface Entry {
  readonly ref: SegmentRef
  readonly fd: Promise<Fd>
  /** The descriptor once the open has succeeded (what {@link SegmentFds.acquireSync} hands out). */
  opened: Fd | undefined
  users: number
  /** The segment left the log: close once unused, never hand out again. */
  gone: boolean
}

/** See the module comment. */
export class SegmentFds {
  private readonly files: Files
  private readonly capacity: number
  /** By first seq, least recently used first. */
  private readonly entries = new Map<number, Entry>()
  private closed = false

  /**
   * @param files - the file interface
   * @param state - the log state (tells which segments leave)
   * @param capacity - most files kept open when unused
   */
  constructor(files: Files, state: LogState, capacity = SEGMENT_FDS) {
    this.files = files
    this.capacity = capacity
    state.onRemove((ref) => {
      const e = this.entries.get(ref.firstSeq)
      if (e !== undefined) this.forget(e)
    })
  }

  /**
   * An open descriptor of `ref`'s file, and the function that gives it back (call it once).
   *
   * @throws WalError `WAL_TRUNCATED` (the file is gone), `WAL_IO`
   */
  async acquire(ref: SegmentRef): Promise<{ fd: Fd; release: () => void }> {
    let e = this.entries.get(ref.firstSeq)
    if (e !== undefined && e.ref.path === ref.path) {
      this.entries.delete(ref.firstSeq)
      this.entries.set(ref.firstSeq, e) // most recently used last
    } else {
      if (e !== undefined) this.forget(e)
      const entry: Entry = {
        ref,
        fd: openSegment(this.files, ref),
        opened: undefined,
        users: 0,
        gone: this.closed,
      }
      entry.fd.then(
        (fd) => {
          entry.opened = fd
        },
        () => {},
      )
      e = entry
      if (!this.closed) this.entries.set(ref.firstSeq, e)
    }
    const entry = e
    entry.users++
    let fd: Fd
    try {
      fd = await entry.fd
    } catch (err) {
      entry.users--
      this.forget(entry)
      throw err
    }
    return { fd, release: this.releaser(entry) }
  }

  /**
   * {@link acquire} without waiting: the segment's file when it is already open (the common case of
   * repeated point reads), else undefined (then use {@link acquire}).
   *
   * @param ref - the segment
   * @returns its descriptor and the function that gives it back, or undefined
   */
  acquireSync(ref: SegmentRef): { fd: Fd; release: () => void } | undefined {
    const e = this.entries.get(ref.firstSeq)
    if (e === undefined || e.opened === undefined || e.gone || e.ref.path !== ref.path) return undefined
    this.entries.delete(ref.firstSeq)
    this.entries.set(ref.firstSeq, e) // most recently used last
    e.users++
    return { fd: e.opened, release: this.releaser(e) }
  }

  /** Closes every file not in use; files in use close when given back. */
  closeAll(): void {
    this.closed = true
    for (const e of [...this.entries.values()]) this.forget(e)
  }

  /** Gives an entry back once (later calls do nothing); an entry forgotten meanwhile closes when unused. */
  private releaser(entry: Entry): () => void {
    let released = false
    return () => {
      if (released) return
      released = true
      entry.users--
      if (entry.gone) {
        if (entry.users === 0) this.close(entry)
      } else this.evict()
    }
  }

  /** Takes an entry out of the cache; its file closes once unused. */
  private forget(e: Entry): void {
    if (this.entries.get(e.ref.firstSeq) === e) this.entries.delete(e.ref.firstSeq)
    if (e.gone) return
    e.gone = true
    if (e.users === 0) this.close(e)
  }

  private evict(): void {
    if (this.entries.size <= this.capacity) return
    for (const e of [...this.entries.values()]) {
      if (this.entries.size <= this.capacity) return
      if (e.users === 0) this.forget(e)
    }
  }

  private close(e: Entry): void {
    // Nothing waits for a read-only descriptor to be released; a failed close changes nothing.
    void e.fd.then((fd) => this.files.close(fd)).catch(() => {})
  }
}
