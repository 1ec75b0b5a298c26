#!/usr/bin/env node
// Packs every package into tarballs (default: `<repo>/tarballs/`, or the directory given), as they would
// be published: workspace dependencies become version ranges. Install them into any project with
// `npm install <dir>/*.tgz` (see the root README). Run `pnpm build` first.
import { spawnSync } from 'node:child_process'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = dirname(dirname(fileURLToPath(import.meta.url)))
const dest = resolve(process.argv[2] ?? join(root, 'tarballs'))
const args = [
  join(root, 'scripts', 'pnpm.mjs'),
  '-r',
  '--filter',
  './packages/*',
  'pack',
  '--pack-destination',
  dest,
]
const r = spawnSync(process.execPath, args, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] })
if (r.status !== 0) process.exit(r.status ?? 1)
console.log(`packed every package into ${dest}`)
