import { readdir, readFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import type { LogReport } from '@waltz/core/inspect'
import { decodeSnapshot, parseSnapshotFileName } from '@waltz/snapshot'
import { type Command, DIR_OPERAND, stringValue, type Values } from '../lib/command.js'
import { chooseDecoder } from '../lib/decode.js'
import { CliError, EXIT } from '../lib/errors.js'
import { formatBytes, formatDuration } from '../lib/format.js'
import type { Output } from '../lib/io.js'
import { openLog, scanWal } from '../lib/logdir.js'
import { ProgressBar } from '../lib/progress.js'
import { describeProblem, describeTornTail, summarize } from '../lib/report.js'

/** How many decode failures are listed one by one (all are counted). */
const MAX_LISTED = 20

/** Decodes the data of every record with the serializer the log names; lists failures. */
async function checkDecoding(
  dir: string,
  values: Values,
  out: Output,
  err: Output,
  progress: ProgressBar,
  total: number,
): Promise<number> {
  const reader = await openLog(dir)
  try {
    const options = {
      serializer: 'auto',
      proto: stringValue(values, 'proto'),
      structures: stringValue(values, 'structures'),
    } as const
    const decoder = chooseDecoder(options, reader.serializerName, (message) => err.line(message))
    if (decoder === null) return 0
    let failures = 0
    let done = 0
    for await (const record of reader.recordsRaw()) {
      if (++done % 1024 === 0) progress.update(done, total, `${done}/${total} records decoded`)
      if (!decoder.handles(record.type)) continue
      try {
        decoder.decode(record.data, record.type)
      } catch (e) {
        if (++failures > MAX_LISTED) continue
        progress.clear()
        out.line(`UNDECODABLE  seq ${record.seq}  type ${record.type}: ${(e as Error).message}`)
      }
    }
    if (failures > MAX_LISTED) out.line(`… and ${failures - MAX_LISTED} more undecodable record(s)`)
    return failures
  } finally {
    await reader.close()
  }
}

/** Checks every snapshot file of `snapshotDir` and that the newest valid one fits the log. */
async function checkSnapshots(snapshotDir: string, report: LogReport, out: Output): Promise<number> {
  let names: string[]
  try {
    names = await readdir(snapshotDir)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw CliError.NOT_FOUND(`snapshot directory ${snapshotDir} does not exist`)
    }
    throw e
  }
  const files = names
    .map((name) => ({ name, seq: parseSnapshotFileName(name) }))
    .filter((f): f is { name: string; seq: number } => f.seq !== undefined)
    .sort((a, b) => a.seq - b.seq)
  out.line(`snapshots ${snapshotDir}: ${files.length} file(s)`)
  const { firstSeq, lastSeq } = summarize(report)
  let problems = 0
  let newestValid: number | undefined
  for (const { name } of files) {
    const path = join(snapshotDir, name)
    try {
      const contents = decodeSnapshot(await readFile(path), path)
      if (contents.seq > lastSeq) {
        problems++
        out.line(`  AHEAD    ${name}: seq ${contents.seq} is past the log's last seq ${lastSeq}`)
        continue
      }
      newestValid = contents.seq
      out.line(
        `  ok       ${name}  seq ${contents.seq}  codec ${contents.codec}  ${formatBytes(contents.state.byteLength)}`,
      )
    } catch (e) {
      problems++
      const message = (e as Error).message
      out.line(`  CORRUPT  ${message.includes(path) ? message : `${path}: ${message}`}`)
    }
  }
  if (newestValid !== undefined && newestValid < firstSeq - 1) {
    problems++
    out.line(
      `  GAP      the log starts at seq ${firstSeq}: records ${newestValid + 1}..${firstSeq - 1} after the newest valid snapshot are gone`,
    )
  }
  return problems
}

export const verify: Command = {
  name: 'verify',
  summary: 'check every frame of every segment (and snapshots); exit 1 on any problem',
  help: `Usage: waltz verify <dir> [--snapshots DIR] [--decode [--proto FILE] [--structures FILE]]
                    [--strict] [--no-progress]

Checks every frame of every segment of the log in <dir> (\`@waltz/core/inspect\`'s scanner: header,
length, seq chain, checksum and batch chain) and the seq chain across segments. Every segment the
scanner judges corrupt, and every seq gap, is a problem, printed with its file, offset and code.
Read-only, no lock: safe on a live log. Shows a progress bar on stderr when stdout and stderr are
terminals.

A torn tail of the newest segment (a crash mid-write, or a write in progress) is reported as a warning:
no acknowledged record is in it, and the next writer open cuts it. --strict counts it as a problem.

Options:
  --snapshots DIR   also check every snapshot file (snapshot-<seq>.snap) in DIR: checksum and layout,
                    not past the log's end, and no gap between the newest valid one and the log
  --decode          also decode every record's data with the serializer the log names
  --proto FILE      with --decode: message types for protobuf data (without it, not decoded)
  --structures FILE with --decode: the structures file of a shared-structures msgpackr log
  --strict          a torn tail is a problem too
  --no-progress     never draw the progress bar
  -h, --help        this help

Exit codes: 0 no problems; 1 problems found (each printed with file and offset); 2 usage;
3 not a WAL directory (or --snapshots DIR missing); 5 I/O error.`,
  options: {
    snapshots: { type: 'string' },
    decode: { type: 'boolean' },
    proto: { type: 'string' },
    structures: { type: 'string' },
    strict: { type: 'boolean' },
    'no-progress': { type: 'boolean' },
  },
  operand: DIR_OPERAND,

  async run({ operand: dir, values, io, out, err, now }) {
    const started = now()
    const enabled = values['no-progress'] !== true && io.stdout.isTTY === true && io.stderr.isTTY === true
    const progress = new ProgressBar(io.stderr, 'verify', enabled)
    let bytes = 0
    const report = await scanWal(dir, {
      onSegment: (segment, index, count) => {
        bytes += segment.size
        progress.update(index + 1, count, `${formatBytes(bytes)}  ${index + 1}/${count} segments`)
      },
    })
    progress.clear()
    const sum = summarize(report)
    out.line(`verifying ${dir}: ${report.segments.length} segment(s), ${formatBytes(sum.bytes)}`)
    let problems = 0
    for (const c of report.corruption) {
      problems++
      out.line(`CORRUPT  ${c.file} ${describeProblem(c)}`)
    }
    if (sum.tornTail) {
      if (values.strict === true) problems++
      out.line(
        `${values.strict === true ? 'TORN' : 'warning:'} ${describeTornTail(sum.tornTail, report.lock)}`,
      )
    }
    if (values.decode === true && report.corruption.length === 0) {
      const decodeBar = new ProgressBar(io.stderr, 'decode', enabled)
      problems += await checkDecoding(dir, values, out, err, decodeBar, sum.records)
      decodeBar.clear()
    }
    const snapshotDir = stringValue(values, 'snapshots')
    if (snapshotDir !== undefined) problems += await checkSnapshots(snapshotDir, report, out)
    const range =
      sum.records === 0 ? 'no records' : `${sum.records} records (seq ${sum.firstSeq}..${sum.lastSeq})`
    const took = formatDuration(now() - started).replace(/^0s$/, '<1s')
    if (problems === 0) {
      out.line(
        `OK: ${report.segments.length} segment(s), ${range}, ${formatBytes(sum.bytes)} verified in ${took}`,
      )
      return EXIT.ok
    }
    out.line(`FAILED: ${problems} problem(s) in ${basename(dir)} (${range})`)
    return EXIT.problems
  },
}
