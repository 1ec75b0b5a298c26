import { spawn, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { PassThrough } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { type AppendInput, type RecordShape, type Serializer, Wal } from '@waltz/core'
import { scanLog } from '@waltz/core/inspect'
import type { JsonSchemas } from '@waltz/serializer-json'
import { type ProtoMessageType, protoType } from '@waltz/serializer-proto'
import { requireBuilt } from '../../../test-support/child-process.js'
import { run } from '../src/index.js'

/** What a run of `waltz` produced. */
export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs `waltz ...args` in-process (from the TypeScript sources) and collects its output. */
export async function waltz(...args: string[]): Promise<CliResult> {
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  let out = ''
  let err = ''
  stdout.on('data', (c: Buffer) => (out += c.toString()))
  stderr.on('data', (c: Buffer) => (err += c.toString()))
  const code = await run(args, { stdout, stderr })
  return { code, stdout: out, stderr: err }
}

/** The built binary, for the tests that need a process of their own (signals, EPIPE, the lock). */
const requireBin = (): string => requireBuilt(new URL('../dist/main.js', import.meta.url))

/** Runs the built `waltz ...args` as a child process and waits for it. */
export function waltzProcess(...args: string[]): CliResult {
  const r = spawnSync(process.execPath, [requireBin(), ...args], { encoding: 'utf8', timeout: 20_000 })
  if (r.error) throw r.error
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

/** Starts the built `waltz ...args` as a child process without waiting. */
export function waltzAsync(...args: string[]) {
  return spawn(process.execPath, [requireBin(), ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
}

/** The segment files of a log, oldest first (as core's scanner lists them). */
export async function segmentFiles(dir: string): Promise<string[]> {
  return (await scanLog(dir)).segments.map((s) => s.file)
}

/** The header length of a segment (docs/FORMAT.md: u16 at offset 6); frames start there. */
export function headerSize(file: string): number {
  return readFileSync(file).readUInt16LE(6)
}

/** The time `writeLog` gives record `seq`. */
export const timeOf = (seq: number): number => 1_700_000_000_000 + seq * 1000

/** Writes `count` records (time {@link timeOf}(seq)) with the core API and closes the log. */
export async function writeLog<Rec extends RecordShape = RecordShape<string, Uint8Array>>(
  dir: string,
  count: number,
  record: (seq: number) => AppendInput<Rec>,
  options: { serializer?: Serializer<string, unknown, Rec>; segmentSize?: number } = {},
): Promise<void> {
  const wal = await Wal.open<Rec>({ dir, segmentSize: options.segmentSize ?? 2048, ...options })
  for (let seq = 1; seq <= count; seq++) await wal.append({ ...record(seq), time: timeOf(seq) })
  await wal.close()
}

/** A bytes record: type `evt`, data `[seq % 256, 1, 2]`, no key or headers. */
export const bytesRecord = (seq: number): AppendInput<RecordShape<string, Uint8Array>> => ({
  type: 'evt',
  data: new Uint8Array([seq % 256, 1, 2]),
})

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

/** The `OrderCancelled` message type of {@link ORDER_EVENTS_PROTO}, loaded with protobufjs. */
export function orderEventTypes() {
  const protobuf = load('protobufjs') as {
    loadSync(file: string): { lookupType(name: string): ProtoMessageType<object> }
  }
  const root = protobuf.loadSync(ORDER_EVENTS_PROTO)
  return {
    OrderCancelled: protoType<{ orderId: string; reason: string }>(
      root.lookupType('waltz.example.OrderCancelled'),
    ),
  }
}

/** Parses ndjson output. */
export function lines(text: string): unknown[] {
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as unknown)
}
