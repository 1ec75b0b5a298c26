#!/usr/bin/env node
// Builds native addons on demand, once, for the commands that use them: the install builds none (no
// registry prebuilt binaries are reachable here, so each one compiles from source, and the demo needs
// none of them). `npm test` needs better-sqlite3 (a consumer that commits its checkpoint in a SQLite
// transaction, the shopping-cart read model); `pnpm bench` also needs sqlite3 (emmett's SQLite store).
// classic-level ships a prebuilt binary for this platform and needs no build.
//
// Usage: node scripts/native.mjs <addon>...   An addon that already loads is left alone; one that does
// not is compiled with node-gyp (its own install script, told to skip the download attempt), printing
// one line, and the compiler output only if the build fails.
import { spawnSync } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = dirname(dirname(fileURLToPath(import.meta.url)))

/** Where each addon is a dependency, and a program that fails unless its binary loads. */
const ADDONS = {
  'better-sqlite3': {
    from: 'examples/shopping-cart',
    probe: (dir) => `const D = require(${JSON.stringify(dir)}); new D(':memory:').close()`,
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
    env: { ...process.env, npm_config_build_from_source: 'true' },
  })
  if (build.status !== 0 || !loads()) {
    console.error(`native.mjs: building ${name} failed (in ${dir})`)
    console.error(`${build.stdout ?? ''}${build.stderr ?? ''}`)
    process.exit(1)
  }
  console.log(`native.mjs: built ${name} in ${Math.round((performance.now() - started) / 1000)} s`)
}
