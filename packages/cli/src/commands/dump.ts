import { type Command, DIR_OPERAND, seqValue } from '../lib/command.js'
import { chooseDecoder } from '../lib/decode.js'
import { EXIT, usageError } from '../lib/errors.js'
import { openLog } from '../lib/logdir.js'
import { MASTER_KEY_OPTIONS, MASTER_KEY_OPTIONS_HELP, masterKeyring } from '../lib/master-key.js'
import { RECORD_OPTIONS, RECORD_OPTIONS_HELP, RecordPrinter, recordOptions } from '../lib/records.js'

export const dump: Command = {
  name: 'dump',
  summary: 'print records: seq, time, type, key, headers and data (read-only, no lock)',
  help: `Usage: waltz dump <dir> [--from N] [--to N] [--format ndjson|table|hex]
                  [--serializer auto|bytes|binary|json|proto|raw] [--proto FILE] [--structures FILE]
                  [--master-key-file FILE | --master-key-env NAME]

Prints the records of the log in <dir>, in seq order: each record's seq, time, type, key and headers
(read by core, whatever the serializer), and its data decoded when the CLI can decode it, else its
size and hex. Streams in constant memory, takes no lock and writes nothing, so it is safe on a live
log (it stops at the last committed record). The data of an encrypted log is shown as encrypted, with
its key id, unless the master key is given; shredded data is shown as shredded.

Options:
  --from N                    first seq to print (default: the first stored)
  --to N                      last seq to print (default: the last committed)
${RECORD_OPTIONS_HELP}
${MASTER_KEY_OPTIONS_HELP}
  -h, --help                  this help

Exit codes: 0 ok; 1 a corrupt frame (printed with file and offset), data that did not decode or
sealed data that does not authenticate; 2 usage; 3 not a WAL directory; 5 I/O error, or a master
key that does not open the log (WAL_KEYRING).`,
  options: { from: { type: 'string' }, to: { type: 'string' }, ...RECORD_OPTIONS, ...MASTER_KEY_OPTIONS },
  operand: DIR_OPERAND,

  async run({ operand: dir, values, io, out, err }) {
    const from = seqValue(values, 'from', 'dump')
    const to = seqValue(values, 'to', 'dump')
    if (from !== undefined && to !== undefined && to < from) throw usageError('--to is below --from', 'dump')
    const { format, decode } = recordOptions(values, 'dump')
    const keyring = await masterKeyring(values, 'dump')
    const reader = await openLog(dir, keyring)
    try {
      const decoder = chooseDecoder(decode, reader.serializerName, (message) => err.line(message))
      await err.flush()
      const printer = new RecordPrinter(out, format, decoder, io.stdout.columns ?? 120)
      const range = { ...(from === undefined ? {} : { from }), ...(to === undefined ? {} : { to }) }
      // With the master key, core opens sealed data (no serializer: the bytes); without it, raw reads
      // hand sealed data over as stored, marked encrypted.
      const records = keyring === undefined ? reader.recordsRaw(range) : reader.records(range)
      for await (const record of records) {
        printer.print(record)
        await out.maybeFlush()
        if (out.closed) break
      }
      if (printer.failures > 0) {
        err.line(`${printer.failures} record(s) could not be decoded (printed with their error)`)
        return EXIT.problems
      }
      return EXIT.ok
    } finally {
      await reader.close()
    }
  },
}
