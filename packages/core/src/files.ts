/**
 * The small file interface core uses. Everything that touches the disk goes through it, so tests can
 * substitute a recording or failing implementation (power-loss and I/O-fault suites).
 *
 * @internal
 */
import * as fs from 'node:fs'

/** An open file descriptor. */
export type Fd = number

/** The file operations core needs. All paths are absolute or relative to the process cwd. */
export interface Files {
  /** Opens a file; `flags` as in `fs.open` (`'r'`, `'r+'`, `'wx'`); `mode` applies when it is created. */
  open(path: string, flags: string, mode?: number): Promise<Fd>
  close(fd: Fd): Promise<void>
  /** Writes all of `buf[offset, offset + length)` at `position` (loops on short writes). */
  write(fd: Fd, buf: Uint8Array, offset: number, length: number, position: number): Promise<void>
  /**
   * The same, blocking. The writer uses it for batches: a write into the page cache takes
   * microseconds, less than the thread-pool round trip of the async call.
   */
  writeSync(fd: Fd, buf: Uint8Array, offset: number, length: number, position: number): void
  /** Reads up to `length` bytes at `position`; resolves to the count read (0 at end of file). */
  read(fd: Fd, buf: Uint8Array, offset: number, length: number, position: number): Promise<number>
  /**
   * Optional: a synchronous `read`, for point reads of a few KiB (mostly from the page cache). Without
   * it, point reads use `read`.
   */
  readSync?(fd: Fd, buf: Uint8Array, offset: number, length: number, position: number): number
  fdatasync(fd: Fd): Promise<void>
  /** The same, blocking the calling thread (the writer's `blockingSync` mode). */
  fdatasyncSync(fd: Fd): void
  ftruncate(fd: Fd, length: number): Promise<void>
  /** Size of the open file in bytes. */
  size(fd: Fd): Promise<number>
  /** Names in a directory. */
  readdir(dir: string): Promise<string[]>
  /** Creates the directory (and parents) if missing; resolves to the first directory created, if any. */
  mkdir(dir: string): Promise<string | undefined>
  /** fsyncs a directory so entries created, renamed or removed in it are durable. */
  syncDir(dir: string): Promise<void>
  rename(from: string, to: string): Promise<void>
  unlink(path: string): Promise<void>
  /** Whole contents of a small file. */
  readFile(path: string): Promise<Buffer>
}

function done(resolve: () => void, reject: (err: Error) => void) {
  return (err: NodeJS.ErrnoException | null) => (err ? reject(err) : resolve())
}

function writeAll(
  fd: Fd,
  buf: Uint8Array,
  offset: number,
  length: number,
  position: number,
  resolve: () => void,
  reject: (err: Error) => void,
): void {
  fs.write(fd, buf, offset, length, position, (err, written) => {
    if (err) reject(err)
    else if (written === length) resolve()
    else writeAll(fd, buf, offset + written, length - written, position + written, resolve, reject)
  })
}

/** The real implementation on `node:fs` (callback API: cheaper than `fs/promises` file handles). */
export const nodeFiles: Files = {
  open: (path, flags, mode = 0o600) =>
    new Promise((resolve, reject) =>
      fs.open(path, flags, mode, (err, fd) => (err ? reject(err) : resolve(fd))),
    ),
  close: (fd) => new Promise((resolve, reject) => fs.close(fd, done(resolve, reject))),
  write: (fd, buf, offset, length, position) =>
    new Promise((resolve, reject) => writeAll(fd, buf, offset, length, position, resolve, reject)),
  writeSync: (fd, buf, offset, length, position) => {
    let done = 0
    while (done < length) done += fs.writeSync(fd, buf, offset + done, length - done, position + done)
  },
  readSync: (fd, buf, offset, length, position) => fs.readSync(fd, buf, offset, length, position),
  read: (fd, buf, offset, length, position) =>
    new Promise((resolve, reject) =>
      fs.read(fd, buf, offset, length, position, (err, n) => (err ? reject(err) : resolve(n))),
    ),
  fdatasync: (fd) => new Promise((resolve, reject) => fs.fdatasync(fd, done(resolve, reject))),
  fdatasyncSync: (fd) => fs.fdatasyncSync(fd),
  ftruncate: (fd, length) =>
    new Promise((resolve, reject) => fs.ftruncate(fd, length, done(resolve, reject))),
  size: (fd) =>
    new Promise((resolve, reject) => fs.fstat(fd, (err, st) => (err ? reject(err) : resolve(st.size)))),
  readdir: (dir) => fs.promises.readdir(dir),
  mkdir: (dir) => fs.promises.mkdir(dir, { recursive: true }),
  syncDir: async (dir) => {
    const fd = await nodeFiles.open(dir, 'r')
    try {
      await new Promise<void>((resolve, reject) => fs.fsync(fd, done(resolve, reject)))
    } finally {
      await nodeFiles.close(fd)
    }
  },
  rename: (from, to) => fs.promises.rename(from, to),
  unlink: (path) => fs.promises.unlink(path),
  readFile: (path) => fs.promises.readFile(path),
}
