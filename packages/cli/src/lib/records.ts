import { type RawRecord, sealedKeyId } from '@waltz/core'
import { choiceValue, stringValue, type Values } from './command.js'
import { type DataDecoder, type DecodeOptions, SERIALIZER_CHOICES } from './decode.js'
import { formatBytes, isoTime, truncate } from './format.js'
import type { Output } from './io.js'
import { hexDump, stringify, toHex } from './json.js'

/** The `--format` choices. */
export const FORMAT_CHOICES = ['ndjson', 'table', 'hex'] as const
export type RecordFormat = (typeof FORMAT_CHOICES)[number]

/** The options `dump` and `tail` share. */
export const RECORD_OPTIONS = {
  format: { type: 'string' },
  serializer: { type: 'string' },
  proto: { type: 'string' },
  structures: { type: 'string' },
} as const

/** Their `--help` lines. */
export const RECORD_OPTIONS_HELP = `  --format ndjson|table|hex   output format (default ndjson):
                                ndjson  one JSON object a line: seq, type, time (ISO), timeMs,
                                        key, headers, then data (or its size and hex)
                                table   aligned columns, cut to the terminal width
                                hex     seq, type, key, headers, then a hex dump of the stored data
  --serializer NAME           auto|bytes|binary|json|proto|raw (default auto: by the serializer
                              name in the log); raw shows data as hex, undecoded
  --proto FILE                a .proto file whose message types decode protobuf data
                              (matched to record types by message name); without it, hex
  --structures FILE           the shared structures file of a shared-structures msgpackr log`

/** Reads the shared options. */
export function recordOptions(
  values: Values,
  command: string,
): { format: RecordFormat; decode: DecodeOptions } {
  return {
    format: choiceValue(values, 'format', FORMAT_CHOICES, 'ndjson', command),
    decode: {
      serializer: choiceValue(values, 'serializer', SERIALIZER_CHOICES, 'auto', command),
      proto: stringValue(values, 'proto'),
      structures: stringValue(values, 'structures'),
    },
  }
}

const TABLE_HEADER = ['SEQ', 'TIME', 'TYPE', 'KEY', 'HEADERS', 'DATA'] as const
/** Widths of the table's columns but DATA: fixed, so the table streams. */
const WIDTHS: readonly number[] = [8, 24, 18, 14, 18]
const FIXED_WIDTH = WIDTHS.reduce((n, w) => n + w + 2, 0)

/** The envelope of a record in the JSON form; `key` and `headers` drop out when absent. */
function envelope(record: RawRecord) {
  const { seq, type, time, key, headers } = record
  return { seq, type, time: isoTime(time), timeMs: time, key, headers }
}

/**
 * What stands for the data of a record whose data is not shown: sealed (an encrypted log read without
 * its master key) or shredded (its data key destroyed). Neither is a decoding failure.
 */
function hiddenData(record: RawRecord): { json: Record<string, unknown>; text: string } | undefined {
  if (record.shredded === true) {
    return { json: { shredded: true }, text: '(shredded: its data key was destroyed)' }
  }
  if (record.encrypted !== true) return undefined
  let keyId: string | undefined
  try {
    keyId = sealedKeyId(record)
  } catch {
    keyId = undefined // a malformed sealed field: its size still says what is there
  }
  const size = record.data.byteLength
  return {
    json: { encrypted: true, ...(keyId === undefined ? {} : { keyId }), size },
    text: `(encrypted${keyId === undefined ? '' : ` with key ${keyId}`}, ${formatBytes(size)}; give the master key to see it)`,
  }
}

/**
 * Prints records in one of the formats: the envelope as core read it, then the data decoded when
 * the decoder handles the record's type, else its size and hex. Data that does not decode is
 * printed with the error (and counted in {@link RecordPrinter.failures}); printing goes on. Sealed
 * data (an encrypted log read without its master key) is printed as encrypted, with its key id, and
 * shredded data as shredded: neither is a failure.
 */
export class RecordPrinter {
  /** Records whose data failed to decode. */
  failures = 0
  private headerDone = false

  constructor(
    private readonly out: Output,
    private readonly format: RecordFormat,
    private readonly decoder: DataDecoder | null,
    private readonly width: number,
  ) {}

  print(record: RawRecord): void {
    const hidden = hiddenData(record)
    if (hidden !== undefined && (record.shredded === true || this.format !== 'hex')) {
      this.printHidden(record, hidden)
      return
    }
    if (this.format === 'hex') {
      this.hex(record)
      return
    }
    let decoded: { data: unknown } | null = null
    let error: string | null = null
    if (this.decoder?.handles(record.type)) {
      try {
        decoded = { data: this.decoder.decode(record.data, record.type) }
      } catch (err) {
        this.failures++
        error = err instanceof Error ? err.message : String(err)
      }
    }
    if (this.format === 'ndjson') this.out.line(this.ndjson(record, decoded, error))
    else this.table(record, decoded, error)
  }

  private printHidden(record: RawRecord, hidden: { json: Record<string, unknown>; text: string }): void {
    if (this.format === 'ndjson') {
      this.out.line(stringify({ ...envelope(record), ...hidden.json }))
    } else if (this.format === 'table') {
      this.tableRow(record, hidden.text)
    } else {
      this.out.line(`${this.hexHead(record)}  ${hidden.text}`)
    }
  }

  private hexHead(record: RawRecord): string {
    const { seq, type, key, headers } = record
    const parts = [`seq ${seq}`, `type ${type}`]
    if (key !== undefined) parts.push(`key ${key}`)
    if (headers !== undefined) parts.push(`headers ${stringify(headers)}`)
    return parts.join('  ')
  }

  private hex(record: RawRecord): void {
    const data = record.data
    this.out.line(`${this.hexHead(record)}  (${formatBytes(data.byteLength)})`)
    for (const line of hexDump(data)) this.out.line(line)
  }

  private ndjson(record: RawRecord, decoded: { data: unknown } | null, error: string | null): string {
    if (decoded !== null) return stringify({ ...envelope(record), data: decoded.data })
    const stored = { size: record.data.byteLength, hex: toHex(record.data) }
    return stringify({ ...envelope(record), ...(error === null ? {} : { error }), ...stored })
  }

  private table(record: RawRecord, decoded: { data: unknown } | null, error: string | null): void {
    const data =
      decoded !== null
        ? stringify(decoded.data)
        : error !== null
          ? `(decode error) ${error}`
          : `(${formatBytes(record.data.byteLength)}) ${toHex(record.data.subarray(0, 256))}`
    this.tableRow(record, data)
  }

  private tableRow(record: RawRecord, data: string): void {
    if (!this.headerDone) {
      this.headerDone = true
      this.out.line(this.row(TABLE_HEADER))
    }
    const { seq, time, type, key, headers } = record
    const when = isoTime(time) ?? String(time)
    this.out.line(this.row([String(seq), when, type, key ?? '-', headers ? stringify(headers) : '-', data]))
  }

  private row(cells: readonly string[]): string {
    const dataWidth = Math.max(20, this.width - FIXED_WIDTH)
    return cells
      .map((cell, i) => {
        const width = WIDTHS[i]
        if (width === undefined) return truncate(cell, dataWidth)
        return i === 0 ? cell.padStart(width) : truncate(cell, width).padEnd(width)
      })
      .join('  ')
      .trimEnd()
  }
}
