import type { ParseArgsConfig } from 'node:util'
import { type ExitCode, usageError } from './errors.js'
import type { Io, Output } from './io.js'

/** Parsed option values. */
export type Values = Record<string, string | boolean | undefined>

/** What a command gets to run. */
export interface CommandContext {
  /** The WAL directory (the one positional argument). */
  dir: string
  values: Values
  io: Io
  /** Buffered stdout (EPIPE-safe). */
  out: Output
  /** stderr. */
  err: Output
  now: () => number
}

/** One `waltz` command. */
export interface Command {
  readonly name: string
  /** One line for `waltz --help`. */
  readonly summary: string
  /** The full `--help` text. */
  readonly help: string
  readonly options: NonNullable<ParseArgsConfig['options']>
  run(context: CommandContext): Promise<ExitCode>
}

/** A string option, or undefined. */
export function stringValue(values: Values, name: string): string | undefined {
  const value = values[name]
  return typeof value === 'string' ? value : undefined
}

/**
 * A seq-valued option (`--from`, `--to`): a positive integer.
 *
 * @throws CliError usage (exit 2) otherwise
 */
export function seqValue(values: Values, name: string, command: string): number | undefined {
  const text = stringValue(values, name)
  if (text === undefined) return undefined
  const n = Number(text)
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1) {
    throw usageError(`--${name} must be a positive integer, got '${text}'`, command)
  }
  return n
}

/**
 * An option restricted to a list of choices.
 *
 * @throws CliError usage (exit 2) for another value
 */
export function choiceValue<const C extends readonly string[]>(
  values: Values,
  name: string,
  choices: C,
  fallback: C[number],
  command: string,
): C[number] {
  const text = stringValue(values, name)
  if (text === undefined) return fallback
  if (!choices.includes(text)) {
    throw usageError(`--${name} must be one of ${choices.join(', ')}, got '${text}'`, command)
  }
  return text
}
