import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { archive } from './commands/archive/index.js'
import { dump } from './commands/dump.js'
import { inspect } from './commands/inspect.js'
import { repair } from './commands/repair.js'
import { tail } from './commands/tail.js'
import { ui } from './commands/ui.js'
import { verify } from './commands/verify.js'
import type { Command, CommandGroup, Values } from './lib/command.js'
import { describeError, EXIT, type ExitCode, usageError } from './lib/errors.js'
import { type Io, Output } from './lib/io.js'

const ENTRIES: readonly (Command | CommandGroup)[] = [inspect, verify, dump, tail, repair, archive, ui]

const isGroup = (entry: Command | CommandGroup): entry is CommandGroup => 'commands' in entry

const HELP = `Usage: waltz <command> <dir> [options]
       waltz archive ls|verify|fetch --archive <location> [options]
       waltz ui <dir> [--port N] [--serializer NAME] [--host ADDR --allow-remote]

Look inside a waltz write-ahead log, or the archive its sealed segments are copied to, without writing
code. Every command is read-only and takes no lock (safe on a live log), except \`repair --yes\` and
\`archive fetch\` (which writes into its --out directory). \`ui\` serves a read-only web inspector
of an event store until interrupted.

Commands:
${ENTRIES.map((c) => `  ${c.name.padEnd(9)}${c.summary}`).join('\n')}

Run \`waltz <command> --help\` for a command's options.

Exit codes:
  0  ok (verify: no problems; tail -f and ui: stopped by SIGINT/SIGTERM)
  1  problems found (verify, a corrupt frame met by dump/tail, undecodable records, a damaged or
     missing archived segment) or refused (repair without --yes)
  2  usage error
  3  the directory is missing, not a directory, or holds no WAL segment; the archive is missing or
     holds no segment; the seqs asked of archive fetch are in no archived segment
  4  a live writer holds the lock (repair --yes, archive fetch into a live log)
  5  I/O or unexpected error (the archive unreachable, refused or failing included)`

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string
  }
  return pkg.version
}

/**
 * What `words` name: a command, or a group and (when the next word is one of its commands) that
 * command; `rest` is what follows.
 */
function lookup(words: readonly string[]): {
  entry: Command | CommandGroup | undefined
  command: Command | undefined
  rest: readonly string[]
} {
  const [name, ...rest] = words
  const entry = ENTRIES.find((e) => e.name === name)
  if (entry === undefined || !isGroup(entry)) return { entry, command: entry, rest }
  const command = entry.commands.find((c) => c.name === `${entry.name} ${rest[0]}`)
  return { entry, command, rest: command === undefined ? rest : rest.slice(1) }
}

async function dispatch(argv: readonly string[], io: Io, out: Output, err: Output): Promise<ExitCode> {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    if (name === 'help' && rest.length > 0) {
      const topic = lookup(rest)
      if (topic.entry === undefined || (topic.command === undefined && topic.rest.length > 0))
        throw usageError(`unknown command '${rest.join(' ')}'`)
      out.line((topic.command ?? topic.entry).help)
      return EXIT.ok
    }
    out.line(HELP)
    return name === undefined ? EXIT.usage : EXIT.ok
  }
  if (name === '--version' || name === '-v') {
    out.line(version())
    return EXIT.ok
  }
  const { entry, command, rest: args } = lookup(argv)
  if (entry === undefined) throw usageError(`unknown command '${name}'`)
  if (command === undefined) {
    // A group without one of its commands: its help, as for a bare `waltz`.
    const word = args[0]
    if (word === undefined || word === '--help' || word === '-h') {
      out.line(entry.help)
      return word === undefined ? EXIT.usage : EXIT.ok
    }
    throw usageError(`unknown ${entry.name} command '${word}'`, entry.name)
  }
  if (args.includes('--help') || args.includes('-h')) {
    out.line(command.help)
    return EXIT.ok
  }
  let values: Values
  let positionals: string[]
  try {
    ;({ values, positionals } = parseArgs({
      args: [...args],
      options: command.options,
      allowPositionals: true,
      strict: true,
    }) as { values: Values; positionals: string[] })
  } catch (e) {
    throw usageError(parseArgsProblem(e as Error), command.name)
  }
  const operand = command.operand
  if (operand === null) {
    if (positionals.length > 0) throw usageError(`unexpected argument '${positionals[0]}'`, command.name)
  } else {
    if (positionals.length === 0)
      throw usageError(`missing <${operand.name}>: ${operand.description}`, command.name)
    if (positionals.length > 1)
      throw usageError(`one <${operand.name}> expected, got ${positionals.length} arguments`, command.name)
  }
  const context = { operand: positionals[0] ?? '', values, io, out, err, now: io.now ?? Date.now }
  return command.run(context)
}

/**
 * `parseArgs`'s complaint as one line that names the option: some of its messages run over several
 * lines of advice (an option value starting with a dash), and usage errors are one line on stderr.
 */
function parseArgsProblem(e: Error): string {
  const first = e.message
    .split('\n')[0]!
    .trim()
    .replace(/\. To specify a positional.*$/s, '')
  const spelled = /use '(--[\w-]+)=-XYZ'/.exec(e.message)
  if (/is ambiguous/.test(first) && spelled) {
    return `${first.replace(/\.$/, '')}: write a value that starts with '-' as ${spelled[1]}=<value>`
  }
  return first
}

/**
 * Runs the `waltz` command line in-process.
 *
 * @param argv - the arguments after the program name, e.g. `['inspect', './wal']`
 * @param io - where output goes (and the signal that stops `tail -f`)
 * @returns the exit code (see `EXIT`)
 */
export async function run(argv: readonly string[], io: Io): Promise<ExitCode> {
  const out = new Output(io.stdout)
  const err = new Output(io.stderr)
  let code: ExitCode
  try {
    code = await dispatch(argv, io, out, err)
  } catch (e) {
    const { exitCode, line } = describeError(e)
    await out.flush()
    const { command, entry } = lookup(argv)
    const prefix = `waltz${entry === undefined ? '' : ` ${(command ?? entry).name}`}`
    err.line(`${prefix}: ${line}`)
    code = exitCode
  }
  await out.flush()
  await err.flush()
  if (out.failure !== undefined) {
    io.stderr.write(`waltz: cannot write output: ${out.failure.message}\n`)
    return EXIT.error
  }
  return code
}
