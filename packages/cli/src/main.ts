#!/usr/bin/env node
import { run } from './cli.js'

// The AWS SDK warns on every run under Node < 22 that its versions after January 2027 will need
// Node 22: the CLI pins its SDK version, so that is for the CLI's maintainers, not for whoever runs it
// (an operator's explicit setting still wins).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'

// `tail -f` and `ui` end cleanly on SIGINT/SIGTERM (exit 0); other commands keep the default behaviour.
const stop = new AbortController()
if (process.argv[2] === 'tail' || process.argv[2] === 'ui') {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stop.abort())
}
process.exitCode = await run(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  signal: stop.signal,
})
