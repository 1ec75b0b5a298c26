import { spawnSync } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import ts from 'typescript'

const packageDir = fileURLToPath(new URL('..', import.meta.url))
const childScript = fileURLToPath(new URL('./fixtures/child.mjs', import.meta.url))

/**
 * Transpiles the package's `src/*.ts` to plain JS for a child process (Node 20 cannot run TypeScript).
 * The output lives under the package's `node_modules/.cache`, so `msgpackr` resolves exactly as it does
 * for the package, and it is the package's own code: no separate logic for the child. (This avoids
 * depending on `tsc -b` having built `dist` before the tests run.)
 *
 * @returns the file URL of the transpiled `index.js`
 */
export function transpilePackage(): string {
  const out = join(packageDir, 'node_modules', '.cache', 'waltz-binary-child')
  mkdirSync(out, { recursive: true })
  const src = join(packageDir, 'src')
  for (const file of readdirSync(src).filter((f) => f.endsWith('.ts'))) {
    const { outputText } = ts.transpileModule(readFileSync(join(src, file), 'utf8'), {
      compilerOptions: {
        module: ts.ModuleKind.ESNext,
        target: ts.ScriptTarget.ES2022,
        verbatimModuleSyntax: true,
      },
      fileName: file,
    })
    writeFileSync(join(out, file.replace(/\.ts$/, '.js')), outputText)
  }
  writeFileSync(join(out, 'package.json'), '{"type":"module"}')
  return pathToFileURL(join(out, 'index.js')).href
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
