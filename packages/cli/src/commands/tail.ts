import { type Serializer, Wal } from '@waltz/core'
import { type Command, seqValue, stringValue } from '../lib/command.js'
import { EXIT, usageError } from '../lib/errors.js'
import { logSerializerName, walSegments } from '../lib/logdir.js'
import { RECORD_OPTIONS, RECORD_OPTIONS_HELP, RecordPrinter, recordOptions } from '../lib/records.js'

/**
 * Hands payloads through undecoded, under the log's own serializer name (so the read-only `Wal`
 * accepts the log); the CLI decodes them itself, as `dump` does.
 */
function passThrough(name: string): Serializer<string, Uint8Array> {
  return {
    name,
    encode: () => {
      throw new Error('waltz tail never writes')
    },
    decode: (bytes) => ({ type: '', time: 0, data: bytes }),
  }
}

export const tail: Command = {
  name: 'tail',
  summary: 'print the last records, and with -f follow new ones as they are written',
  help: `Usage: waltz tail <dir> [-n N | --from N] [-f] [--format ndjson|table|hex]
                  [--serializer auto|bytes|binary|json|proto|raw] [--proto FILE] [--structures FILE]

Prints the last N records of the log in <dir>; with -f keeps running and prints records as a writer
commits them (read-only, no lock: polls every 100 ms), across segment rotations, until interrupted
(Ctrl-C) or the reader of its output goes away.

Options:
  -n, --lines N               how many of the last records to print first (default 10; 0 for none)
  --from N                    start at this seq instead
  -f, --follow                keep printing new records
${RECORD_OPTIONS_HELP}
  -h, --help                  this help

Exit codes: 0 ok (also when stopped by SIGINT/SIGTERM); 1 a corrupt frame; 2 usage;
3 not a WAL directory; 5 I/O error.`,
  options: {
    lines: { type: 'string', short: 'n' },
    from: { type: 'string' },
    follow: { type: 'boolean', short: 'f' },
    ...RECORD_OPTIONS,
  },

  async run({ dir, values, io, out, err }) {
    const linesText = stringValue(values, 'lines')
    if (linesText !== undefined && !/^\d+$/.test(linesText)) {
      throw usageError(`--lines must be a non-negative integer, got '${linesText}'`, 'tail')
    }
    const fromOption = seqValue(values, 'from', 'tail')
    if (fromOption !== undefined && linesText !== undefined)
      throw usageError('give -n or --from, not both', 'tail')
    const { format, decode } = recordOptions(values, 'tail')
    const follow = values.follow === true
    const name = await logSerializerName(await walSegments(dir))
    const wal = await Wal.open({ dir, readOnly: true, serializer: passThrough(name) })
    const printer = new RecordPrinter(out, format, decode, err, io.stdout.columns ?? 120)
    const stop = new AbortController()
    const abort = () => stop.abort()
    io.signal?.addEventListener('abort', abort, { once: true })
    try {
      const lastSeq = wal.lastSeq
      const from = fromOption ?? Math.max(wal.firstSeq, lastSeq - Number(linesText ?? 10) + 1)
      const records = follow ? wal.tail({ from, signal: stop.signal }) : wal.records({ from, to: lastSeq })
      if (!follow && from > lastSeq) return EXIT.ok
      for await (const record of records) {
        printer.print({ seq: record.seq, payload: record.data, serializerName: name })
        if (follow) await out.flush()
        else await out.maybeFlush()
        if (out.closed || stop.signal.aborted) break
      }
    } finally {
      io.signal?.removeEventListener('abort', abort)
      await wal.close()
    }
    return printer.failures > 0 ? EXIT.problems : EXIT.ok
  },
}
