import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { listSegments } from '../../lib/archive-listing.js'
import { ARCHIVE_OPTIONS, ARCHIVE_OPTIONS_HELP, openArchive } from '../../lib/archive-location.js'
import type { Command } from '../../lib/command.js'
import { EXIT } from '../../lib/errors.js'
import { formatBytes, formatDuration } from '../../lib/format.js'
import {
  type CheckedKeyStore,
  downloadKeyStore,
  keyProblems,
  sealedKeyIds,
} from '../../lib/key-store-download.js'
import { ProgressBar } from '../../lib/progress.js'
import { type CheckedSegment, describeSegmentProblem, downloadSegment } from '../../lib/segment-download.js'
import { describeSeqs, formatSeqRange } from '../../lib/seq-range.js'

const NAME = 'archive verify'

/** A break in the seq chain between two neighbouring segments. */
interface ChainProblem {
  readonly code: 'gap' | 'overlap'
  /** The segment before the break, and the one after. */
  readonly after: string
  readonly before: string
  /** For a gap: the seqs no segment holds. */
  readonly from: number | undefined
  readonly to: number | undefined
  readonly reason: string
}

/**
 * The break between `previous` and `next`, if any: `previous`'s last seq + 1 must be `next`'s first.
 * Only a segment whose frames are all valid says where it ends.
 */
function chainProblem(previous: CheckedSegment | undefined, next: CheckedSegment): ChainProblem | undefined {
  if (previous === undefined || !previous.framesValid) return undefined
  const expected = previous.lastSeq + 1
  const ends = `${previous.name} ends at seq ${previous.lastSeq}, ${next.name} starts at ${next.firstSeq}`
  if (next.firstSeq > expected) {
    const missing = describeSeqs({ from: expected, to: next.firstSeq - 1 })
    const reason = `${missing}: in no archived segment: ${ends}`
    return {
      code: 'gap',
      after: previous.name,
      before: next.name,
      from: expected,
      to: next.firstSeq - 1,
      reason,
    }
  }
  if (next.firstSeq < expected) {
    const reason = `the segments overlap: ${ends}`
    return {
      code: 'overlap',
      after: previous.name,
      before: next.name,
      from: undefined,
      to: undefined,
      reason,
    }
  }
  return undefined
}

/** `seq 1..120  (120 records, 8.0 KiB, SHA-256 as recorded)`. */
function describeContent(s: CheckedSegment): string {
  const sha = s.sha256Recorded ? ', SHA-256 as recorded' : ''
  return `seq ${formatSeqRange(s.firstSeq, s.lastSeq)}  (${s.records} records, ${formatBytes(s.size)}${sha})`
}

/** `keys.wzk  (18 keys, 1 shredded, master key m1, SHA-256 as recorded)`. */
function describeKeyStore(k: CheckedKeyStore): string {
  const sha = k.sha256Recorded ? ', SHA-256 as recorded' : ''
  return `${k.name}  (${k.keys} keys, ${k.shredded} shredded, master key ${k.masterKeyId}${sha})`
}

/** `waltz archive verify`: every archived segment downloaded and checked, and the seq chain. */
export const archiveVerify: Command = {
  name: NAME,
  summary: 'download every archived segment and check its size, SHA-256, frames and the seq chain',
  help: `Usage: waltz archive verify --archive LOCATION [--json] [--no-progress]
                             [--endpoint URL] [--region REGION] [--path-style]

Downloads every segment of the archive, one at a time, streamed to a temp file (never whole in memory)
and removed once checked, and checks:
  - its size: as listed, and as the archive reported for the download;
  - its SHA-256, when the archive recorded one at upload (s3Archive does; a directory does not);
  - every frame, with the scanner \`waltz verify\` uses (header, length, seq chain, checksum, batch
    chain); the header's first seq must be the name's, and a sealed segment must not end cut short;
  - the seq chain across segments: each one's last seq + 1 is the next one's first (a gap names the
    missing seqs);
  - an encrypted log's key store (keys.wzk, sealed): its size, recorded SHA-256 and every entry; and
    that it holds the key (or the shredded id) of every encrypted record (KEYS-MISSING names the first
    record without one: no keyring can read it).
Each segment is reported ok or with its problems (SIZE, SHA256, CORRUPT with offset and code,
MISSING, KEYS-MISSING), each break of the chain as GAP or OVERLAP. A progress bar is drawn on stderr
when stdout and stderr are terminals.

Options:
${ARCHIVE_OPTIONS_HELP}
  --json              print one JSON object at the end instead: archive, ok, problems, segments
                      [{ name, firstSeq, lastSeq, records, size, sha256, sha256Recorded, ok, problems }],
                      chain [{ code: gap|overlap, after, before, from, to, reason }], keyStore
                      ({ name, size, sha256, sha256Recorded, keys, shredded, masterKeyId, ok, problems }
                      or null when the archive holds none)
  --no-progress       never draw the progress bar
  -h, --help          this help

Exit codes: 0 no problems; 1 problems found (each printed with its segment); 2 usage; 3 the archive
directory is missing, or the archive holds no segment; 5 the archive failed a request (network,
credentials, permissions) or a temp file could not be written.`,
  options: { ...ARCHIVE_OPTIONS, json: { type: 'boolean' }, 'no-progress': { type: 'boolean' } },
  operand: null,

  async run({ values, io, out, err, now }) {
    const started = now()
    const json = values.json === true
    const { archive, close } = await openArchive(values, NAME)
    const temp = await mkdtemp(join(tmpdir(), 'waltz-archive-verify-'))
    try {
      const signal = io.signal ?? new AbortController().signal
      const segments = await listSegments(archive, signal, (message) => err.line(message))
      // After the listing: the writer uploads a segment's keys before the segment, so this copy
      // covers every segment listed.
      const keyStore = await downloadKeyStore(archive, signal)
      const total = segments.reduce((n, s) => n + s.size, 0)
      if (!json) out.line(`verifying ${archive.name}: ${segments.length} segment(s), ${formatBytes(total)}`)
      if (!json && keyStore !== undefined) {
        if (keyStore.problems.length === 0) out.line(`ok       ${describeKeyStore(keyStore)}`)
        for (const p of keyStore.problems) out.line(describeSegmentProblem(keyStore.name, p))
      }
      await out.flush()
      const tty = io.stdout.isTTY === true && io.stderr.isTTY === true
      const progress = new ProgressBar(io.stderr, 'verify', values['no-progress'] !== true && tty)
      const checked: CheckedSegment[] = []
      const chain: ChainProblem[] = []
      let done = 0
      let problems = keyStore?.problems.length ?? 0
      for (const [i, segment] of segments.entries()) {
        const detail = () => `${formatBytes(done)}  ${i + 1}/${segments.length} segments`
        let result = await downloadSegment(archive, segment, temp, signal, (bytes) => {
          done += bytes
          progress.update(done, total, detail())
        })
        if (result.path !== undefined && result.problems.length === 0) {
          result = { ...result, problems: keyProblems(await sealedKeyIds(temp), keyStore) }
        }
        if (result.path !== undefined) await rm(result.path, { force: true })
        const broken = chainProblem(checked.at(-1), result)
        checked.push(result)
        problems += result.problems.length + (broken === undefined ? 0 : 1)
        if (broken !== undefined) chain.push(broken)
        if (json) continue
        progress.clear()
        if (broken !== undefined) out.line(`${broken.code.toUpperCase().padEnd(8)} ${broken.reason}`)
        if (result.problems.length === 0) out.line(`ok       ${result.name}  ${describeContent(result)}`)
        for (const p of result.problems) out.line(describeSegmentProblem(result.name, p))
        await out.flush()
      }
      progress.clear()
      const last = checked.at(-1)!
      const range = formatSeqRange(checked[0]!.firstSeq, last.framesValid ? last.lastSeq : undefined)
      if (json) {
        const segmentsJson = checked.map(({ path: _, framesValid: __, ...s }) => ({
          ...s,
          ok: s.problems.length === 0,
        }))
        out.line(
          JSON.stringify({
            archive: archive.name,
            ok: problems === 0,
            problems,
            segments: segmentsJson,
            chain,
            keyStore:
              keyStore === undefined
                ? null
                : {
                    name: keyStore.name,
                    size: keyStore.size,
                    sha256: keyStore.sha256,
                    sha256Recorded: keyStore.sha256Recorded,
                    keys: keyStore.keys,
                    shredded: keyStore.shredded,
                    masterKeyId: keyStore.masterKeyId,
                    ok: keyStore.problems.length === 0,
                    problems: keyStore.problems,
                  },
          }),
        )
      } else if (problems === 0) {
        const took = formatDuration(now() - started).replace(/^0s$/, '<1s')
        const keys = keyStore === undefined ? '' : ` and ${keyStore.name}`
        out.line(
          `OK: ${checked.length} segment(s)${keys}, seq ${range}, ${formatBytes(total)} verified in ${took}`,
        )
      } else {
        out.line(
          `FAILED: ${problems} problem(s) in ${archive.name} (${checked.length} segment(s), seq ${range})`,
        )
      }
      return problems === 0 ? EXIT.ok : EXIT.problems
    } finally {
      await rm(temp, { recursive: true, force: true })
      close()
    }
  },
}
