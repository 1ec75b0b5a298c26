import type { ParseArgsConfig } from 'node:util'
import { type ExitCode, usageError } from './errors.js'
import type { Io, Output } from './io.js'

/** Parsed option values. */
export type Values = Record<string, string | boolean | undefined>

/** The positional argument a command takes, as its usage errors name it. */
export interface Operand {
  /** E.g. `dir`, printed as `<dir>`. */
  readonly name: string
  /** What it is, e.g. `the WAL directory`. */
  readonly description: string
}

/** `<dir>`, the operand of every command that reads a log directory. */
export const DIR_OPERAND: Operand = { name: 'dir', description: 'the WAL directory' }

/** What a command gets to run. */
export interface CommandContext {
  /** The positional argument (see {@link Command.operand}); empty for a command that takes none. */
  operand: string
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
  /** As typed after `waltz`: `dump`, or for a command of a {@link CommandGroup} `archive ls`. */
  readonly name: string
  /** One line for `waltz --help`. */
  readonly summary: string
  /** The full `--help` text. */
  readonly help: string
  readonly options: NonNullable<ParseArgsConfig['options']>
  /** The one positional argument it requires, or null when it takes none. */
  readonly operand: Operand | null
  run(context: CommandContext): Promise<ExitCode>
}

/** Commands under one name, e.g. `waltz archive ls|verify|fetch`. */
export interface CommandGroup {
  readonly name: string
  /** One line for `waltz --help`. */
  readonly summary: string
  /** The `--help` text of the group (each command has its own). */
  readonly help: string
  /** Its commands, each named `<group> <command>`. */
  readonly commands: readonly Command[]
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
