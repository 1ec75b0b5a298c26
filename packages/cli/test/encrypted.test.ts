/**
 * `dump` and `tail` on an encrypted log: without the master key the envelope is shown and the data
 * marked encrypted with its key id (no failure, no sealed bytes passed off as data); with it
 * (`--master-key-file`, `--master-key-env`) the data is opened and decoded, shredded data is marked
 * shredded; a wrong or malformed master key is a typed error with its exit code, never garbage.
 */
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { localKeyring, type MasterKey, Wal } from '@waltz/core'
import { jsonSerializer } from '@waltz/serializer-json'
import { afterEach, describe, expect, it } from 'vitest'
import { tempDir } from '../../../test-support/temp-dir.js'
import { lines, timeOf, waltz, z } from './helpers.js'

const master: MasterKey = { id: 'ops-2026', key: randomBytes(32) }
const keyText = (k: MasterKey) => `${k.id}:${Buffer.from(k.key).toString('base64')}`
/** The ndjson lines of an output, as objects. */
const records = (text: string) => lines(text) as Record<string, unknown>[]

const schemas = { Registered: z.object({ name: z.string(), email: z.string() }) }

/** Three customers registered, the second one shredded. */
async function encryptedLog(): Promise<string> {
  const dir = tempDir()
  const wal = await Wal.open({
    dir,
    serializer: jsonSerializer({ schemas }),
    encryption: { keyring: localKeyring([master]) },
  })
  for (let i = 1; i <= 3; i++) {
    await wal.append({
      type: 'Registered',
      key: `customer-${i}`,
      time: timeOf(i),
      data: { name: `Name${i}`, email: `person${i}@example.com` },
    })
  }
  await wal.shred('customer-2')
  await wal.close()
  return dir
}

function keyFile(text: string): string {
  const file = join(tempDir(), 'master.key')
  writeFileSync(file, text)
  return file
}

const envName = 'WALTZ_TEST_MASTER_KEY'
afterEach(() => {
  delete process.env[envName]
})

describe('an encrypted log in waltz dump and tail', () => {
  it('without the master key: envelopes, and data marked encrypted with its key id', async () => {
    const dir = await encryptedLog()
    const r = await waltz('dump', dir)
    expect(r.code).toBe(0)
    const printed = records(r.stdout)
    expect(printed.map((x) => [x.seq, x.type, x.key, x.encrypted, x.keyId])).toEqual([
      [1, 'Registered', 'customer-1', true, 'customer-1'],
      [2, 'Registered', 'customer-2', true, 'customer-2'],
      [3, 'Registered', 'customer-3', true, 'customer-3'],
    ])
    for (const record of printed) {
      expect(record.size).toBeGreaterThan(16)
      expect(record).not.toHaveProperty('data')
      expect(record).not.toHaveProperty('error')
    }
    expect(r.stdout).not.toContain('example.com')
    const table = await waltz('dump', dir, '--format', 'table')
    expect(table.code).toBe(0)
    expect(table.stdout).toContain('(encrypted with key')
  })

  it('with --master-key-file: data opened and decoded, shredded data marked shredded', async () => {
    const dir = await encryptedLog()
    const file = keyFile(`${keyText({ id: 'newer', key: randomBytes(32) })}\n${keyText(master)}\n`)
    const r = await waltz('dump', dir, '--master-key-file', file)
    expect(r.code).toBe(0)
    expect(records(r.stdout).map((x) => [x.seq, x.data ?? null, x.shredded ?? false])).toEqual([
      [1, { name: 'Name1', email: 'person1@example.com' }, false],
      [2, null, true],
      [3, { name: 'Name3', email: 'person3@example.com' }, false],
    ])
    const tail = await waltz('tail', dir, '-n', '2', '--master-key-file', file)
    expect(tail.code).toBe(0)
    expect(records(tail.stdout).map((x) => [x.seq, x.data ?? null, x.shredded ?? false])).toEqual([
      [2, null, true],
      [3, { name: 'Name3', email: 'person3@example.com' }, false],
    ])
    const table = await waltz('tail', dir, '-n', '2', '--master-key-file', file, '--format', 'table')
    expect(table.code).toBe(0)
    expect(table.stdout).toContain('(shredded')
    expect(table.stdout).toContain('{"name":"Name3"')
  })

  it('with --master-key-env: the same, from the environment', async () => {
    const dir = await encryptedLog()
    process.env[envName] = keyText(master)
    const r = await waltz('dump', dir, '--from', '3', '--master-key-env', envName)
    expect(r.code).toBe(0)
    expect(lines(r.stdout)).toEqual([
      expect.objectContaining({ seq: 3, data: { name: 'Name3', email: 'person3@example.com' } }),
    ])
  })

  it('a wrong master key is WAL_KEYRING (exit 5); a malformed or missing one is a usage error', async () => {
    const dir = await encryptedLog()
    const wrong = await waltz(
      'dump',
      dir,
      '--master-key-file',
      keyFile(keyText({ ...master, key: randomBytes(32) })),
    )
    expect(wrong.code).toBe(5)
    expect(wrong.stderr).toContain('WAL_KEYRING')
    expect(wrong.stdout).toBe('')

    const short = keyFile(`${master.id}:${randomBytes(16).toString('base64')}`)
    for (const args of [
      ['--master-key-file', short],
      ['--master-key-file', keyFile('no-colon-here')],
      ['--master-key-file', keyFile(' \n')],
      ['--master-key-file', keyFile(`${keyText(master)},${keyText(master)}`)],
      ['--master-key-env', envName],
      ['--master-key-env', envName, '--master-key-file', short],
    ]) {
      const r = await waltz('dump', dir, ...args)
      expect(r.code, args.join(' ')).toBe(2)
      expect(r.stderr).toContain('USAGE')
      // The key bytes given never appear in an error.
      expect(r.stderr).not.toContain(Buffer.from(master.key).toString('base64'))
    }
    const missing = await waltz('dump', dir, '--master-key-file', join(tempDir(), 'absent.key'))
    expect(missing.code).toBe(5)
    expect(missing.stderr).toContain('ENOENT')
  })
})
