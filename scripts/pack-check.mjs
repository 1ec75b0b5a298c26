#!/usr/bin/env node
// Checks every package as a user gets it: packs it (`pnpm pack`), lints the tarball (publint, strict;
// @arethetypeswrong/cli with the ESM-only profile: the packages are ESM only), installs all tarballs
// with plain `npm install` into a fresh project outside the repository, then, there:
// - imports every entry point of every package (ESM) and runs a small program against them,
// - runs `npx waltz --help`,
// - type-checks a file that uses the public types with `tsc --noEmit`, `strict`, `skipLibCheck: false`
//   (so every shipped declaration file must compile on its own).
// Needs a build first (`pnpm build`). Exits non-zero on the first failure, saying which step.
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = dirname(dirname(fileURLToPath(import.meta.url)))
const bin = (name) => join(root, 'node_modules', '.bin', name)
const rootManifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))

/** Runs a command; on failure prints its output and exits. Returns its stdout. */
function run(step, command, args, cwd) {
  const r = spawnSync(command, args, { cwd, encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0' } })
  if (r.error || r.status !== 0) {
    console.error(`pack-check: ${step} failed (${command} ${args.join(' ')})`)
    console.error(r.error ?? `${r.stdout}${r.stderr}`)
    process.exit(1)
  }
  return r.stdout
}

const packages = readdirSync(join(root, 'packages'))
  .map((name) => ({ dir: join(root, 'packages', name) }))
  .map((p) => ({ ...p, manifest: JSON.parse(readFileSync(join(p.dir, 'package.json'), 'utf8')) }))
  .filter((p) => !p.manifest.private)

const work = mkdtempSync(join(tmpdir(), 'waltz-pack-check-'))
const tarballs = join(work, 'tarballs')
const app = join(work, 'app')
mkdirSync(tarballs)
mkdirSync(app)
const started = performance.now()
try {
  for (const p of packages) {
    run(
      `packing ${p.manifest.name}`,
      process.execPath,
      [join(root, 'scripts', 'pnpm.mjs'), '-C', p.dir, 'pack', '--pack-destination', tarballs],
      root,
    )
  }
  const files = readdirSync(tarballs).filter((f) => f.endsWith('.tgz'))
  if (files.length !== packages.length)
    throw new Error(`expected ${packages.length} tarballs, found ${files.length}`)
  for (const f of files) {
    const tgz = join(tarballs, f)
    run(`publint ${f}`, bin('publint'), ['run', tgz, '--strict'], work)
    run(`attw ${f}`, bin('attw'), [tgz, '--profile', 'esm-only', '--format', 'ascii', '--no-emoji'], work)
    console.log(`pack-check: ${f}: publint and attw pass`)
  }

  // A fresh project, outside the repository, that installs the tarballs as a user would.
  const devVersion = (name) => rootManifest.devDependencies[name]
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({ name: 'waltz-user', private: true, type: 'module' }),
  )
  run(
    'npm install of the tarballs',
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--loglevel=error',
      ...files.map((f) => join(tarballs, f)),
      `typescript@${devVersion('typescript')}`,
      `@types/node@${devVersion('@types/node')}`,
    ],
    app,
  )

  // Every entry point imports; a small program uses the core packages.
  const entries = packages.flatMap((p) =>
    Object.keys(p.manifest.exports ?? { '.': null })
      .filter((k) => k !== './package.json')
      .map((k) => (k === '.' ? p.manifest.name : `${p.manifest.name}/${k.slice(2)}`)),
  )
  writeFileSync(
    join(app, 'smoke.mjs'),
    `import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
const entries = ${JSON.stringify(entries)}
for (const e of entries) {
  const m = await import(e)
  if (Object.keys(m).length === 0) throw new Error(e + ' exports nothing')
}
const { Wal } = await import('@waltz/core')
const { jsonSerializer } = await import('@waltz/serializer-json')
const { EventStore } = await import('@waltz/eventstore')
const { z } = await import('zod')
const dir = mkdtempSync(join(tmpdir(), 'waltz-smoke-'))
try {
  const wal = await Wal.open({ dir: join(dir, 'wal'), sync: 'always' })
  const seq = await wal.append({ type: 'hello', key: 'k', data: new Uint8Array([1, 2, 3]) })
  const [back] = await wal.recordsAt([seq])
  if (back.type !== 'hello' || back.data.length !== 3) throw new Error('read back a different record')
  await wal.close()
  const serializer = jsonSerializer({ schemas: { opened: z.object({ by: z.string() }) } })
  const store = await EventStore.open({ dir: join(dir, 'store'), serializer })
  await store.appendToStream('cart-1', [{ type: 'opened', data: { by: 'ann' } }], { expectedRevision: 'no_stream' })
  const events = []
  for await (const e of store.readStream('cart-1')) events.push(e)
  if (events.length !== 1 || events[0].data.by !== 'ann') throw new Error('readStream returned ' + JSON.stringify(events))
  await store.close()
} finally {
  rmSync(dir, { recursive: true, force: true })
}
console.log('imported ' + entries.length + ' entry points; Wal and EventStore round trips pass')
`,
  )
  console.log(`pack-check: ${run('the import smoke test', process.execPath, ['smoke.mjs'], app).trim()}`)
  const help = run('npx waltz --help', 'npx', ['--no-install', 'waltz', '--help'], app)
  if (!/usage/i.test(help)) throw new Error(`npx waltz --help printed no usage:\n${help}`)
  console.log('pack-check: npx waltz --help prints its usage')

  // The public types, checked with every shipped declaration file (skipLibCheck: false).
  writeFileSync(
    join(app, 'check.ts'),
    `${packages
      .flatMap((p, i) =>
        Object.keys(p.manifest.exports ?? { '.': null })
          .filter((k) => k !== './package.json')
          .map(
            (k, j) =>
              `import * as ns${i}_${j} from '${k === '.' ? p.manifest.name : `${p.manifest.name}/${k.slice(2)}`}'`,
          ),
      )
      .join('\n')}
import { Wal, type SerializerRecord } from '@waltz/core'
import { jsonSerializer, type JsonRecordOf } from '@waltz/serializer-json'
import { EventStore, type StoredEvent } from '@waltz/eventstore'
import { z } from 'zod'

const schemas = {
  deposited: z.object({ amount: z.number() }),
  withdrawn: z.object({ amount: z.number() }),
}
const serializer = jsonSerializer({ schemas })

export async function balance(dir: string): Promise<number> {
  const wal = await Wal.open({ dir, serializer })
  let total = 0
  await wal.replayFrom(0, (r: SerializerRecord<typeof serializer>) => {
    // data is narrowed by type
    total += r.type === 'deposited' ? r.data.amount : -r.data.amount
  })
  await wal.close()
  return total
}

export async function account(dir: string): Promise<StoredEvent<JsonRecordOf<typeof schemas>>[]> {
  const store = await EventStore.open({ dir, serializer })
  const out: StoredEvent<JsonRecordOf<typeof schemas>>[] = []
  for await (const e of store.readStream('account-1')) out.push(e)
  await store.close()
  return out
}

export const namespaces = [${packages
      .flatMap((p, i) =>
        Object.keys(p.manifest.exports ?? { '.': null })
          .filter((k) => k !== './package.json')
          .map((_, j) => `ns${i}_${j}`),
      )
      .join(', ')}]
`,
  )
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        skipLibCheck: false,
        noEmit: true,
        types: ['node'],
      },
      files: ['check.ts'],
    }),
  )
  run(
    'tsc --noEmit (skipLibCheck: false) over the public types',
    join(app, 'node_modules', '.bin', 'tsc'),
    ['-p', '.'],
    app,
  )
  console.log('pack-check: tsc --noEmit with skipLibCheck: false passes over every entry point')
  console.log(
    `pack-check: ${packages.length} packages pass, ${entries.length} entry points (${Math.round((performance.now() - started) / 1000)} s)`,
  )
} finally {
  rmSync(work, { recursive: true, force: true })
}
