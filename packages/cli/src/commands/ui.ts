import { isUiError, startUi } from '@waltz/ui'
import { type Command, DIR_OPERAND, stringValue } from '../lib/command.js'
import { chooseDecoder, SERIALIZER_CHOICES } from '../lib/decode.js'
import { CliError, EXIT, errnoCode, usageError } from '../lib/errors.js'
import { openLog } from '../lib/logdir.js'
import { RECORD_OPTIONS, recordOptions } from '../lib/records.js'

/** Parses `--port`: 0 (any free port) to 65535. */
function portValue(text: string | undefined): number {
  if (text === undefined) return 0
  const n = Number(text)
  if (!/^\d+$/.test(text) || n > 65535)
    throw usageError(`--port must be from 0 to 65535, got '${text}'`, 'ui')
  return n
}

export const ui: Command = {
  name: 'ui',
  summary:
    'serve a read-only web inspector of an event store on 127.0.0.1 (streams, events, live tail, consumers)',
  help: `Usage: waltz ui <dir> [--port N] [--serializer ${SERIALIZER_CHOICES.join('|')}] [--proto FILE]
                [--structures FILE] [--host ADDR --allow-remote]

Serves a web page to look at the event store in <dir>: an overview (segments, size, positions, the
append rate of the last minutes, verify on demand), its streams (searchable by prefix, paginated) and
their events, all events with a live tail of new ones, and the durable consumers' checkpoints and lag.
Read-only: it opens a reader (no lock, nothing written), so it runs beside the service that owns the
store. Prints the URL to open, with a random access token; requests without the token, or addressed
to another host name than the bound address (DNS rebinding), are refused. Runs until interrupted.

Options:
  --port N                    the port (default 0: a free one)
  --serializer NAME           how to show event data: auto (default: by the serializer name in the
                              log), bytes, binary, json, proto, or raw (hex); data that does not
                              decode is shown as hex with its stored size
  --proto FILE                a .proto file whose message types decode protobuf data
  --structures FILE           the shared structures file of a shared-structures msgpackr log
  --host ADDR                 listen on another address than 127.0.0.1 (needs --allow-remote)
  --allow-remote              allow a --host that other machines can reach (the token still guards)
  -h, --help                  this help

Exit codes: 0 stopped by SIGINT/SIGTERM; 2 usage (a remote --host without --allow-remote);
3 not a WAL directory; 5 I/O error (the port in use).`,
  options: {
    port: { type: 'string' },
    host: { type: 'string' },
    'allow-remote': { type: 'boolean' },
    serializer: RECORD_OPTIONS.serializer,
    proto: RECORD_OPTIONS.proto,
    structures: RECORD_OPTIONS.structures,
  },
  operand: DIR_OPERAND,

  async run({ operand: dir, values, io, out, err }) {
    const port = portValue(stringValue(values, 'port'))
    const host = stringValue(values, 'host') ?? '127.0.0.1'
    const { decode } = recordOptions(values, 'ui')
    // The log's serializer name picks the decoder (auto); the probe also reports a missing or empty
    // directory the way every command does.
    const probe = await openLog(dir)
    const logName = probe.serializerName
    await probe.close()
    const decoder = chooseDecoder(decode, logName, (message) => err.line(message))
    await err.flush()
    let server: Awaited<ReturnType<typeof startUi>>
    try {
      server = await startUi({
        dir,
        port,
        host,
        allowRemote: values['allow-remote'] === true,
        ...(decoder
          ? {
              decode: (bytes: Uint8Array, type: string) => {
                if (!decoder.handles(type)) throw new Error(`no decoder for type ${type}`)
                return decoder.decode(bytes, type)
              },
              decoderName: `${decode.serializer === 'auto' ? (logName ?? 'auto') : decode.serializer}`,
            }
          : { decoderName: 'hex' }),
      })
    } catch (e) {
      if (isUiError(e, 'UI_REMOTE_NOT_ALLOWED'))
        throw usageError(e.message.replace('allowRemote (--allow-remote)', '--allow-remote'), 'ui')
      if (isUiError(e, 'UI_LISTEN_FAILED')) throw CliError.IO(e.message, errnoCode(e))
      throw e
    }
    out.line(`waltz ui: serving ${dir} read-only (no lock) at`)
    out.line(server.url)
    await out.flush()
    await new Promise<void>((resolve) => {
      if (io.signal === undefined || io.signal.aborted) {
        if (io.signal?.aborted) resolve()
        return
      }
      io.signal.addEventListener('abort', () => resolve(), { once: true })
    })
    await server.close()
    return EXIT.ok
  },
}
