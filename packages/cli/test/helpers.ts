import { type SpawnSyncReturns, spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type EncodableRecord, type Serializer, Wal } from '@waltz/core'
import type { JsonSchemas } from '@waltz/serializer-json'
import { afterEach } from 'vitest'

/** The built binary the tests run as a child process. */
export const BIN = fileURLToPath(new URL('../dist/main.js', import.meta.url))

function requireBin(): string {
  if (!existsSync(BIN)) {
    throw new Error(`${BIN} is missing: run \`pnpm build\` (or \`pnpm exec tsc -b packages/cli\`) first`)
  }
  return BIN
}

/** What a run of the binary produced. */
export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs `waltz ...args` as a child process and waits for it. */
export function waltz(...args: string[]): CliResult {
  const r: SpawnSyncReturns<string> = spawnSync(process.execPath, [requireBin(), ...args], {
    encoding: 'utf8',
    timeout: 20_000,
  })
  if (r.error) throw r.error
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

/** Starts `waltz ...args` as a child process without waiting. */
export function waltzAsync(...args: string[]) {
  return spawn(process.execPath, [requireBin(), ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
}

const dirs: string[] = []
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

/** A fresh temporary directory, removed after the test. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'waltz-cli-'))
  dirs.push(dir)
  return dir
}

/** The segment files of a log, oldest first. */
export function segmentFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => /^\d{20}\.wal$/.test(n))
    .sort()
    .map((n) => join(dir, n))
}

/** The header length of a segment (docs/FORMAT.md: u16 at offset 6). */
export function headerSize(file: string): number {
  return readFileSync(file).readUInt16LE(6)
}

/** Flips a bit of one byte of a file. */
export function flipByte(file: string, at: number): void {
  const buf = readFileSync(file)
  buf[at] = buf[at]! ^ 0x40
  writeFileSync(file, buf)
}

/** Writes `count` records with a fixed time (1700000000000 + seq seconds) and closes the log. */
export async function writeLog<Rec extends EncodableRecord>(
  dir: string,
  count: number,
  record: (seq: number) => Omit<Rec, 'time'>,
  options: { serializer?: Serializer<string, unknown, Rec>; segmentSize?: number } = {},
): Promise<void> {
  const wal = await Wal.open({ dir, segmentSize: options.segmentSize ?? 2048, ...options } as never)
  for (let seq = 1; seq <= count; seq++) {
    await (wal as Wal).append({ ...(record(seq) as object), time: 1_700_000_000_000 + seq * 1000 } as never)
  }
  await wal.close()
}

/** A bytes-serializer record: type `evt`, data `[seq % 256, 1, 2]`. */
export const bytesRecord = (seq: number) => ({ type: 'evt', data: new Uint8Array([seq % 256, 1, 2]) })

/** The size of a {@link bytesRecord} frame: frame header 20, time 8, type length 1, `evt`, 3 data bytes. */
export const BYTES_FRAME = 20 + 9 + 3 + 3

const load = createRequire(import.meta.url)

type ZodType = JsonSchemas[string]
/** The part of zod (as `@waltz/serializer-json` uses it) the tests need. */
export const { z } = load('zod') as {
  z: { object(shape: Record<string, ZodType>): ZodType; string(): ZodType; int(): ZodType }
}

/** The shipped example schema of `@waltz/serializer-proto`. */
export const ORDER_EVENTS_PROTO = fileURLToPath(
  new URL('../../serializer-proto/proto/order_events.proto', import.meta.url),
)

/** Message types of {@link ORDER_EVENTS_PROTO}, loaded with protobufjs. */
export function orderEventTypes() {
  const protobuf = load('protobufjs') as {
    loadSync(file: string): { lookupType(name: string): never }
  }
  const root = protobuf.loadSync(ORDER_EVENTS_PROTO)
  return {
    OrderPlaced: root.lookupType('waltz.example.OrderPlaced'),
    OrderCancelled: root.lookupType('waltz.example.OrderCancelled'),
  }
}

/** Parses ndjson output. */
export function lines(text: string): unknown[] {
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as unknown)
}
