/** Log levels, least to most severe. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

/**
 * Where the WAL reports what it does: recovery results, rotations, failures. Silent by default; pass
 * {@link consoleLogger} or adapt your own (pino, winston) to these four methods.
 */
export interface WalLogger {
  /**
   * Routine details, such as a segment rotation.
   *
   * @param message - what happened
   * @param fields - structured details (file, seq), when there are any
   */
  debug(message: string, fields?: Record<string, unknown>): void
  /**
   * Milestones: what recovery found on open, segments deleted by retention.
   *
   * @param message - what happened
   * @param fields - structured details (the recovery report, counts), when there are any
   */
  info(message: string, fields?: Record<string, unknown>): void
  /**
   * Recovery dropped bytes: it cut a torn tail off the newest segment, or removed a newest segment
   * whose creation a crash cut short.
   *
   * @param message - what happened
   * @param fields - structured details (file, offset, bytes), when there are any
   */
  warn(message: string, fields?: Record<string, unknown>): void
  /**
   * The WAL failed (an I/O error): pending and later appends reject until it is reopened.
   *
   * @param message - what happened
   * @param fields - structured details (the error), when there are any
   */
  error(message: string, fields?: Record<string, unknown>): void
}

const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 }
const noop = (): void => {}

/** A logger that drops everything (the default). */
export const silentLogger: WalLogger = { debug: noop, info: noop, warn: noop, error: noop }

/**
 * A logger writing to the console (stderr for warn and error) from `level` up.
 *
 * @param level - the least severe level printed (default `'info'`)
 * @returns the logger
 * @example
 * ```ts
 * const wal = await Wal.open({ dir, logger: consoleLogger('debug') })
 * ```
 */
export function consoleLogger(level: LogLevel = 'info'): WalLogger {
  const min = ORDER[level]
  const at =
    (l: LogLevel, print: (...args: unknown[]) => void) =>
    (message: string, fields?: Record<string, unknown>): void => {
      if (ORDER[l] >= min) print(`[waltz] ${l}: ${message}`, ...(fields ? [fields] : []))
    }
  return {
    debug: at('debug', console.debug),
    info: at('info', console.info),
    warn: at('warn', console.warn),
    error: at('error', console.error),
  }
}
