import { basename } from 'node:path'
import { scanLog } from '@waltz/core/inspect'
import type { Command } from '../lib/command.js'
import { EXIT } from '../lib/errors.js'
import { columns, formatBytes, formatDuration } from '../lib/format.js'
import { walSegments } from '../lib/logdir.js'
import { describeLock, describeTornTail, summarize } from '../lib/report.js'

export const inspect: Command = {
  name: 'inspect',
  summary: 'segments, seq ranges, sizes, ages, serializer, lock holder, torn-tail status',
  help: `Usage: waltz inspect <dir> [--json]

Describes the log in <dir>: each segment's seq range, record count, size, age and serializer, the
writer lock's holder, and whether the newest segment ends in a torn tail. Reads every frame (no lock,
nothing written; safe on a live log). Corruption is summarized; \`waltz verify\` lists it in detail.

Options:
  --json       print the scan as one JSON object instead
  -h, --help   this help

Exit codes: 0 described (even when damage was found: use verify to check); 2 usage;
3 not a WAL directory; 5 I/O error.`,
  options: { json: { type: 'boolean' } },

  async run({ dir, values, out, now }) {
    await walSegments(dir)
    const report = await scanLog(dir)
    const sum = summarize(report)
    if (values.json === true) {
      out.line(JSON.stringify({ ...report, summary: sum }))
      return EXIT.ok
    }
    const status =
      report.corruption.length > 0
        ? `CORRUPT: ${report.corruption.length} problem(s), first in ${report.corruption[0]!.file} at offset ${report.corruption[0]!.offset} (run \`waltz verify\`)`
        : sum.tornTail
          ? describeTornTail(sum.tornTail, report.lock)
          : 'clean'
    const range =
      sum.records === 0
        ? 'none'
        : report.corruption.length > 0
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
    const rows = report.segments.map((s) => {
      const state = s.problem
        ? `${s.newest ? 'newest, torn tail' : 'CORRUPT'} at ${s.problem.offset}: ${s.problem.reason}`
        : s.newest
          ? 'newest'
          : 'sealed'
      return [
        basename(s.file),
        String(s.firstSeq),
        String(s.lastSeq),
        String(s.frames),
        formatBytes(s.size),
        s.createdAt === null ? '?' : formatDuration(now() - s.createdAt),
        s.serializerName ?? '?',
        state,
      ]
    })
    const header = ['SEGMENT', 'FIRST', 'LAST', 'RECORDS', 'SIZE', 'AGE', 'SERIALIZER', 'STATUS']
    for (const line of columns([header, ...rows], [1, 2, 3, 4, 5])) out.line(line)
    const gaps = report.corruption.filter((c) => c.reason.startsWith('seq gap'))
    for (const gap of gaps) out.line(`CORRUPT ${gap.file}: ${gap.reason}`)
    return EXIT.ok
  },
}
