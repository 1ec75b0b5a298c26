import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach } from 'vitest'

// Importing this module registers the cleanup hooks on the importing test file.
const perTest: string[] = []
const perFile: string[] = []

function removeAll(dirs: string[]): void {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
}

afterEach(() => removeAll(perTest))
afterAll(() => removeAll(perFile))

/**
 * A fresh temporary directory, removed with everything in it after the current test. Made outside a
 * test (in `beforeAll`), it goes after the file's first test: read what the others need from it first.
 *
 * @returns the absolute path of an empty directory
 * @example
 * const wal = await Wal.open({ dir: tempDir() })
 */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'waltz-test-'))
  perTest.push(dir)
  return dir
}

/**
 * A fresh temporary directory that lasts until every test of the current file has run, for state the
 * tests share on purpose (a structures file several serializers read and extend).
 *
 * @returns the absolute path of an empty directory
 */
export function fileTempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'waltz-test-'))
  perFile.push(dir)
  return dir
}
