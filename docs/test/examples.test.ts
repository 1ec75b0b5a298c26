/**
 * The documentation's code examples are compiled and run, so the docs cannot rot.
 *
 * Every ```ts block of the markdown files below is written to a `.ts` file inside the repository (the
 * root README's and the guide's under `.doc-examples/`, a package README's under that package's
 * `.doc-examples/`, so the imports resolve as they would for that package: `@waltz/*` through the
 * `@waltz/source` condition, and the package's own dependencies such as zod or protobufjs). Then:
 *
 * - all of them are type-checked in one TypeScript program with the options of `tsconfig.check.json`
 *   (strict, NodeNext); diagnostics are reported as `<markdown file>:<line>`;
 * - each block is imported (run) with the working directory set to a fresh temporary directory, so
 *   relative paths such as `./events` land there. Blocks marked ```ts no-run are only type-checked.
 *
 * A block marked ```ts quote=<path> quotes a source file (relative to the markdown file): it is not
 * compiled here (the build compiles the source) but must appear in that file verbatim.
 *
 * One test per block, named `<markdown file>:<line of the opening fence>`.
 */
import { copyFileSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import ts from 'typescript'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { tempDir } from '../../test-support/temp-dir.js'

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..')
const OUT = '.doc-examples'

/** The markdown files whose examples are tested, and the directory their blocks run from. */
const sources: readonly { markdown: string; home: string; support?: Record<string, string> }[] = [
  { markdown: 'README.md', home: '.' },
  { markdown: 'docs/guide.md', home: '.' },
  { markdown: 'packages/core/README.md', home: 'packages/core' },
  { markdown: 'packages/serializer-binary/README.md', home: 'packages/serializer-binary' },
  { markdown: 'packages/serializer-json/README.md', home: 'packages/serializer-json' },
  {
    markdown: 'packages/serializer-proto/README.md',
    home: 'packages/serializer-proto',
    // What the README's `pbjs -t static-module -w esm -o order_events.js --dts order_events.proto` makes
    // (the test fixture is that command's output for the shipped `proto/order_events.proto`).
    support: {
      'order_events.js': 'packages/serializer-proto/test/generated/order_events.generated.js',
      'order_events.d.ts': 'packages/serializer-proto/test/generated/order_events.generated.d.ts',
    },
  },
  { markdown: 'packages/snapshot/README.md', home: 'packages/snapshot' },
  { markdown: 'packages/eventstore/README.md', home: 'packages/eventstore' },
  { markdown: 'packages/emmett/README.md', home: 'packages/emmett' },
  { markdown: 'packages/castore/README.md', home: 'packages/castore' },
  { markdown: 'packages/archive-s3/README.md', home: 'packages/archive-s3' },
  { markdown: 'packages/cli/README.md', home: 'packages/cli' },
  { markdown: 'packages/ui/README.md', home: 'packages/ui' },
  { markdown: 'examples/order-book/README.md', home: 'examples/order-book' },
]

interface Block {
  /** `<markdown>:<line>`, the test's name. */
  readonly name: string
  readonly markdown: string
  /** 1-based line of the opening fence. */
  readonly line: number
  readonly code: string
  readonly run: boolean
  /** For a quoted block: the absolute path of the source file it quotes. */
  readonly quote: string | undefined
  /** Absolute path of the extracted `.ts` file. */
  readonly file: string
}

/** ```ts or ```typescript, then optionally `no-run` or `quote=<path>`. */
const FENCE = /^```(ts|typescript)(?:\s+(.*))?$/

function extract(markdown: string, home: string): Block[] {
  const lines = readFileSync(join(repo, markdown), 'utf8').split('\n')
  const blocks: Block[] = []
  for (let i = 0; i < lines.length; i++) {
    const open = lines[i]!.match(/^```(.*)$/)
    if (!open) continue
    const start = i
    const body: string[] = []
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]!); i++) body.push(lines[i]!)
    const ts = open[0].match(FENCE)
    if (!ts) continue
    const words = (ts[2] ?? '').split(/\s+/).filter(Boolean)
    const unknown = words.filter((w) => w !== 'no-run' && !w.startsWith('quote='))
    if (unknown.length > 0)
      throw new Error(`${markdown}:${start + 1}: unknown info words ${unknown.join(' ')}`)
    const line = start + 1
    const stem = markdown.replace(/\.md$/, '').replace(/[^A-Za-z0-9]+/g, '-')
    blocks.push({
      name: `${markdown}:${line}`,
      markdown,
      line,
      // `export {}` makes every block a module (top-level await, no global declarations).
      code: `${body.join('\n')}\nexport {}\n`,
      run: !words.includes('no-run'),
      quote: words
        .filter((w) => w.startsWith('quote='))
        .map((w) => join(repo, dirname(markdown), w.slice('quote='.length)))[0],
      file: join(repo, home, OUT, `${stem}-L${line}.ts`),
    })
  }
  return blocks
}

const all = sources.flatMap((s) => extract(s.markdown, s.home))
const quoted = all.filter((b) => b.quote !== undefined)
const blocks = all.filter((b) => b.quote === undefined)
const diagnostics = new Map<string, string[]>()

function compilerOptions(): ts.CompilerOptions {
  const configPath = join(repo, 'tsconfig.check.json')
  const parsed = ts.getParsedCommandLineOfConfigFile(
    configPath,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'))
      },
    },
  )
  if (!parsed) throw new Error('cannot read tsconfig.check.json')
  return { ...parsed.options, noEmit: true }
}

function typeCheck(): void {
  const byFile = new Map(blocks.map((b) => [b.file, b]))
  const program = ts.createProgram(
    blocks.map((b) => b.file),
    compilerOptions(),
  )
  for (const b of blocks) diagnostics.set(b.file, [])
  const found = [...program.getOptionsDiagnostics(), ...program.getGlobalDiagnostics()]
  for (const b of blocks) {
    const sf = program.getSourceFile(b.file)
    if (!sf) throw new Error(`${b.name}: not in the program`)
    found.push(...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf))
  }
  for (const d of found) {
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n')
    const block = d.file ? byFile.get(d.file.fileName) : undefined
    if (!block || !d.file || d.start === undefined) {
      // Not located in a block (options, lib): fail every block with it.
      for (const list of diagnostics.values()) list.push(`TS${d.code}: ${message}`)
      continue
    }
    const { line } = d.file.getLineAndCharacterOfPosition(d.start)
    diagnostics.get(block.file)!.push(`${block.markdown}:${block.line + 1 + line}: TS${d.code}: ${message}`)
  }
}

const homes = [...new Set(sources.map((s) => join(repo, s.home, OUT)))]

function cleanUp(): void {
  for (const dir of homes) rmSync(dir, { recursive: true, force: true })
}

beforeAll(() => {
  cleanUp()
  for (const b of blocks) {
    mkdirSync(dirname(b.file), { recursive: true })
    writeFileSync(b.file, b.code)
  }
  for (const s of sources) {
    for (const [name, from] of Object.entries(s.support ?? {})) {
      copyFileSync(join(repo, from), join(repo, s.home, OUT, name))
    }
  }
  typeCheck()
}, 120_000)

afterAll(cleanUp)

/** Runs `fn` with the working directory set to a fresh temporary directory (removed after the test). */
async function inTempDir(fn: () => Promise<unknown>): Promise<void> {
  const dir = tempDir()
  // The directory stands for the application's project directory, where its packages are installed
  // (examples may read files shipped in `node_modules/@waltz/...`).
  symlinkSync(join(repo, 'node_modules'), join(dir, 'node_modules'), 'dir')
  const cwd = process.cwd()
  process.chdir(dir)
  try {
    await fn()
  } finally {
    process.chdir(cwd)
  }
}

describe('documentation examples', () => {
  it('finds the examples', () => {
    expect(blocks.length).toBeGreaterThan(10)
    for (const s of sources)
      expect(
        all.some((b) => b.markdown === s.markdown),
        s.markdown,
      ).toBe(true)
  })

  for (const block of quoted) {
    it(`${block.name} (quotes ${relative(repo, block.quote!)})`, () => {
      const source = readFileSync(block.quote!, 'utf8')
      expect(
        source.includes(block.code.replace(/\nexport \{\}\n$/, '\n')),
        `${block.name} is not in the source`,
      ).toBe(true)
    })
  }

  for (const block of blocks) {
    it(block.name, async () => {
      expect(diagnostics.get(block.file), `${block.name} does not compile`).toEqual([])
      if (!block.run) return
      // The examples print what they show; keep it out of the test output but make sure they ran.
      const log = vi.spyOn(console, 'log').mockImplementation(() => {})
      const error = vi.spyOn(console, 'error').mockImplementation(() => {})
      try {
        await inTempDir(async () => {
          const module = await import(pathToFileURL(block.file).href)
          expect(module).toBeDefined()
        })
      } finally {
        log.mockRestore()
        error.mockRestore()
      }
    })
  }
})
