import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/**
 * Checks that a build output exists before a test starts a child process on it (Node 20 runs no
 * TypeScript, so children import a package's `dist`).
 *
 * @param files - file URLs or paths of build outputs, e.g. `new URL('../dist/index.js', import.meta.url)`
 * @returns the first of them as a path
 * @throws Error naming the missing file and saying to run `pnpm build`
 */
export function requireBuilt(...files: [URL | string, ...(URL | string)[]]): string {
  const paths = files.map((f) => (f instanceof URL ? fileURLToPath(f) : f))
  for (const path of paths) {
    if (!existsSync(path)) throw new Error(`${path} is missing: run \`pnpm build\` first`)
  }
  return paths[0]!
}

/**
 * Starts `node <script> ...args` with stdout piped (read it with {@link onLines}) and stderr shown.
 *
 * @param script - file URL or path of the script
 * @param args - its arguments
 * @returns the child process
 */
export function startNode(script: URL | string, args: readonly string[]): ChildProcess {
  const path = script instanceof URL ? fileURLToPath(script) : script
  return spawn(process.execPath, [path, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
}

/**
 * Calls `onLine` for each complete line the child writes to stdout (without the `\n`), however the
 * output is cut into chunks. Several calls on one child each see every line.
 *
 * @param child - a process started with stdout piped
 * @param onLine - called once per line, in order
 */
export function onLines(child: ChildProcess, onLine: (line: string) => void): void {
  let rest = ''
  child.stdout!.setEncoding('utf8')
  child.stdout!.on('data', (chunk: string) => {
    const parts = (rest + chunk).split('\n')
    rest = parts.pop()!
    for (const line of parts) onLine(line)
  })
}

/**
 * Waits for the first stdout line that `matches` accepts.
 *
 * @param child - a process started with stdout piped
 * @param matches - tried on each line from now on, until one matches
 * @returns the line
 * @throws Error if the child exits first
 */
export function waitForLine(child: ChildProcess, matches: (line: string) => boolean): Promise<string> {
  return new Promise((resolve, reject) => {
    let waiting = true
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      waiting = false
      reject(new Error(`the child exited (${signal ?? code}) before the line the test waits for`))
    }
    if (child.exitCode !== null || child.signalCode !== null) return onExit(child.exitCode, child.signalCode)
    child.once('exit', onExit)
    onLines(child, (line) => {
      if (!waiting || !matches(line)) return
      waiting = false
      child.off('exit', onExit)
      resolve(line)
    })
  })
}

/**
 * Resolves when the child has exited (at once if it already has).
 *
 * @param child - the process
 */
export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => child.once('exit', () => resolve()))
}
