import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url))

/** Starts a fixture script from test/fixtures with node; it imports the built package. */
export function startFixture(script: string, args: string[]): ChildProcess {
  if (!existsSync(dist)) throw new Error('crash tests run against the build: run `pnpm build` first')
  const path = fileURLToPath(new URL(`./fixtures/${script}`, import.meta.url))
  return spawn(process.execPath, [path, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
}

/** Calls `onLine` for each complete stdout line of `child`. */
export function onLines(child: ChildProcess, onLine: (line: string) => void): void {
  let rest = ''
  child.stdout!.setEncoding('utf8')
  child.stdout!.on('data', (chunk: string) => {
    const parts = (rest + chunk).split('\n')
    rest = parts.pop()!
    for (const line of parts) onLine(line)
  })
}

/** Resolves when the child has exited. */
export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => child.once('exit', () => resolve()))
}
