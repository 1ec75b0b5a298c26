// Runs the built demo as a user would (CI builds before testing).
import { spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { requireBuilt } from '../../../test-support/child-process.js'

function runDemo(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const demo = requireBuilt(new URL('../dist/demo.js', import.meta.url))
  const result = spawnSync(process.execPath, [demo, ...args], { encoding: 'utf8', timeout: 60_000 })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}

describe('the demo', () => {
  it('runs a small flow, restarts and proves the recovered book identical', () => {
    const { status, stdout, stderr } = runDemo(['--orders', '2000', '--seed', '5'])
    expect(stderr).toBe('') // no progress bar when stderr is not a terminal
    expect(status, stdout).toBe(0)
    expect(stdout).toMatch(/^run +2,000 commands from 64 clients in [\d.]+ s: [\d,]+ orders\/s$/m)
    expect(stdout).toMatch(/^latency +submit → durable ack p50 [\d.]+ m?s, p99 [\d.]+ m?s/m)
    expect(stdout).toMatch(/^restart +from snapshot .* vs from zero /m)
    expect(stdout).toMatch(/^✔ recovered book identical to the in-memory one: sha256 [0-9a-f]{16}…/m)
    expect(stdout).not.toContain('✘')
  })

  it('--crash: SIGKILLs the engine process, recovers every acknowledged command, finishes the flow', () => {
    const { status, stdout } = runDemo(['--orders', '4000', '--crash', '--clients', '16'])
    expect(status, stdout).toBe(0)
    expect(stdout).toMatch(/^crash +engine process \(pid \d+\) SIGKILLed after [\d,]+ acks/m)
    expect(stdout).toMatch(/^✔ every acknowledged command survived/m)
    expect(stdout).toMatch(/so the crash lost and duplicated nothing$/m)
    expect(stdout).not.toContain('✘')
  })

  it('refuses bad options with the usage', () => {
    const { status, stderr } = runDemo(['--orders', 'many'])
    expect(status).toBe(2)
    expect(stderr).toContain('--orders must be a positive integer')
    expect(stderr).toContain('Usage:')
  })
})
