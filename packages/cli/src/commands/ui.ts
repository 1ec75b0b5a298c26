import { isEventStoreError } from '@waltz/eventstore'
import { isUiError, startUi } from '@waltz/ui'
import { archiveFailure } from '../lib/archive-failure.js'
import { ARCHIVE_OPTIONS, type OpenedArchive, openArchive } from '../lib/archive-location.js'
import { type Command, DIR_OPERAND, stringValue, type Values } from '../lib/command.js'
import { chooseDecoder, SERIALIZER_CHOICES } from '../lib/decode.js'
import { CliError, EXIT, errnoCode, usageError } from '../lib/errors.js'
import { openLog } from '../lib/logdir.js'
import { MASTER_KEY_OPTIONS, MASTER_KEY_OPTIONS_HELP, masterKeyring } from '../lib/master-key.js'
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
                [--structures FILE] [--archive LOCATION [--endpoint URL] [--region REGION]
                [--path-style]] [--host ADDR --allow-remote]
                [--master-key-file FILE | --master-key-env NAME]

Serves a web page to look at the event store in <dir>: an overview (segments, size, positions, the
append rate of the last minutes and, when the writer publishes its stats file (publishStats), its
fsync latency, archive and retention state, verify on demand), its streams (searchable by prefix,
paginated, counted) and their events, all events with a live tail of new ones, and the durable
consumers' checkpoints and lag. Read-only: it opens a reader (no lock, nothing written), so it runs
beside the service that owns the store. Prints the URL to open, with a random access token; requests
without the token, or addressed to another host name than the bound address (DNS rebinding), are
refused. Runs until interrupted.

Options:
  --port N                    the port (default 0: a free one)
  --serializer NAME           how to show event data: auto (default: by the serializer name in the
                              log), bytes, binary, json, proto, or raw (hex); data that does not
                              decode is shown as hex with its stored size
  --proto FILE                a .proto file whose message types decode protobuf data
  --structures FILE           the shared structures file of a shared-structures msgpackr log
  --archive LOCATION          the archive the store's writer copies segments to: a directory, or
                              s3://BUCKET/PREFIX (as \`waltz archive\` takes it; credentials from the
                              AWS SDK's default chain). The overview shows it, and events retention
                              removed locally are read from it (fetched into a cache under the
                              system temp directory, never into <dir>)
  --endpoint URL              s3:// only: the endpoint of an S3-compatible store (MinIO, Ceph, ...)
  --region REGION             s3:// only: the bucket's region (default $AWS_REGION,
                              $AWS_DEFAULT_REGION, or us-east-1)
  --path-style                s3:// only: path-style requests (MinIO and s3rver need it)
  --host ADDR                 listen on another address than 127.0.0.1 (needs --allow-remote)
  --allow-remote              allow a --host that other machines can reach (the token still guards)
${MASTER_KEY_OPTIONS_HELP.replace('shown as encrypted', 'not shown')}
  -h, --help                  this help

Exit codes: 0 stopped by SIGINT/SIGTERM; 2 usage (a remote --host without --allow-remote, a bad
--archive); 3 not a WAL directory, or the --archive directory is missing; 5 I/O error (the port in
use, the archive cannot be listed, a master key that does not open the store).`,
  options: {
    port: { type: 'string' },
    host: { type: 'string' },
    'allow-remote': { type: 'boolean' },
    serializer: RECORD_OPTIONS.serializer,
    proto: RECORD_OPTIONS.proto,
    structures: RECORD_OPTIONS.structures,
    ...ARCHIVE_OPTIONS,
    ...MASTER_KEY_OPTIONS,
  },
  operand: DIR_OPERAND,

  async run({ operand: dir, values, io, out, err }) {
    const port = portValue(stringValue(values, 'port'))
    const host = stringValue(values, 'host') ?? '127.0.0.1'
    const { decode } = recordOptions(values, 'ui')
    // The log's serializer name picks the decoder (auto); the probe also reports a missing or empty
    // directory the way every command does.
    const keyring = await masterKeyring(values, 'ui')
    const probe = await openLog(dir, keyring)
    const logName = probe.serializerName
    await probe.close()
    const decoder = chooseDecoder(decode, logName, (message) => err.line(message))
    await err.flush()
    const archived: OpenedArchive | undefined =
      values.archive === undefined ? noArchive(values) : await openArchive(values, 'ui')
    let server: Awaited<ReturnType<typeof startUi>>
    try {
      server = await startUi({
        dir,
        port,
        host,
        allowRemote: values['allow-remote'] === true,
        ...(keyring ? { encryption: { keyring } } : {}),
        ...(archived ? { archive: archived.archive } : {}),
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
      archived?.close()
      // The archive's listing (where the log starts) failed: say so as `waltz archive` does.
      if (isEventStoreError(e, 'EVENTSTORE_IO') && archived && e.message.includes('listing the archive')) {
        throw archiveFailure((e as Error).cause ?? e, archived.archive.name, 'listing the archive')
      }
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
    archived?.close()
    return EXIT.ok
  },
}

/** Without `--archive`, the S3 options have nothing to apply to. */
function noArchive(values: Values): undefined {
  const given = (['endpoint', 'region', 'path-style'] as const).find((o) => values[o] !== undefined)
  if (given !== undefined) throw usageError(`--${given} applies to an s3:// --archive only`, 'ui')
  return undefined
}
