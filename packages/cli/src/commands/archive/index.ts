import type { CommandGroup } from '../../lib/command.js'
import { archiveFetch } from './fetch.js'
import { archiveLs } from './ls.js'
import { archiveVerify } from './verify.js'

const COMMANDS = [archiveLs, archiveVerify, archiveFetch]

/** `waltz archive ls|verify|fetch`: the segments a WAL copied to its archive. */
export const archive: CommandGroup = {
  name: 'archive',
  summary: "ls | verify | fetch: the sealed segments in a WAL's archive (directory or S3)",
  help: `Usage: waltz archive ls|verify|fetch --archive LOCATION [options]

The segments a WAL copied to its archive (\`Wal.open({ archive })\`): list them, check them, or download
the ones holding some seqs into a directory that \`waltz dump\` and \`waltz verify\` read. Nothing in the
archive is changed. LOCATION is a directory (directoryArchive) or s3://BUCKET/PREFIX (s3Archive, with
--endpoint, --region, --path-style and the AWS SDK's default credentials).

Commands:
${COMMANDS.map((c) => `  ${c.name.slice('archive '.length).padEnd(9)}${c.summary}`).join('\n')}

Run \`waltz archive <command> --help\` for a command's options.

Exit codes: 0 ok; 1 problems found (a damaged or missing segment, a gap); 2 usage; 3 the archive
directory is missing, the archive holds no segment, or no segment holds the seqs asked for; 4 fetch
into a live log's directory; 5 the archive failed a request (network, credentials, permissions).`,
  commands: COMMANDS,
}
