#!/usr/bin/env node
import { run } from './cli.js'

// `tail -f` ends cleanly on SIGINT/SIGTERM (exit 0); other commands keep the default behaviour.
const stop = new AbortController()
if (process.argv[2] === 'tail') {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stop.abort())
}
process.exitCode = await run(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  signal: stop.signal,
})
