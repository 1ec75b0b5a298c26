import { type RepairPlan, repairLog } from '@waltz/core/inspect'
import { type Command, DIR_OPERAND } from '../lib/command.js'
import { EXIT } from '../lib/errors.js'
import { formatBytes } from '../lib/format.js'
import type { Output } from '../lib/io.js'
import { scanWal } from '../lib/logdir.js'

function printPlan(out: Output, plan: RepairPlan, sizes: Map<string, number>): void {
  const segmentBytes = plan.droppedSegments.reduce((n, f) => n + (sizes.get(f) ?? 0), 0)
  const cutIsDropped = plan.droppedSegments.includes(plan.cutFile!)
  out.line(`reason:          ${plan.reason}`)
  if (!cutIsDropped) {
    out.line(`cut:             ${plan.cutFile} at offset ${plan.cutOffset}`)
    out.line(`                 drops its last ${plan.droppedBytes} bytes (${formatBytes(plan.droppedBytes)})`)
  }
  if (plan.droppedSegments.length === 0) out.line('removes:         no segment files')
  for (const [i, file] of plan.droppedSegments.entries()) {
    const size = sizes.get(file) ?? 0
    const label = i === 0 ? 'removes:' : ''
    out.line(`${label.padEnd(17)}${file} (${size} bytes, whole file)`)
  }
  const total = (cutIsDropped ? 0 : plan.droppedBytes) + segmentBytes
  out.line(`total dropped:   ${total} bytes (${formatBytes(total)})`)
  out.line(`last seq after:  ${plan.lastSeqAfter}`)
}

export const repair: Command = {
  name: 'repair',
  summary: 'cut a torn tail or everything after a corruption point (prints the plan; needs --yes)',
  help: `Usage: waltz repair <dir> [--yes]

Cuts the log in <dir> back to its longest valid prefix: from the first invalid frame (a torn tail, or
corruption in any segment) to the end, including every later segment. Without --yes it only prints
exactly what would be dropped (file, offset, bytes, segments, the last seq that remains) and changes
nothing. With --yes it takes the writer lock, first copies every dropped byte durably into
<dir>/repair-<time>/ (whole segments under their names, a cut tail as <segment>.from-<offset>), then
cuts, and prints that directory.

Records after the cut point are lost to the log (their bytes are kept in the backup): run
\`waltz verify\` first, and stop the writer (repair refuses while one holds the lock).

Options:
  --yes        carry the plan out
  -h, --help   this help

Exit codes: 0 repaired, or nothing to repair; 1 refused (no --yes: the plan was only printed);
2 usage; 3 not a WAL directory; 4 a live writer holds the lock; 5 I/O error.`,
  options: { yes: { type: 'boolean' } },
  operand: DIR_OPERAND,

  async run({ operand: dir, values, out }) {
    const sizes = new Map((await scanWal(dir)).segments.map((s) => [s.file, s.size]))
    const plan = await repairLog(dir)
    if (plan.cutFile === null) {
      out.line(`nothing to repair: ${dir} is clean (last seq ${plan.lastSeqAfter})`)
      return EXIT.ok
    }
    if (values.yes !== true) {
      out.line(`repair plan for ${dir} (nothing changed yet):`)
      printPlan(out, plan, sizes)
      out.line('refused: run again with --yes to apply (the dropped bytes are copied first)')
      return EXIT.problems
    }
    const applied = await repairLog(dir, { apply: true })
    out.line(`repaired ${dir}:`)
    printPlan(out, applied, sizes)
    out.line(`backup:          ${applied.backupDir} (a copy of every dropped byte)`)
    return EXIT.ok
  },
}
