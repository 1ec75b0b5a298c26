import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { dump } from './commands/dump.js'
import { inspect } from './commands/inspect.js'
import { repair } from './commands/repair.js'
import { tail } from './commands/tail.js'
import { verify } from './commands/verify.js'
import type { Command, Values } from './lib/command.js'
import { describeError, EXIT, type ExitCode, usageError } from './lib/errors.js'
import { type Io, Output } from './lib/io.js'

const COMMANDS: readonly Command[] = [inspect, verify, dump, tail, repair]

const HELP = `Usage: waltz <command> <dir> [options]

Look inside a waltz write-ahead log without writing code. Every command is read-only and takes no
lock (safe on a live log), except \`repair --yes\`.

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(9)}${c.summary}`).join('\n')}

Run \`waltz <command> --help\` for a command's options.

Exit codes:
  0  ok (verify: no problems)
  1  problems found (verify, a corrupt frame met by dump/tail, undecodable records) or refused
     (repair without --yes)
  2  usage error
  3  the directory is missing, not a directory, or holds no WAL segment
  4  a live writer holds the lock (repair --yes)
  5  I/O or unexpected error`

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string
  }
  return pkg.version
}

async function dispatch(argv: readonly string[], io: Io, out: Output, err: Output): Promise<ExitCode> {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const topic = name === 'help' ? COMMANDS.find((c) => c.name === rest[0]) : undefined
    if (name === 'help' && rest[0] !== undefined && topic === undefined)
      throw usageError(`unknown command '${rest[0]}'`)
    out.line(topic?.help ?? HELP)
    return name === undefined ? EXIT.usage : EXIT.ok
  }
  if (name === '--version' || name === '-v') {
    out.line(version())
    return EXIT.ok
  }
  const command = COMMANDS.find((c) => c.name === name)
  if (command === undefined) throw usageError(`unknown command '${name}'`)
  if (rest.includes('--help') || rest.includes('-h')) {
    out.line(command.help)
    return EXIT.ok
  }
  let values: Values
  let positionals: string[]
  try {
    ;({ values, positionals } = parseArgs({
      args: [...rest],
      options: command.options,
      allowPositionals: true,
      strict: true,
    }) as { values: Values; positionals: string[] })
  } catch (e) {
    throw usageError(parseArgsProblem(e as Error), command.name)
  }
  if (positionals.length === 0) throw usageError('missing <dir>: the WAL directory', command.name)
  if (positionals.length > 1)
    throw usageError(`one <dir> expected, got ${positionals.length} arguments`, command.name)
  return command.run({ dir: positionals[0]!, values, io, out, err, now: io.now ?? Date.now })
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
    const prefix = COMMANDS.some((c) => c.name === argv[0]) ? `waltz ${argv[0]}` : 'waltz'
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
