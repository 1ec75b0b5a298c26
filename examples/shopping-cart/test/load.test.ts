// Runs the built load test as a user would (CI builds before testing), briefly.
import { spawnSync } from 'node:child_process'
import { expect, it } from 'vitest'
import { requireBuilt } from '../../../test-support/child-process.js'

it('the load test drives the service and reports throughput, latency and the read model lag', () => {
  const load = requireBuilt(
    new URL('../dist/load.js', import.meta.url),
    new URL('../dist/main.js', import.meta.url),
  )
  const result = spawnSync(process.execPath, [load, '--clients', '4', '--duration', '1'], {
    encoding: 'utf8',
    timeout: 20_000,
  })
  expect(result.status, result.stdout + result.stderr).toBe(0)
  expect(result.stdout).toMatch(
    /^commands +[\d,]+ in [\d.]+ s: [\d,]+ commands\/s \(200: [\d,]+, 201: [\d,]+\)$/m,
  )
  expect(result.stdout).toMatch(/^latency +p50 [\d.]+ ms, p99 [\d.]+ ms/m)
  expect(result.stdout).toMatch(
    /^read model lag [\d,]+ positions when the clients stopped .*; caught up [\d.]+ ms later$/m,
  )
  expect(result.stdout).not.toContain('✘')
})
