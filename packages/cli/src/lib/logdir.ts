import { readdir, stat } from 'node:fs/promises'
import { type Keyring, Wal, type WalReader } from '@waltz/core'
import { type InspectOptions, type LogReport, scanLog } from '@waltz/core/inspect'
import { CliError } from './errors.js'

/**
 * Checks that `dir` exists and is a directory. Whether it holds a log is core's to say: see
 * {@link openLog} and {@link scanWal}.
 *
 * @throws CliError exit code 3 (`NOT_FOUND`, `NOT_A_WAL`) or 5
 */
async function requireDirectory(dir: string): Promise<void> {
  try {
    if ((await stat(dir)).isDirectory()) return
  } catch (err) {
    // Node's error codes all start with E (errno names, ERR_*).
    const code = (err as NodeJS.ErrnoException).code as `E${string}` | undefined
    if (code === 'ENOENT') throw CliError.NOT_FOUND(`${dir} does not exist`)
    if (code !== 'ENOTDIR') {
      throw CliError.IO(`cannot read ${dir}: ${(err as Error).message}`, code)
    }
  }
  throw CliError.NOT_A_WAL(`${dir} is not a directory`)
}

/** The error for a directory in which core found no segment. */
async function notAWal(dir: string): Promise<CliError> {
  const entries = (await readdir(dir)).length
  const what = entries === 0 ? 'is empty' : `holds no segment files (${entries} other entries)`
  return CliError.NOT_A_WAL(`${dir} ${what}: not a waltz log directory`)
}

/**
 * Opens the log in `dir` for reading, without a serializer (so a log of any serializer opens, and
 * `data` is the stored bytes): no lock, nothing changed on disk.
 *
 * @param dir - the directory given on the command line
 * @param keyring - an encrypted log's master key (`--master-key-file`, `--master-key-env`): its
 *   sealed data can then be opened (`records`, `tail`)
 * @returns the reader; the caller closes it
 * @throws CliError exit code 3 (`NOT_FOUND`, `NOT_A_WAL`); WalError from `Wal.openReader`
 *   (`WAL_KEYRING`: the master key does not open the log's key store)
 */
export async function openLog(dir: string, keyring?: Keyring): Promise<WalReader> {
  await requireDirectory(dir)
  const reader = await Wal.openReader(keyring === undefined ? { dir } : { dir, encryption: { keyring } })
  if (reader.recovery.segments > 0) return reader
  await reader.close()
  throw await notAWal(dir)
}

/**
 * Scans every segment of the log in `dir` (`@waltz/core/inspect`'s `scanLog`).
 *
 * @param dir - the directory given on the command line
 * @param options - progress reporting
 * @returns the scan, with at least one segment
 * @throws CliError exit code 3 (`NOT_FOUND`, `NOT_A_WAL`); WalError `WAL_IO`
 */
export async function scanWal(dir: string, options: InspectOptions = {}): Promise<LogReport> {
  await requireDirectory(dir)
  const report = await scanLog(dir, options)
  if (report.segments.length === 0) throw await notAWal(dir)
  return report
}
