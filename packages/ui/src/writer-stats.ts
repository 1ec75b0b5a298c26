/**
 * The writer's own metrics, for the overview's charts: what it publishes in its stats file
 * (`publishStats`, core's `stats.wzs`), read at each overview request (a few KiB). The inspector
 * cannot measure fsync latency itself: only the writing process sees its fsyncs.
 *
 * @internal
 */
import { readWriterStats, type WriterStats } from '@waltz/core'

/** The stats file as the overview shows it. */
export type WriterStatsView =
  /** No writer publishes (none was started with `publishStats`). */
  | { state: 'absent' }
  /** The file, as the writer last wrote it. */
  | { state: 'ok'; stats: WriterStats }
  /** Unreadable: damaged (a power loss), or of another version; `error` says why. */
  | { state: 'unreadable'; error: string }

/**
 * Reads the stats file of the store in `dir`.
 *
 * @param dir - the store's directory
 */
export async function writerStats(dir: string): Promise<WriterStatsView> {
  try {
    const stats = await readWriterStats(dir)
    return stats === undefined ? { state: 'absent' } : { state: 'ok', stats }
  } catch (err) {
    return { state: 'unreadable', error: (err as Error).message }
  }
}
