/**
 * The master key of an encrypted log, for the commands that show record data (`dump`, `tail`, `ui`).
 * Never an option value: a key on the command line would show in `ps` and in shell history. It comes
 * from a file (`--master-key-file`) or an environment variable named by `--master-key-env`, as lines
 * or comma-separated entries `<id>:<base64 of 32 bytes>`, the current master key first and older ones
 * after it (a log whose master key was rotated).
 */
import { readFile } from 'node:fs/promises'
import { type Keyring, localKeyring, type MasterKey } from '@waltz/core'
import { stringValue, type Values } from './command.js'
import { CliError, errnoCode, usageError } from './errors.js'

/** The options, for a command's `options`. */
export const MASTER_KEY_OPTIONS = {
  'master-key-file': { type: 'string' },
  'master-key-env': { type: 'string' },
} as const

/** Their `--help` lines. */
export const MASTER_KEY_OPTIONS_HELP = `  --master-key-file FILE      an encrypted log's master key, to show its data: lines
                              <id>:<base64 of 32 bytes>, the current key first
  --master-key-env NAME       the same, from the environment variable NAME
                              (without either, encrypted data is shown as encrypted)`

/**
 * The keyring the options give, or undefined when neither is given.
 *
 * @param values - the parsed options
 * @param command - the command, for usage errors
 * @param env - the environment (`process.env`)
 * @throws CliError `USAGE` (both options, an empty or malformed entry, a key that is not 32 bytes, an
 *   unset variable), or the file's I/O error
 */
export async function masterKeyring(
  values: Values,
  command: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Keyring | undefined> {
  const file = stringValue(values, 'master-key-file')
  const variable = stringValue(values, 'master-key-env')
  if (file !== undefined && variable !== undefined) {
    throw usageError('give --master-key-file or --master-key-env, not both', command)
  }
  let text: string
  let source: string
  if (file !== undefined) {
    source = `--master-key-file ${file}`
    try {
      text = await readFile(file, 'utf8')
    } catch (err) {
      throw CliError.IO(`cannot read the master key file ${file}: ${(err as Error).message}`, errnoCode(err))
    }
  } else if (variable !== undefined) {
    source = `--master-key-env ${variable}`
    const value = env[variable]
    if (value === undefined || value.trim() === '') {
      throw usageError(`the environment variable ${variable} (--master-key-env) is not set`, command)
    }
    text = value
  } else {
    return undefined
  }
  return localKeyring(parseMasterKeys(text, source, command))
}

/** The entries of a master key text; errors name the entry's place, never its bytes. */
function parseMasterKeys(text: string, source: string, command: string): MasterKey[] {
  const entries = text
    .split(/[\s,]+/)
    .map((e) => e.trim())
    .filter((e) => e !== '')
  if (entries.length === 0) throw usageError(`${source} holds no master key`, command)
  const keys: MasterKey[] = []
  const ids = new Set<string>()
  for (const [i, entry] of entries.entries()) {
    const colon = entry.indexOf(':')
    const id = colon > 0 ? entry.slice(0, colon) : ''
    const encoded = colon > 0 ? entry.slice(colon + 1) : ''
    const key = Buffer.from(encoded, 'base64')
    if (id === '' || !/^[A-Za-z0-9+/=_-]+$/.test(encoded) || key.length !== 32) {
      throw usageError(
        `${source}: entry ${i + 1} is not <id>:<base64 of 32 bytes> (a 32-byte AES-256 master key)`,
        command,
      )
    }
    if (ids.has(id)) throw usageError(`${source}: the master key id '${id}' is given twice`, command)
    ids.add(id)
    keys.push({ id, key })
  }
  return keys
}
