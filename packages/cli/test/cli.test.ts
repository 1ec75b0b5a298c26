import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { tempDir } from '../../../test-support/temp-dir.js'
import { EXIT, run } from '../src/index.js'
import { bytesRecord, waltz, waltzProcess, writeLog } from './helpers.js'

const COMMANDS = ['inspect', 'verify', 'dump', 'tail', 'repair', 'ui']

describe('usage', () => {
  it.each(COMMANDS)('%s --help prints its synopsis and exit codes, exit 0', async (command) => {
    const r = await waltz(command, '--help')
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(new RegExp(`^Usage: waltz ${command} <dir>`))
    expect(r.stdout).toContain('Exit codes:')
    expect(r.stderr).toBe('')
    expect((await waltz('help', command)).stdout).toBe(r.stdout)
  })

  it('waltz --help lists every command and the exit codes; no arguments is a usage error', async () => {
    const r = await waltz('--help')
    expect(r.code).toBe(0)
    for (const command of COMMANDS) expect(r.stdout).toMatch(new RegExp(`^  ${command} `, 'm'))
    expect(r.stdout).toMatch(/^ {2}4 {2}a live writer holds the lock/m)
    const bare = await waltz()
    expect(bare.code).toBe(2)
    expect(bare.stdout).toBe(r.stdout)
  })

  it('unknown commands and options, bad values and missing <dir> exit 2 with one line on stderr', async () => {
    const dir = tempDir()
    const cases: [string[], RegExp][] = [
      [['frob', dir], /^waltz: USAGE: unknown command 'frob'/],
      [['dump', dir, '--bogus'], /^waltz dump: USAGE: Unknown option '--bogus'/],
      [['dump', dir, '--from', 'x'], /^waltz dump: USAGE: --from must be a positive integer, got 'x'/],
      [['dump', dir, '--from', '5', '--to', '2'], /^waltz dump: USAGE: --to is below --from/],
      [['dump', dir, '--format', 'xml'], /^waltz dump: USAGE: --format must be one of ndjson, table, hex/],
      [['tail', dir, '--serializer', 'avro'], /^waltz tail: USAGE: --serializer must be one of auto, bytes/],
      [['inspect'], /^waltz inspect: USAGE: missing <dir>/],
      [['verify', dir, dir], /^waltz verify: USAGE: one <dir> expected, got 2/],
      // parseArgs explains these over several lines: still one line, naming the option.
      [['tail', dir, '-n', '-3'], /^waltz tail: USAGE: Option '-n' argument is ambiguous: .*--lines=<value>/],
      [['dump', dir, '--from'], /^waltz dump: USAGE: Option '--from <value>' argument missing/],
    ]
    for (const [args, message] of cases) {
      const r = await waltz(...args)
      expect(r.code, args.join(' ')).toBe(2)
      expect(r.stderr).toMatch(message)
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1)
    }
  })

  it('--version prints the package version', async () => {
    expect(await waltz('--version')).toMatchObject({ code: 0, stdout: '0.1.0\n' })
  })
})

describe('not a WAL directory', () => {
  it.each(COMMANDS)(
    '%s: a missing, an empty, a non-WAL dir and a file exit 3 with a clear message',
    async (command) => {
      const base = tempDir()
      const empty = join(base, 'empty')
      const other = join(base, 'other')
      mkdirSync(empty)
      mkdirSync(other)
      writeFileSync(join(other, 'notes.txt'), 'hello')
      writeFileSync(join(other, '1.wal'), 'not a segment name')
      const cases: [string, RegExp][] = [
        [join(base, 'missing'), /NOT_FOUND: .*missing does not exist/],
        [empty, /NOT_A_WAL: .*empty is empty: not a waltz log directory/],
        [other, /NOT_A_WAL: .*other holds no segment files \(2 other entries\): not a waltz log directory/],
        [join(other, 'notes.txt'), /NOT_A_WAL: .*notes\.txt is not a directory/],
      ]
      for (const [dir, message] of cases) {
        const r = await waltz(command, dir)
        expect(r.code, dir).toBe(3)
        expect(r.stderr).toMatch(new RegExp(`^waltz ${command}: ${message.source}\\n$`))
        expect(r.stdout).toBe('')
      }
    },
  )
})

describe('run() in-process', () => {
  function streams(tty: boolean) {
    const stdout = Object.assign(new PassThrough(), { isTTY: tty, columns: 100 })
    const stderr = Object.assign(new PassThrough(), { isTTY: tty, columns: 100 })
    let out = ''
    let err = ''
    stdout.on('data', (c: Buffer) => (out += c.toString()))
    stderr.on('data', (c: Buffer) => (err += c.toString()))
    return { io: { stdout, stderr }, out: () => out, err: () => err }
  }

  it('returns the exit code and writes to the given streams; verify draws a progress bar on a terminal', async () => {
    const dir = tempDir()
    await writeLog(dir, 60, bytesRecord, { segmentSize: 1024 })
    const tty = streams(true)
    expect(await run(['verify', dir], tty.io)).toBe(EXIT.ok)
    expect(tty.out()).toMatch(/^OK: \d+ segment\(s\), 60 records \(seq 1\.\.60\)/m)
    const ESC = String.fromCharCode(27)
    expect(tty.err()).toMatch(new RegExp(`\rverify \\[#+\\] 100% .* \\d+/\\d+ segments${ESC}\\[K`))
    expect(tty.err().endsWith('\r\x1b[K')).toBe(true) // the bar is erased at the end

    const piped = streams(false)
    expect(await run(['verify', dir], piped.io)).toBe(EXIT.ok)
    expect(piped.err()).toBe('')
    const noBar = streams(true)
    expect(await run(['verify', dir, '--no-progress'], noBar.io)).toBe(EXIT.ok)
    expect(noBar.err()).toBe('')
    expect(await run(['inspect', join(dir, 'nope')], piped.io)).toBe(EXIT.notWal)
  })
})

describe('the built binary', () => {
  it('runs the same commands with the same exit codes', async () => {
    const dir = tempDir()
    await writeLog(dir, 3, bytesRecord)
    expect(waltzProcess('--version')).toMatchObject({ code: 0, stdout: '0.1.0\n' })
    expect(waltzProcess('verify', dir)).toMatchObject({ code: 0, stderr: '' })
    expect(waltzProcess('dump', dir).stdout.split('\n')).toHaveLength(4)
    expect(waltzProcess('inspect', join(dir, 'nope')).code).toBe(3)
  })
})
