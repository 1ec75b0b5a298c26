import { readdir, readFile } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { type LogReport, readRawFrames, scanLog } from '@waltz/core/inspect'
import { decodeSnapshot, parseSnapshotFileName } from '@waltz/snapshot'
import { type Command, stringValue } from '../lib/command.js'
import { Decoders } from '../lib/decode.js'
import { CliError, EXIT } from '../lib/errors.js'
import { formatBytes, formatDuration } from '../lib/format.js'
import type { Output } from '../lib/io.js'
import { walSegments } from '../lib/logdir.js'
import { ProgressBar } from '../lib/progress.js'
import { describeTornTail, summarize } from '../lib/report.js'

/** How many decode failures are listed one by one (all are counted). */
const MAX_LISTED = 20

/** Decodes every record with the serializer its header names; lists failures. */
async function checkDecoding(
  dir: string,
  values: Record<string, string | boolean | undefined>,
  out: Output,
  err: Output,
  progress: ProgressBar,
): Promise<number> {
  const decoders = new Decoders(
    {
      serializer: 'auto',
      proto: stringValue(values, 'proto'),
      structures: stringValue(values, 'structures'),
    },
    (message) => err.line(message),
  )
  let failures = 0
  let done = 0
  for await (const frame of readRawFrames(dir)) {
    try {
      decoders.for(frame.serializerName)?.decode(frame.payload)
    } catch (e) {
      if (++failures <= MAX_LISTED) {
        progress.clear()
        out.line(
          `UNDECODABLE  seq ${frame.seq}  ${frame.file} offset ${frame.offset}: ${(e as Error).message}`,
        )
      }
    }
    if (++done % 1024 === 0) progress.update(done, 'records decoded')
  }
  if (failures > MAX_LISTED) out.line(`… and ${failures - MAX_LISTED} more undecodable record(s)`)
  return failures
}

/** Checks every snapshot file of `snapshotDir` and that the newest valid one fits the log. */
async function checkSnapshots(snapshotDir: string, report: LogReport, out: Output): Promise<number> {
  let names: string[]
  try {
    names = await readdir(snapshotDir)
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new CliError(EXIT.notWal, 'NOT_FOUND', `snapshot directory ${snapshotDir} does not exist`)
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

Checks every frame of every segment of the log in <dir>: header, length, seq chain, checksum and
batch chain, and the seq chain across segments. Prints each problem with its file and offset. Read-only,
no lock: safe on a live log. Shows a progress bar on stderr when stdout and stderr are terminals.

A torn tail of the newest segment (a crash mid-write, or a write in progress) is reported as a warning:
no acknowledged record is in it, and the next writer open cuts it. --strict counts it as a problem.

Options:
  --snapshots DIR   also check every snapshot file (snapshot-<seq>.snap) in DIR: checksum and layout,
                    not past the log's end, and no gap between the newest valid one and the log
  --decode          also decode every record with the serializer named in its segment header
  --proto FILE      with --decode: message types for waltz-protobuf/1 data
  --structures FILE with --decode: the structures file of a waltz-msgpackr-shared/1 log
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

  async run({ dir, values, io, out, err, now }) {
    const started = now()
    const segments = await walSegments(dir)
    const total = segments.reduce((n, s) => n + s.size, 0)
    const enabled = values['no-progress'] !== true && io.stdout.isTTY === true && io.stderr.isTTY === true
    const progress = new ProgressBar(io.stderr, 'verify', total, enabled)
    let done = 0
    const report = await scanLog(dir, {
      onSegment: (segment, index, count) => {
        done += segment.size
        progress.update(done, `${index + 1}/${count} segments`)
      },
    })
    progress.clear()
    const sum = summarize(report)
    out.line(`verifying ${dir}: ${report.segments.length} segment(s), ${formatBytes(sum.bytes)}`)
    let problems = 0
    for (const c of report.corruption) {
      problems++
      out.line(`CORRUPT  ${c.file} offset ${c.offset}: ${c.reason}`)
    }
    if (sum.tornTail) {
      if (values.strict === true) problems++
      out.line(
        `${values.strict === true ? 'TORN' : 'warning:'} ${describeTornTail(sum.tornTail, report.lock)}`,
      )
    }
    if (values.decode === true && report.corruption.length === 0) {
      const decodeBar = new ProgressBar(io.stderr, 'decode', sum.records, enabled, (n) => `${n}`)
      problems += await checkDecoding(dir, values, out, err, decodeBar)
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
