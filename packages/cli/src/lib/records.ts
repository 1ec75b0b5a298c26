import { basename } from 'node:path'
import { choiceValue, stringValue, type Values } from './command.js'
import { type Decoded, type DecodeOptions, Decoders, SERIALIZER_CHOICES } from './decode.js'
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
                                ndjson  one JSON object a line: seq, type, time (ISO), timeMs, data
                                table   aligned columns, data cut to the terminal width
                                hex     seq, file and offset, then a hex dump of the stored payload
  --serializer NAME           auto|bytes|binary|json|proto|raw (default auto: by the serializer
                              name in the segment header); raw shows payload bytes undecoded
  --proto FILE                a .proto file whose message types decode waltz-protobuf/1 data
                              (matched to record types by message name)
  --structures FILE           the shared structures file of a waltz-msgpackr-shared/1 log`

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

/** A stored record to print: its payload and, when known, where it is. */
export interface StoredRecord {
  seq: number
  payload: Uint8Array
  serializerName: string
  file?: string
  offset?: number
}

const SEQ_WIDTH = 10
const TIME_WIDTH = 24
const TYPE_WIDTH = 20

/**
 * Prints records in one of the formats. Payloads that do not decode are printed with the error (and
 * counted in {@link RecordPrinter.failures}); printing goes on.
 */
export class RecordPrinter {
  /** Records that failed to decode. */
  failures = 0
  private headerDone = false
  private readonly decoders: Decoders

  constructor(
    private readonly out: Output,
    private readonly format: RecordFormat,
    decode: DecodeOptions,
    err: Output,
    private readonly width: number,
  ) {
    this.decoders = new Decoders(decode, (message) => {
      err.line(message)
      void err.flush()
    })
  }

  print(record: StoredRecord): void {
    if (this.format === 'hex') {
      const where = record.file === undefined ? '' : `  ${basename(record.file)} @ ${record.offset}`
      this.out.line(`seq ${record.seq}${where}  (${formatBytes(record.payload.byteLength)})`)
      for (const line of hexDump(record.payload)) this.out.line(line)
      return
    }
    const decoder = this.decoders.for(record.serializerName)
    let decoded: Decoded | null = null
    let error: string | null = null
    if (decoder !== null) {
      try {
        decoded = decoder.decode(record.payload)
      } catch (err) {
        this.failures++
        error = err instanceof Error ? err.message : String(err)
      }
    }
    if (this.format === 'ndjson') this.out.line(this.ndjson(record, decoded, error))
    else this.table(record, decoded, error)
  }

  private ndjson(record: StoredRecord, decoded: Decoded | null, error: string | null): string {
    const payload = () => Buffer.from(record.payload).toString('base64')
    if (decoded === null) {
      const where = record.file === undefined ? {} : { file: basename(record.file), offset: record.offset }
      return error === null
        ? stringify({ seq: record.seq, size: record.payload.byteLength, ...where, payload: payload() })
        : stringify({ seq: record.seq, error, ...where, payload: payload() })
    }
    const { type, time, data, v } = decoded
    return stringify({
      seq: record.seq,
      type,
      time: isoTime(time),
      timeMs: time,
      ...(v === undefined ? {} : { v }),
      data,
    })
  }

  private table(record: StoredRecord, decoded: Decoded | null, error: string | null): void {
    if (!this.headerDone) {
      this.headerDone = true
      this.out.line(this.row('SEQ', 'TIME', 'TYPE', 'DATA'))
    }
    const seq = String(record.seq)
    if (decoded === null) {
      const data =
        error === null ? `(raw) ${toHex(record.payload.subarray(0, 256))}` : `(decode error) ${error}`
      this.out.line(this.row(seq, '-', '-', data))
    } else {
      this.out.line(
        this.row(seq, isoTime(decoded.time) ?? String(decoded.time), decoded.type, stringify(decoded.data)),
      )
    }
  }

  private row(seq: string, time: string, type: string, data: string): string {
    const dataWidth = Math.max(20, this.width - SEQ_WIDTH - TIME_WIDTH - TYPE_WIDTH - 6)
    return [
      seq.padStart(SEQ_WIDTH),
      truncate(time, TIME_WIDTH).padEnd(TIME_WIDTH),
      truncate(type, TYPE_WIDTH).padEnd(TYPE_WIDTH),
      truncate(data, dataWidth),
    ]
      .join('  ')
      .trimEnd()
  }
}
