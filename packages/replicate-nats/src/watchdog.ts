/**
 * The follow watchdog. The client re-creates an ordered consumer on most faults, but after every
 * server of a cluster restarted it was seen to wait forever: no message, no heartbeat. Silence for a
 * few heartbeat intervals, not counting time spent storing what arrived, means the consumer is lost.
 */
import type { ConsumerMessages } from '@nats-io/jetstream'
import type { WalLogger } from '@waltz/core'

/** Idle heartbeat interval asked of the stream consumer while following. */
export const HEARTBEAT_MS = 1000
/** A consumer silent this long (no message, no heartbeat) is replaced by a new one. */
const STALL_MS = 4 * HEARTBEAT_MS

/** Watches one consumer's heartbeats and calls `onSilent` once if it falls silent. */
export class ConsumerWatchdog {
  private heardAt = performance.now()
  private busy = false
  private readonly timer: ReturnType<typeof setInterval>

  /**
   * Starts watching at once.
   *
   * @param messages - the consumer's messages, whose heartbeats count as signs of life
   * @param logger - where other consumer statuses are reported (debug)
   * @param onSilent - called once, after the watchdog stopped, when the consumer fell silent
   */
  constructor(
    messages: ConsumerMessages,
    logger: WalLogger,
    private readonly onSilent: () => void,
  ) {
    void this.listen(messages, logger).catch(() => {})
    this.timer = setInterval(() => this.check(), HEARTBEAT_MS)
  }

  /** Marks the start of storing a message: the time it takes is not silence. */
  storing(): void {
    this.busy = true
  }

  /** Marks the end of storing a message, which counts as a sign of life. */
  stored(): void {
    this.busy = false
    this.heardAt = performance.now()
  }

  /** Stops watching. Idempotent. */
  stop(): void {
    clearInterval(this.timer)
  }

  private async listen(messages: ConsumerMessages, logger: WalLogger): Promise<void> {
    for await (const status of messages.status()) {
      if (status.type === 'heartbeat') this.heardAt = performance.now()
      else logger.debug('stream consumer status', { status })
    }
  }

  private check(): void {
    if (this.busy || performance.now() - this.heardAt < STALL_MS) return
    this.stop()
    this.onSilent()
  }
}
