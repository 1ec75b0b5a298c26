import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { requireBuilt } from '../../../test-support/child-process.js'

const childScript = fileURLToPath(new URL('./fixtures/child.mjs', import.meta.url))

/**
 * The package's built entry point, for a child process (Node 20 cannot run TypeScript). The child runs
 * the same code that is published, resolving `msgpackr` and `@waltz/core` as the package does.
 *
 * @returns the file URL of `dist/index.js`
 * @throws Error if the package has not been built
 */
export function builtPackage(): string {
  return pathToFileURL(requireBuilt(new URL('../dist/index.js', import.meta.url))).href
}

/**
 * Runs the child script in a fresh Node process.
 *
 * @param args - module URL, mode, file and optional structures path
 * @returns exit status, signal and stdout
 */
export function runChild(...args: string[]): {
  status: number | null
  signal: string | null
  stdout: string
  stderr: string
} {
  const result = spawnSync(process.execPath, [childScript, ...args], {
    encoding: 'utf8',
    cwd: dirname(childScript),
  })
  return { status: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr }
}

/**
 * Splits a file written by the child (u32 LE length prefix per record) into records.
 *
 * @param file - the path
 * @returns one view per record
 */
export function readFrames(file: string): Uint8Array[] {
  const buffer = readFileSync(file)
  const frames: Uint8Array[] = []
  for (let offset = 0; offset < buffer.length; ) {
    const length = buffer.readUInt32LE(offset)
    frames.push(new Uint8Array(buffer.buffer, buffer.byteOffset + offset + 4, length))
    offset += 4 + length
  }
  return frames
}

/**
 * Writes records in the child's framing.
 *
 * @param file - the path
 * @param frames - the encoded records
 */
export function writeFrames(file: string, frames: Uint8Array[]): void {
  const chunks: Buffer[] = []
  for (const frame of frames) {
    const length = Buffer.alloc(4)
    length.writeUInt32LE(frame.byteLength)
    chunks.push(length, Buffer.from(frame))
  }
  writeFileSync(file, Buffer.concat(chunks))
}
