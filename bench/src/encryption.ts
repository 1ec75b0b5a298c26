/**
 * Workload 9: the cost of encryption at rest, measured on and off in the same run. The same records
 * (`size` bytes of data, keys spread over 1,000 data subjects, so 1,000 data keys) are appended with
 * `'background'` `appendBatch` of 1000 (after a warm-up into a scratch log) and replayed with
 * `replayFrom(0)` (after a warm-up pass over the first tenth), to a plain log and to an encrypted one.
 * `encryption-prepare` writes the two logs replayed (per record size); `encryption-append` and
 * `encryption-replay` measure one system each.
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { localKeyring, Wal } from '@waltz/core'
import {
  fmt,
  fmtRatio,
  type Metrics,
  median,
  num,
  type Params,
  payloadPool,
  str,
  type TaskResult,
} from './common.js'

/** A fixed master key: the bench measures the cost of encryption, not its secrecy. */
const KEYRING = localKeyring([{ id: 'bench', key: Buffer.alloc(32, 0x5a) }])
const SUBJECTS = 1000
const BATCH = 1000
const SUBJECT_KEYS = Array.from({ length: SUBJECTS }, (_, i) => `customer-${i}`)

type System = 'plain' | 'encrypted'

function system(p: Params): System {
  const s = str(p, 'system')
  if (s !== 'plain' && s !== 'encrypted') throw new Error(`unknown encryption system ${s}`)
  return s
}

function openLog(dir: string, s: System) {
  return Wal.open(
    s === 'encrypted'
      ? { dir, sync: 'background', encryption: { keyring: KEYRING } }
      : { dir, sync: 'background' },
  )
}

/** Appends `n` records in batches of 1000 and flushes; returns the time and bytes written. */
async function appendAll(
  dir: string,
  s: System,
  n: number,
  size: number,
): Promise<{ ms: number; bytes: number }> {
  const pool = payloadPool(size)
  const wal = await openLog(dir, s)
  const t = performance.now()
  for (let i = 0; i < n; i += BATCH) {
    const batch = []
    for (let k = i; k < Math.min(n, i + BATCH); k++) {
      batch.push({ type: 'e', key: SUBJECT_KEYS[k % SUBJECTS]!, time: k, data: pool[k & 1023]! })
    }
    await wal.appendBatch(batch)
  }
  await wal.flush()
  const ms = performance.now() - t
  const bytes = wal.metrics().bytes
  await wal.close()
  return { ms, bytes }
}

async function encryptionAppend(dir: string, p: Params): Promise<Metrics> {
  const s = system(p)
  const n = num(p, 'n')
  const size = num(p, 'size')
  // As the buffered workload: a fifth of the records into a scratch log first (JIT, data keys'
  // code paths), then the timed run into a fresh log (which creates its 1,000 data keys).
  mkdirSync(join(dir, 'warmup'))
  await appendAll(join(dir, 'warmup'), s, Math.max(2 * BATCH, Math.floor(n / 5)), size)
  spawnSync('sync')
  const { ms, bytes } = await appendAll(join(dir, 'timed'), s, n, size)
  return { records: n, ms, recordsPerSec: (n / ms) * 1000, diskBytes: bytes }
}

/** The directory of the replayed log of system `s` with `size`-byte records. */
const replayDir = (dir: string, s: System, size: number) => join(dir, `${s}-${size}`)

async function encryptionPrepare(dir: string, p: Params): Promise<Metrics> {
  const n = num(p, 'n')
  const size = num(p, 'size')
  const out: Metrics = {}
  for (const s of ['plain', 'encrypted'] as const) {
    const { ms, bytes } = await appendAll(replayDir(dir, s, size), s, n, size)
    out[`write.${s}.recordsPerSec`] = (n / ms) * 1000
    out[`write.${s}.diskBytes`] = bytes
  }
  return out
}

async function encryptionReplay(dir: string, p: Params): Promise<Metrics> {
  const s = system(p)
  const n = num(p, 'n')
  const logDir = replayDir(dir, s, num(p, 'size'))
  const reader = await Wal.openReader(
    s === 'encrypted' ? { dir: logDir, encryption: { keyring: KEYRING } } : { dir: logDir },
  )
  let touched = 0
  for await (const r of reader.records({ from: 1, to: Math.max(1, Math.floor(n / 10)) }))
    touched += r.data.byteLength
  touched = 0
  const t = performance.now()
  const count = await reader.replayFrom(0, (r) => {
    touched += r.data.byteLength
  })
  const ms = performance.now() - t
  await reader.close()
  if (count !== n || touched === 0) throw new Error(`replayed ${count} of ${n} records`)
  return { records: count, ms, recordsPerSec: (count / ms) * 1000 }
}

/** The tasks `worker.ts` runs for this workload. */
export const encryptionTasks = {
  'encryption-prepare': encryptionPrepare,
  'encryption-append': encryptionAppend,
  'encryption-replay': encryptionReplay,
}

/** The workload's parameters, in the bench config. */
export interface EncryptionConfig {
  /** Payload bytes of the records, one set of rows per size. */
  sizes: number[]
  /** Records of the timed append run. */
  appendRecords: number
  /** Records of the replayed logs. */
  replayRecords: number
}

/** The figure of `metric` of `key`: the median over runs. */
function med(m: Map<string, TaskResult[]>, key: string, metric: string): number {
  return median(
    (m.get(key) ?? []).map((r) => r?.metrics[metric]).filter((v): v is number => Number.isFinite(v)),
  )
}

/** `encrypted` ÷ `plain` of `metric`, within each run, then the median over runs. */
function kept(m: Map<string, TaskResult[]>, encrypted: string, plain: string, metric: string): number {
  const on = m.get(encrypted) ?? []
  const off = m.get(plain) ?? []
  const per: number[] = []
  for (let i = 0; i < Math.min(on.length, off.length); i++) {
    const a = on[i]?.metrics[metric]
    const b = off[i]?.metrics[metric]
    if (a !== undefined && b !== undefined && Number.isFinite(a) && Number.isFinite(b)) per.push(a / b)
  }
  return median(per)
}

/** Section 9 of `RESULTS.md`: throughput with encryption on and off, and what it costs. */
export function renderEncryption(
  cfg: EncryptionConfig,
  m: Map<string, TaskResult[]>,
  p: (s?: string) => void,
): void {
  p('## 9. Encryption at rest: its cost')
  p()
  p(
    `Records of ${cfg.sizes.join(' and ')} bytes with keys spread over ${fmt(SUBJECTS)} data subjects (so ${fmt(SUBJECTS)} data keys), written to a plain log`,
  )
  p(
    "and to an encrypted one (`encryption: { keyring: localKeyring(...) }`: AES-256-GCM per record under its subject's key,",
  )
  p(
    `a random nonce each). Append: \`'background'\` \`appendBatch\` of ${BATCH}, ${fmt(cfg.appendRecords)} records into a fresh log (which creates its`,
  )
  p(
    `data keys), after a warm-up into a scratch log. Replay: \`replayFrom(0)\` of ${fmt(cfg.replayRecords)} records (no serializer: data as bytes,`,
  )
  p(
    'opened when sealed), after a warm-up pass over the first tenth. Both systems in every run, in alternating order; the',
  )
  p(
    'cost is 1 − encrypted ÷ plain computed within each run, then the median. Target (issue 17): at most 30%.',
  )
  p()
  p(
    '| workload | record size | plain, records/s | encrypted, records/s | cost of encryption | target ≤ 30% | bytes a record on disk, plain → encrypted |',
  )
  p('|---|--:|--:|--:|--:|---|--:|')
  for (const size of cfg.sizes) {
    const prep = m.get(`encryption|prepare|${size}`)?.[0]?.metrics ?? {}
    const perRecord = (s: System) => fmt((prep[`write.${s}.diskBytes`] ?? Number.NaN) / cfg.replayRecords, 1)
    for (const [workload, name] of [
      ['append', "`'background'` `appendBatch`"],
      ['replay', '`replayFrom(0)`'],
    ] as const) {
      const key = (s: System) => `encryption|${workload}|${size}|${s}`
      const cost = 1 - kept(m, key('encrypted'), key('plain'), 'recordsPerSec')
      p(
        `| ${name} | ${size} B | ${fmt(med(m, key('plain'), 'recordsPerSec'))} | ${fmt(med(m, key('encrypted'), 'recordsPerSec'))} | ${fmt(cost * 100, 1)}% (${fmtRatio(1 - cost)} of plain) | ${cost <= 0.3 ? 'met' : '**not met**'} | ${perRecord('plain')} → ${perRecord('encrypted')} |`,
      )
    }
  }
  p()
}
