/**
 * The `waltz` command line, callable in-process: `await run(['verify', dir], { stdout, stderr })`.
 * The binary is `dist/main.js`.
 */
export { run } from './cli.js'
export { EXIT, type ExitCode } from './lib/errors.js'
export type { Io, OutStream } from './lib/io.js'
export { toJson } from './lib/json.js'
