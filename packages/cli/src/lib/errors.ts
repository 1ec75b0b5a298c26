import { isSerializerError, isWalError, WaltzError } from '@waltz/core'

/** The exit codes of every `waltz` command (documented in the package README). */
export const EXIT = {
  /** Success; for `verify`, no problems found. */
  ok: 0,
  /** Problems found (`verify`, a corrupt frame met by `dump`/`tail`, undecodable records, a damaged or missing archived segment) or refused (`repair` without `--yes`). */
  problems: 1,
  /** A usage error: unknown command or option, bad option value, missing argument. */
  usage: 2,
  /**
   * The directory is missing, not a directory, or holds no WAL segment; the archive is missing or holds
   * no segment; the seqs asked of `archive fetch` are in no archived segment.
   */
  notWal: 3,
  /** A live writer holds the log's lock (`repair --yes`, `archive fetch` into a live log). */
  locked: 4,
  /** An I/O or unexpected error. */
  error: 5,
} as const

/** One of {@link EXIT}'s values. */
export type ExitCode = (typeof EXIT)[keyof typeof EXIT]

/**
 * The codes the CLI prints before its own errors' messages; an I/O failure carries Node's code
 * (`EACCES`, `ERR_INVALID_ARG_VALUE`, ...), or `IO` when it has none.
 */
export type CliErrorCode =
  | 'USAGE'
  | 'NOT_FOUND'
  | 'NOT_A_WAL'
  | 'NOT_AN_ARCHIVE'
  | 'NOT_IN_ARCHIVE'
  | 'LOCKED'
  | 'IO'
  | `E${string}`

/** An error the CLI reports as one line, with its own code and exit code; built by its factories. */
export class CliError extends WaltzError<CliErrorCode> {
  /** Always `'CliError'`. */
  override readonly name = 'CliError'
  /** The process exit code. */
  readonly exitCode: ExitCode

  /**
   * @param exitCode - the process exit code
   * @param code - a short stable code printed before the message, e.g. `NOT_A_WAL`
   * @param message - the explanation
   */
  constructor(exitCode: ExitCode, code: CliErrorCode, message: string) {
    super(code, message)
    this.exitCode = exitCode
  }

  /** `USAGE` (exit code 2): an unknown command or option, a bad option value, a missing argument. */
  static USAGE(message: string): CliError {
    return new CliError(EXIT.usage, 'USAGE', message)
  }

  /** `NOT_FOUND` (exit code 3): a directory (or a bucket) named on the command line does not exist. */
  static NOT_FOUND(message: string): CliError {
    return new CliError(EXIT.notWal, 'NOT_FOUND', message)
  }

  /** `NOT_A_WAL` (exit code 3): the directory is not a directory, or holds no WAL segment. */
  static NOT_A_WAL(message: string): CliError {
    return new CliError(EXIT.notWal, 'NOT_A_WAL', message)
  }

  /** `NOT_AN_ARCHIVE` (exit code 3): the archive location is not a directory, or holds no segment. */
  static NOT_AN_ARCHIVE(message: string): CliError {
    return new CliError(EXIT.notWal, 'NOT_AN_ARCHIVE', message)
  }

  /** `NOT_IN_ARCHIVE` (exit code 3): no archived segment holds any of the seqs asked for. */
  static NOT_IN_ARCHIVE(message: string): CliError {
    return new CliError(EXIT.notWal, 'NOT_IN_ARCHIVE', message)
  }

  /** `LOCKED` (exit code 4): a live writer holds the lock of a directory the command would write to. */
  static LOCKED(message: string): CliError {
    return new CliError(EXIT.locked, 'LOCKED', message)
  }

  /**
   * An I/O failure (exit code 5), coded with Node's code for it, or `IO` when it has none.
   *
   * @param message - the explanation
   * @param nodeCode - the failed call's `err.code`
   * @returns the error, to throw
   */
  static IO(message: string, nodeCode: `E${string}` | undefined): CliError {
    return new CliError(EXIT.error, nodeCode ?? 'IO', message)
  }
}

/**
 * A usage error (exit code 2) that points at the command's help.
 *
 * @param message - what is wrong
 * @param command - the command whose `--help` to suggest; the general help when absent
 * @returns the error, to throw
 */
export function usageError(message: string, command?: string): CliError {
  const hint = command === undefined ? 'waltz --help' : `waltz ${command} --help`
  return CliError.USAGE(`${message} (see \`${hint}\`)`)
}

/**
 * The Node error code (`ECONNREFUSED`, `ENOENT`, ...) of `err` or of one of its causes.
 *
 * @param err - anything thrown
 * @returns the code, or undefined when none is an errno-style one
 */
export function errnoCode(err: unknown): `E${string}` | undefined {
  let e: unknown = err
  for (let depth = 0; depth < 5 && e !== null && typeof e === 'object'; depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return code as `E${string}`
    e = (e as { cause?: unknown }).cause
  }
  return undefined
}

/**
 * Maps any error to an exit code and the single line printed to stderr.
 *
 * @param err - what a command threw
 * @returns the exit code and the line (without the program name)
 */
export function describeError(err: unknown): { exitCode: ExitCode; line: string } {
  if (err instanceof CliError) return { exitCode: err.exitCode, line: err.message }
  if (isWalError(err)) {
    let line = err.message
    if (err.file !== undefined && !line.includes(err.file)) line += ` [file ${err.file}]`
    if (err.offset !== undefined && !line.includes(`offset ${err.offset}`)) line += ` [offset ${err.offset}]`
    if (err.seq !== undefined && !line.includes(`${err.seq}`)) line += ` [seq ${err.seq}]`
    const errno = errnoCode(err.cause)
    if (errno !== undefined) line += ` (${errno})`
    switch (err.code) {
      case 'WAL_LOCKED':
        return { exitCode: EXIT.locked, line }
      case 'WAL_CORRUPT':
      case 'WAL_SERIALIZER_ERROR':
      case 'WAL_FORMAT_UNSUPPORTED':
        return { exitCode: EXIT.problems, line }
      case 'WAL_IO':
        if (errno === 'ENOENT' || errno === 'ENOTDIR') return { exitCode: EXIT.notWal, line }
        return { exitCode: EXIT.error, line }
      default:
        return { exitCode: EXIT.error, line }
    }
  }
  if (isSerializerError(err)) return { exitCode: EXIT.problems, line: err.message }
  const errno = errnoCode(err)
  const message = err instanceof Error ? err.message : String(err)
  return { exitCode: EXIT.error, line: `${errno ?? 'UNEXPECTED'}: ${message}` }
}
