import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { mkdir, mkdtemp, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { type Archive, importKeys, isWalError, readLock } from '@waltz/core'
import { type ListedSegment, listSegments } from '../../lib/archive-listing.js'
import { ARCHIVE_OPTIONS, ARCHIVE_OPTIONS_HELP, openArchive } from '../../lib/archive-location.js'
import { type Command, stringValue } from '../../lib/command.js'
import { CliError, EXIT, usageError } from '../../lib/errors.js'
import { formatBytes } from '../../lib/format.js'
import { type CheckedKeyStore, downloadKeyStore } from '../../lib/key-store-download.js'
import { ProgressBar } from '../../lib/progress.js'
import { type CheckedSegment, describeSegmentProblem, downloadSegment } from '../../lib/segment-download.js'
import { describeSeqs, formatSeqRange, meets, missingSeqs, parseSeqRange } from '../../lib/seq-range.js'

const NAME = 'archive fetch'

/**
 * What became of one segment downloaded: written into DIR, already there identical, there with other
 * bytes (not replaced), damaged (not written), or intact but holding none of the range (a segment
 * before a gap: not written).
 */
type Outcome = 'fetched' | 'present' | 'exists' | 'damaged' | 'unneeded'

/**
 * What became of the archive's key store (an encrypted log's): written into DIR, already there
 * identical, merged into the one there (new keys added, the archive's shreds and header applied),
 * not merged (the one there is another log's, or damaged), or damaged (not written).
 */
type KeyOutcome = 'fetched' | 'present' | 'merged' | 'exists' | 'damaged'

/** SHA-256 and size of a local file. */
async function digest(path: string): Promise<{ size: number; sha256: string }> {
  const hash = createHash('sha256')
  let size = 0
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer)
    size += (chunk as Buffer).length
  }
  return { size, sha256: hash.digest('hex') }
}

/** Whether `path` exists. */
async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return false
      throw err
    },
  )
}

/** fsyncs a directory, so the renames into it survive a crash. */
async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** Refuses an `--out` directory a live writer has open: its segments are the writer's. */
function requireNoLiveWriter(dir: string): void {
  const lock = readLock(dir)
  if (lock?.alive !== true) return
  const who = lock.owner === undefined ? '' : ` (pid ${lock.owner.pid} on ${lock.owner.host})`
  throw CliError.LOCKED(`${dir} is the directory of a live log${who}: not writing into it`)
}

/** The lines on one segment (text mode). */
function report(s: CheckedSegment, outcome: Outcome, dir: string): string[] {
  const content = `seq ${formatSeqRange(s.firstSeq, s.lastSeq)}  (${s.records} records, ${formatBytes(s.size)})`
  switch (outcome) {
    case 'fetched':
      return [`fetched  ${s.name}  ${content}`]
    case 'present':
      return [`present  ${s.name}  ${content}: already in ${dir}, identical`]
    case 'exists':
      return [`EXISTS   ${s.name}: ${join(dir, s.name)} has other bytes: not replaced`]
    case 'unneeded':
      return [`skipped  ${s.name}  ${content}: none of the range`]
    case 'damaged':
      return s.problems.map((p) => describeSegmentProblem(s.name, p))
  }
}

/** The lines on the key store (text mode). */
function reportKeys(k: CheckedKeyStore, outcome: KeyOutcome, dir: string, why: string | undefined): string[] {
  const content = `${k.name}  (${k.keys} keys, ${k.shredded} shredded)`
  switch (outcome) {
    case 'fetched':
      return [`fetched  ${content}`]
    case 'present':
      return [`present  ${content}: already in ${dir}, identical`]
    case 'merged':
      return [`merged   ${content}: into ${join(dir, k.name)} (new keys added, shreds applied)`]
    case 'exists':
      return [`EXISTS   ${k.name}: ${join(dir, k.name)} cannot take the archive's keys: ${why}`]
    case 'damaged':
      return k.problems.map((p) => describeSegmentProblem(k.name, p))
  }
}

/**
 * Puts the archive's key store into `dir`: written (temp file in `staging`, fsync, rename) when `dir`
 * has none, else merged into the one there (core's `importKeys`: atomic and durable).
 */
async function placeKeys(
  k: CheckedKeyStore,
  staging: string,
  dir: string,
): Promise<{ outcome: KeyOutcome; why?: string }> {
  if (k.problems.length > 0) return { outcome: 'damaged' }
  const target = join(dir, k.name)
  if (!(await exists(target))) {
    const temp = join(staging, `${k.name}.checked`)
    await writeFile(temp, k.bytes!, { flush: true })
    await rename(temp, target)
    return { outcome: 'fetched' }
  }
  if ((await readFile(target)).equals(k.bytes!)) return { outcome: 'present' }
  try {
    await importKeys(dir, k.entries!)
    return { outcome: 'merged' }
  } catch (err) {
    if (isWalError(err, 'WAL_INVALID_ARGUMENT') || isWalError(err, 'WAL_CORRUPT')) {
      return { outcome: 'exists', why: (err as Error).message.replace(/^WAL_[A-Z_]+: /, '') }
    }
    throw err
  }
}

/** `waltz archive fetch`: the segments holding some seqs, verified, into a directory. */
export const archiveFetch: Command = {
  name: NAME,
  summary: 'download the segments holding some seqs into a directory, verified',
  help: `Usage: waltz archive fetch <range> --archive LOCATION --out DIR [--json] [--no-progress]
                            [--endpoint URL] [--region REGION] [--path-style]

Downloads the archived segments that hold the seqs of <range> into DIR (created if missing), each
checked as \`waltz archive verify\` checks it (size, recorded SHA-256, every frame) before it is
renamed into place from a temp directory inside DIR, so that \`waltz dump DIR\` and \`waltz verify DIR\`
read them. <range> is N (one seq), N..M, or N.. (from N to the newest archived record).

A segment that fails its checks is not written (its problems are printed, exit 1), nor is one whose
name is in DIR already with other bytes (EXISTS; an identical one is left as it is). An encrypted
log's key store (keys.wzk, sealed) is fetched with the segments, checked as \`archive verify\` checks
it, so that \`Wal.openReader({ dir, encryption: { keyring } })\` reads DIR; one already in DIR is merged
with it (the archive's new keys added, its shreds and master-key rotation applied); one that is
another log's is not touched (EXISTS, exit 1). Seqs of the range
that no archived segment holds (a gap, or past the newest archived record) are printed as MISSING
(exit 1); when no segment holds any of them, nothing is written (exit 3). DIR must not be the
directory of a live log (exit 4). An interrupted fetch may leave a .waltz-fetch-* directory in DIR:
safe to delete.

Options:
${ARCHIVE_OPTIONS_HELP}
  --out DIR           where the segments go
  --json              print one JSON object at the end instead: archive, out, from, to, segments
                      [{ name, firstSeq, lastSeq, records, size, sha256, outcome, problems }], missing
                      [{ from, to }], keyStore ({ name, size, sha256, keys, shredded, masterKeyId,
                      outcome, problems } or null), problems
  --no-progress       never draw the progress bar
  -h, --help          this help

Exit codes: 0 every seq of the range fetched; 1 problems (a damaged segment, one EXISTS with other
bytes, MISSING seqs); 2 usage; 3 the archive directory is missing, the archive holds no segment, or no
segment holds any seq of the range; 4 DIR is a live log's; 5 the archive failed a request (network,
credentials, permissions) or DIR could not be written.`,
  options: {
    ...ARCHIVE_OPTIONS,
    out: { type: 'string' },
    json: { type: 'boolean' },
    'no-progress': { type: 'boolean' },
  },
  operand: { name: 'range', description: 'the seqs to fetch: N, N..M or N..' },

  async run({ operand, values, io, out, err }) {
    const range = parseSeqRange(operand, NAME)
    const outDir = stringValue(values, 'out')
    if (outDir === undefined || outDir === '') throw usageError('missing --out <dir>: where to write', NAME)
    const json = values.json === true
    const asked = describeSeqs(range)
    const { archive, close } = await openArchive(values, NAME)
    let staging: string | undefined
    try {
      const signal = io.signal ?? new AbortController().signal
      const listed = await listSegments(archive, signal, (message) => err.line(message))
      const wanted = listed.filter((s) => meets(range, s.firstSeq, s.lastSeq ?? Number.POSITIVE_INFINITY))
      if (wanted.length === 0) throw notHeld(asked, archive.name, listed)
      // After the listing: the writer uploads a segment's keys before the segment.
      const keyStore = await downloadKeyStore(archive, signal)
      await mkdir(outDir, { recursive: true })
      requireNoLiveWriter(outDir)
      // Inside DIR, so the renames into place stay on one file system.
      staging = await mkdtemp(join(outDir, '.waltz-fetch-'))
      const tty = io.stdout.isTTY === true && io.stderr.isTTY === true
      const progress = new ProgressBar(io.stderr, 'fetch', values['no-progress'] !== true && tty)
      const checked = await stage(archive, wanted, staging, signal, progress)
      // Held: an intact segment's real range, a damaged one's range by name (reported as damaged).
      const held = checked.map((s): [number, number] => {
        if (s.problems.length === 0) return [s.firstSeq, s.lastSeq]
        const byName = wanted.find((w) => w.name === s.name)!
        return [s.firstSeq, byName.lastSeq ?? Number.POSITIVE_INFINITY]
      })
      if (!held.some(([a, b]) => a <= b && meets(range, a, b)))
        throw notHeld(asked, archive.name, listed, checked)
      const outcomes: Outcome[] = []
      for (const [i, s] of checked.entries()) {
        const [a, b] = held[i]!
        if (s.problems.length > 0) outcomes.push('damaged')
        else if (a > b || !meets(range, a, b)) outcomes.push('unneeded')
        else outcomes.push(await place(s, staging, outDir))
      }
      const keys =
        keyStore !== undefined && outcomes.some((o) => o === 'fetched' || o === 'present')
          ? await placeKeys(keyStore, staging, outDir)
          : undefined
      await syncDir(outDir)
      const missing = missingSeqs(range, held)
      const problems =
        checked.reduce((n, s) => n + s.problems.length, 0) +
        outcomes.filter((o) => o === 'exists').length +
        missing.length +
        (keys?.outcome === 'exists' ? 1 : keys?.outcome === 'damaged' ? keyStore!.problems.length : 0)
      if (json) {
        const segments = checked.map(({ path: _, framesValid: __, ...s }, i) => ({
          ...s,
          outcome: outcomes[i],
        }))
        const gaps = missing.map(([from, to]) => ({ from, to }))
        out.line(
          JSON.stringify({
            archive: archive.name,
            out: outDir,
            from: range.from,
            to: range.to ?? null,
            segments,
            missing: gaps,
            keyStore:
              keyStore === undefined || keys === undefined
                ? null
                : {
                    name: keyStore.name,
                    size: keyStore.size,
                    sha256: keyStore.sha256,
                    keys: keyStore.keys,
                    shredded: keyStore.shredded,
                    masterKeyId: keyStore.masterKeyId,
                    outcome: keys.outcome,
                    problems:
                      keys.outcome === 'exists' ? [{ code: 'exists', reason: keys.why }] : keyStore.problems,
                  },
            problems,
          }),
        )
      } else {
        for (const [i, s] of checked.entries())
          for (const line of report(s, outcomes[i]!, outDir)) out.line(line)
        if (keys !== undefined)
          for (const line of reportKeys(keyStore!, keys.outcome, outDir, keys.why)) out.line(line)
        for (const [a, b] of missing) {
          out.line(`MISSING  ${describeSeqs({ from: a, to: b })}: in no archived segment of ${archive.name}`)
        }
        const written = checked.filter((_, i) => outcomes[i] === 'fetched' || outcomes[i] === 'present')
        const bytes = written.reduce((n, s) => n + s.size, 0)
        const summary = `${written.length} segment(s), ${formatBytes(bytes)} in ${outDir}`
        out.line(problems === 0 ? `OK: ${asked}: ${summary}` : `FAILED: ${problems} problem(s); ${summary}`)
      }
      return problems === 0 ? EXIT.ok : EXIT.problems
    } finally {
      if (staging !== undefined) await rm(staging, { recursive: true, force: true })
      close()
    }
  },
}

/**
 * Downloads and checks `segments` one at a time into `staging` (the scanner reads every segment file
 * of its directory): one that passed is set aside there under another name, one that did not is
 * removed.
 */
async function stage(
  archive: Archive,
  segments: readonly ListedSegment[],
  staging: string,
  signal: AbortSignal,
  progress: ProgressBar,
): Promise<CheckedSegment[]> {
  const total = segments.reduce((n, s) => n + s.size, 0)
  let done = 0
  const checked: CheckedSegment[] = []
  for (const [i, segment] of segments.entries()) {
    const result = await downloadSegment(archive, segment, staging, signal, (bytes) => {
      done += bytes
      progress.update(done, total, `${formatBytes(done)}  ${i + 1}/${segments.length} segments`)
    })
    if (result.path !== undefined) {
      if (result.problems.length === 0) await rename(result.path, `${result.path}.checked`)
      else await rm(result.path, { force: true })
    }
    checked.push(result)
  }
  progress.clear()
  return checked
}

/**
 * Moves a checked segment from the staging directory into `dir`, unless a file of that name is there
 * (identical: 'present'; other bytes: 'exists', not replaced).
 */
async function place(s: CheckedSegment, staging: string, dir: string): Promise<Outcome> {
  const target = join(dir, s.name)
  if (await exists(target)) {
    const there = await digest(target)
    return there.size === s.size && there.sha256 === s.sha256 ? 'present' : 'exists'
  }
  await rename(join(staging, `${s.name}.checked`), target)
  return 'fetched'
}

/**
 * The error for a range no archived segment holds, saying what the segments that could have held it
 * hold: the first segment's start (the range is below it), or what the ones read hold.
 */
function notHeld(
  asked: string,
  archive: string,
  listed: readonly ListedSegment[],
  checked: readonly CheckedSegment[] = [],
): CliError {
  const newest = listed.at(-1)!.name
  const read = checked
    .filter((s) => s.framesValid)
    .map(
      (s) =>
        `${s.name}${s.name === newest ? ', the newest,' : ''} holds seq ${formatSeqRange(s.firstSeq, s.lastSeq)}`,
    )
  const first = listed[0]!
  const what =
    read.length > 0 ? read.join('; ') : `the first segment, ${first.name}, starts at seq ${first.firstSeq}`
  return CliError.NOT_IN_ARCHIVE(`${asked}: in no segment of ${archive}: ${what}`)
}
