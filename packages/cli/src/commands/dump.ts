import { readRawFrames } from '@waltz/core/inspect'
import { type Command, seqValue } from '../lib/command.js'
import { EXIT, usageError } from '../lib/errors.js'
import { walSegments } from '../lib/logdir.js'
import { RECORD_OPTIONS, RECORD_OPTIONS_HELP, RecordPrinter, recordOptions } from '../lib/records.js'

export const dump: Command = {
  name: 'dump',
  summary: 'print records, decoded with the serializer package (streams; read-only, no lock)',
  help: `Usage: waltz dump <dir> [--from N] [--to N] [--format ndjson|table|hex]
                  [--serializer auto|bytes|binary|json|proto|raw] [--proto FILE] [--structures FILE]

Prints the records of the log in <dir>, in seq order. Reads frame by frame in constant memory, takes
no lock and writes nothing, so it is safe on a live log (it stops at the last committed record).

Options:
  --from N                    first seq to print (default: the first stored)
  --to N                      last seq to print (default: the last committed)
${RECORD_OPTIONS_HELP}
  -h, --help                  this help

Exit codes: 0 ok; 1 a corrupt frame (printed with file and offset) or records that did not decode;
2 usage; 3 not a WAL directory; 5 I/O error.`,
  options: { from: { type: 'string' }, to: { type: 'string' }, ...RECORD_OPTIONS },

  async run({ dir, values, io, out, err }) {
    const from = seqValue(values, 'from', 'dump')
    const to = seqValue(values, 'to', 'dump')
    if (from !== undefined && to !== undefined && to < from) throw usageError('--to is below --from', 'dump')
    const { format, decode } = recordOptions(values, 'dump')
    await walSegments(dir)
    const printer = new RecordPrinter(out, format, decode, err, io.stdout.columns ?? 120)
    const range = { ...(from === undefined ? {} : { from }), ...(to === undefined ? {} : { to }) }
    for await (const frame of readRawFrames(dir, range)) {
      printer.print(frame)
      await out.maybeFlush()
      if (out.closed) break
    }
    if (printer.failures > 0) {
      err.line(`${printer.failures} record(s) could not be decoded (printed with their error)`)
      return EXIT.problems
    }
    return EXIT.ok
  },
}
