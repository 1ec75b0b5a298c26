import { basename } from 'node:path'
import type { SegmentReport } from '@waltz/core/inspect'
import { type Command, DIR_OPERAND } from '../lib/command.js'
import { EXIT } from '../lib/errors.js'
import { columns, formatBytes, formatDuration } from '../lib/format.js'
import { scanWal } from '../lib/logdir.js'
import { describeLock, describeProblem, describeTornTail, summarize } from '../lib/report.js'

/** The STATUS column: the scanner's verdict, with the problem's offset, reason and code. */
function segmentStatus(s: SegmentReport): string {
  switch (s.verdict) {
    case 'clean':
      return s.newest ? 'newest' : 'sealed'
    case 'torn':
      return `newest, torn tail at ${describeProblem(s.problem!)}`
    case 'corrupt':
      return `CORRUPT at ${describeProblem(s.problem!)}`
  }
}

export const inspect: Command = {
  name: 'inspect',
  summary: 'segments, seq ranges, sizes, ages, serializer, lock holder, verdict of each segment',
  help: `Usage: waltz inspect <dir> [--json]

Describes the log in <dir>: each segment's seq range, record count, size, age, serializer and the
scanner's verdict (clean, torn: an incomplete last write of the newest segment, or corrupt), and the
writer lock's holder. Reads every frame (no lock, nothing written; safe on a live log). Corruption
is summarized; \`waltz verify\` lists it in detail.

Options:
  --json       print the scan as one JSON object instead
  -h, --help   this help

Exit codes: 0 described (even when damage was found: use verify to check); 2 usage;
3 not a WAL directory; 5 I/O error.`,
  options: { json: { type: 'boolean' } },
  operand: DIR_OPERAND,

  async run({ operand: dir, values, out, now }) {
    const report = await scanWal(dir)
    const sum = summarize(report)
    if (values.json === true) {
      out.line(JSON.stringify({ ...report, summary: sum }))
      return EXIT.ok
    }
    const first = report.corruption[0]
    const status = first
      ? `CORRUPT: ${report.corruption.length} problem(s), first in ${first.file} at ${describeProblem(first)} (run \`waltz verify\`)`
      : sum.tornTail
        ? describeTornTail(sum.tornTail, report.lock)
        : 'clean'
    const range =
      sum.records === 0
        ? 'none'
        : first
          ? `${sum.records} readable (the segments cover seq ${sum.firstSeq}..${sum.lastSeq})`
          : `${sum.records} (seq ${sum.firstSeq}..${sum.lastSeq})`
    for (const [key, value] of [
      ['log', dir],
      ['serializer', sum.names.join(', ') || 'unknown (no readable header)'],
      ['records', range],
      ['size', `${formatBytes(sum.bytes)} in ${report.segments.length} segment(s)`],
      ['lock', describeLock(report.lock)],
      ['status', status],
    ]) {
      out.line(`${key!.padEnd(11)}${value}`)
    }
    out.line()
    const rows = report.segments.map((s) => [
      basename(s.file),
      String(s.firstSeq),
      String(s.lastSeq),
      String(s.frames),
      formatBytes(s.size),
      s.createdAt === null ? '?' : formatDuration(now() - s.createdAt),
      s.serializerName ?? '?',
      segmentStatus(s),
    ])
    const header = ['SEGMENT', 'FIRST', 'LAST', 'RECORDS', 'SIZE', 'AGE', 'SERIALIZER', 'STATUS']
    for (const line of columns([header, ...rows], [1, 2, 3, 4, 5])) out.line(line)
    for (const gap of report.corruption.filter((c) => c.code === 'seq-gap')) {
      out.line(`CORRUPT ${gap.file} [${gap.code}]: ${gap.reason}`)
    }
    return EXIT.ok
  },
}
