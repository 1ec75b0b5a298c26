import { type Command, DIR_OPERAND, seqValue, stringValue } from '../lib/command.js'
import { chooseDecoder } from '../lib/decode.js'
import { EXIT, usageError } from '../lib/errors.js'
import { openLog } from '../lib/logdir.js'
import { MASTER_KEY_OPTIONS, MASTER_KEY_OPTIONS_HELP, masterKeyring } from '../lib/master-key.js'
import { RECORD_OPTIONS, RECORD_OPTIONS_HELP, RecordPrinter, recordOptions } from '../lib/records.js'

export const tail: Command = {
  name: 'tail',
  summary: 'print the last records, and with -f follow new ones as they are written',
  help: `Usage: waltz tail <dir> [-n N | --from N] [-f] [--format ndjson|table|hex]
                  [--serializer auto|bytes|binary|json|proto|raw] [--proto FILE] [--structures FILE]
                  [--master-key-file FILE | --master-key-env NAME]

Prints the last N records of the log in <dir>, as \`waltz dump\` does; with -f keeps running and prints
records as a writer commits them (a read-only reader, no lock: polls every 100 ms), across segment
rotations, until interrupted (Ctrl-C) or the reader of its output goes away.

Options:
  -n, --lines N               how many of the last records to print first (default 10; 0 for none)
  --from N                    start at this seq instead
  -f, --follow                keep printing new records
${RECORD_OPTIONS_HELP}
${MASTER_KEY_OPTIONS_HELP}
  -h, --help                  this help

Exit codes: 0 ok (also when stopped by SIGINT/SIGTERM); 1 a corrupt frame; 2 usage;
3 not a WAL directory; 5 I/O error.`,
  options: {
    lines: { type: 'string', short: 'n' },
    from: { type: 'string' },
    follow: { type: 'boolean', short: 'f' },
    ...RECORD_OPTIONS,
    ...MASTER_KEY_OPTIONS,
  },
  operand: DIR_OPERAND,

  async run({ operand: dir, values, io, out, err }) {
    const linesText = stringValue(values, 'lines')
    if (linesText !== undefined && !/^\d+$/.test(linesText)) {
      throw usageError(`--lines must be a non-negative integer, got '${linesText}'`, 'tail')
    }
    const fromOption = seqValue(values, 'from', 'tail')
    if (fromOption !== undefined && linesText !== undefined)
      throw usageError('give -n or --from, not both', 'tail')
    const { format, decode } = recordOptions(values, 'tail')
    const follow = values.follow === true
    const keyring = await masterKeyring(values, 'tail')
    const reader = await openLog(dir, keyring)
    const stop = new AbortController()
    const abort = () => stop.abort()
    io.signal?.addEventListener('abort', abort, { once: true })
    try {
      const decoder = chooseDecoder(decode, reader.serializerName, (message) => err.line(message))
      await err.flush()
      const printer = new RecordPrinter(out, format, decoder, io.stdout.columns ?? 120)
      const lastSeq = reader.lastSeq
      const from = fromOption ?? Math.max(reader.firstSeq, lastSeq - Number(linesText ?? 10) + 1)
      if (!follow && from > lastSeq) return EXIT.ok
      const records =
        keyring === undefined
          ? follow
            ? reader.tailRaw({ from, signal: stop.signal })
            : reader.recordsRaw({ from, to: lastSeq })
          : follow
            ? reader.tail({ from, signal: stop.signal })
            : reader.records({ from, to: lastSeq })
      for await (const record of records) {
        printer.print(record)
        if (follow) await out.flush()
        else await out.maybeFlush()
        if (out.closed || stop.signal.aborted) break
      }
      return printer.failures > 0 ? EXIT.problems : EXIT.ok
    } finally {
      io.signal?.removeEventListener('abort', abort)
      await reader.close()
    }
  },
}
