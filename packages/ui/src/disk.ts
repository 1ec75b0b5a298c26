/**
 * What the store's directory holds: segments and their sizes, and the bytes of everything (the
 * index tables and checkpoints included). Listing and stat only.
 *
 * @internal
 */
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'

/** A segment file. */
export interface SegmentFile {
  name: string
  /** First seq, from the name. */
  firstSeq: number
  size: number
}

/** The directory's contents. */
export interface DiskUsage {
  segments: SegmentFile[]
  /** Bytes of the segments. */
  segmentBytes: number
  /** Bytes of the index tables (`index/`). */
  indexBytes: number
  /** Bytes of everything in the directory and its subdirectories (one level down). */
  totalBytes: number
}

async function sizes(dir: string): Promise<{ name: string; size: number; isDir: boolean }[]> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch {
    return []
  }
  const out: { name: string; size: number; isDir: boolean }[] = []
  for (const name of names) {
    try {
      const st = await stat(join(dir, name))
      out.push({ name, size: st.isFile() ? st.size : 0, isDir: st.isDirectory() })
    } catch {
      // Removed meanwhile (retention, a merged table): not there any more.
    }
  }
  return out
}

/** Lists `dir` and its subdirectories. */
export async function diskUsage(dir: string): Promise<DiskUsage> {
  const top = await sizes(dir)
  const segments: SegmentFile[] = []
  let totalBytes = 0
  let indexBytes = 0
  for (const f of top) {
    totalBytes += f.size
    const m = /^(\d{20})\.wal$/.exec(f.name)
    if (m) segments.push({ name: f.name, firstSeq: Number(m[1]), size: f.size })
    if (f.isDir) {
      const bytes = (await sizes(join(dir, f.name))).reduce((n, s) => n + s.size, 0)
      totalBytes += bytes
      if (f.name === 'index') indexBytes = bytes
    }
  }
  segments.sort((a, b) => a.firstSeq - b.firstSeq)
  return { segments, segmentBytes: segments.reduce((n, s) => n + s.size, 0), indexBytes, totalBytes }
}
