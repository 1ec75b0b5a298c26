#!/usr/bin/env node
// Runs the pnpm version pinned in package.json ("packageManager"), so `npm test` and `npm run demo`
// work on a fresh machine: it installs that pnpm (into ~/.cache/waltz when the one on PATH differs,
// without corepack, whose signature check fails on some registries) and the workspace's dependencies
// (frozen lockfile) when they are missing, then passes its arguments to pnpm.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = dirname(dirname(fileURLToPath(import.meta.url)))
const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).packageManager.split('@')[1]

function run(command, args) {
  const result = spawnSync(command, args, {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, COREPACK_ENABLE_STRICT: '0' },
  })
  if (result.error) throw result.error
  if (result.status !== 0) process.exit(result.status ?? 1)
}

function pinnedPnpm() {
  try {
    const found = execFileSync('pnpm', ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim()
    if (found === version) return 'pnpm'
  } catch {}
  const prefix = join(homedir(), '.cache', 'waltz', `pnpm-${version}`)
  const bin = join(prefix, 'bin', 'pnpm')
  if (!existsSync(bin))
    run('npm', ['install', '--global', '--prefix', prefix, `pnpm@${version}`, '--no-audit', '--no-fund'])
  return bin
}

const pnpm = pinnedPnpm()
if (!existsSync(join(root, 'node_modules', '.modules.yaml'))) run(pnpm, ['install', '--frozen-lockfile'])
run(pnpm, process.argv.slice(2))
