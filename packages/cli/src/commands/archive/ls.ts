import { listSegments } from '../../lib/archive-listing.js'
import { ARCHIVE_OPTIONS, ARCHIVE_OPTIONS_HELP, openArchive } from '../../lib/archive-location.js'
import type { Command } from '../../lib/command.js'
import { EXIT } from '../../lib/errors.js'
import { columns, formatBytes } from '../../lib/format.js'
import { formatSeqRange } from '../../lib/seq-range.js'

const NAME = 'archive ls'

/** `waltz archive ls`: the archived segments and the seq ranges their names give. */
export const archiveLs: Command = {
  name: NAME,
  summary: 'list the archived segments, oldest first: name, seq range, size',
  help: `Usage: waltz archive ls --archive LOCATION [--json] [--endpoint URL] [--region REGION] [--path-style]

Lists the segments in the archive, oldest first: file name, seq range and size, then totals. Reads
only the archive's listing (nothing is downloaded), so the seq ranges come from the names: a segment
holds its first seq up to the next segment's first seq − 1, and the newest one's end is open (\`N..\`).
A segment missing from the middle is not seen here: \`waltz archive verify\` reads every segment.

Options:
${ARCHIVE_OPTIONS_HELP}
  --json              print one JSON object: archive, segments [{ name, firstSeq, lastSeq (null for
                      the newest), size }], totals
  -h, --help          this help

Exit codes: 0 listed; 2 usage; 3 the archive directory is missing, or the archive holds no segment;
5 the archive failed the request (network, credentials, permissions).`,
  options: { ...ARCHIVE_OPTIONS, json: { type: 'boolean' } },
  operand: null,

  async run({ values, io, out, err }) {
    const { archive, close } = await openArchive(values, NAME)
    try {
      const signal = io.signal ?? new AbortController().signal
      const segments = await listSegments(archive, signal, (message) => err.line(message))
      const bytes = segments.reduce((n, s) => n + s.size, 0)
      const first = segments[0]!.firstSeq
      if (values.json === true) {
        out.line(
          JSON.stringify({
            archive: archive.name,
            segments: segments.map((s) => ({ ...s, lastSeq: s.lastSeq ?? null })),
            totals: { segments: segments.length, bytes, firstSeq: first },
          }),
        )
        return EXIT.ok
      }
      const rows = segments.map((s) => [s.name, formatSeqRange(s.firstSeq, s.lastSeq), formatBytes(s.size)])
      for (const line of columns([['SEGMENT', 'SEQS', 'SIZE'], ...rows], [2])) out.line(line)
      out.line(
        `${segments.length} segment(s), ${formatBytes(bytes)}, seq ${formatSeqRange(first, undefined)} in ${archive.name}`,
      )
      return EXIT.ok
    } finally {
      close()
    }
  },
}
