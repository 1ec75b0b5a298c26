/**
 * How a castore event group becomes appends: one {@link AggregateAppend} per aggregate (stream), checked
 * as castore's own adapters check groups, and the slots that put the stored events back in the group's
 * order.
 */
import type { EventDetail, GroupedEvent, OptionalTimestamp } from '@castore/core'
import type { EventStore } from '@waltz/eventstore'
import { CastoreAdapterError } from './errors.js'
import { checkEventDetail, streamOf, streamPrefix } from './mapping.js'

/** An event as pushed: castore's event detail, the timestamp optional. */
export type Pushed = OptionalTimestamp<EventDetail>

/** One aggregate's share of an append: its stream and its events, of consecutive versions in order. */
export interface AggregateAppend {
  /** The aggregate's stream. */
  readonly stream: string
  /** The castore event store of the aggregate. */
  readonly eventStoreId: string
  /** The events as pushed (the timestamp optional), at least one. */
  readonly events: readonly OptionalTimestamp<EventDetail>[]
  /** The timestamp of the events pushed without one. */
  readonly timestamp: string
}

/** A group split by stream. */
export interface GroupPlan {
  /** One append per stream, in the order of the streams' first events in the group. */
  readonly appends: AggregateAppend[]
  /** For each grouped event, in the group's order: its append and its index there. */
  readonly slots: readonly (readonly [append: number, index: number])[]
}

/**
 * Checks a group and splits it by stream. Each event must come from `groupEvent` of an adapter on
 * `store` with castore's context; the timestamps given must be equal (castore's adapters mean to refuse
 * a group whose events have different timestamps), and events without one take it, or `now` when none
 * has one; per stream, versions must be consecutive in the group's order.
 *
 * @throws CastoreAdapterError `CASTORE_INVALID_ARGUMENT`
 */
export function planGroup(groupedEvents: readonly GroupedEvent[], store: EventStore, now: string): GroupPlan {
  if (groupedEvents.length === 0) {
    throw CastoreAdapterError.INVALID_ARGUMENT('an event group needs at least one event')
  }
  let given: { timestamp: string; index: number } | undefined
  const byStream = new Map<string, { eventStoreId: string; events: Pushed[]; at: number }>()
  const slots: (readonly [number, number])[] = []
  for (const [i, g] of groupedEvents.entries()) {
    const adapter = g?.eventStorageAdapter as { store?: unknown; streamName?: unknown } | undefined
    if (adapter?.store !== store || typeof adapter.streamName !== 'function') {
      throw CastoreAdapterError.INVALID_ARGUMENT(
        `event group event #${i} is not connected to a WaltzEventStorageAdapter of this store`,
      )
    }
    if (g.context === undefined) {
      throw CastoreAdapterError.INVALID_ARGUMENT(
        `event group event #${i} misses its context: group it with eventStore.groupEvent`,
      )
    }
    const { eventStoreId } = g.context
    const prefix = streamPrefix(eventStoreId)
    const event = checkEventDetail(g.event, eventStoreId)
    if (event.timestamp !== undefined) {
      if (given === undefined) given = { timestamp: event.timestamp, index: i }
      else if (event.timestamp !== given.timestamp) {
        throw CastoreAdapterError.INVALID_ARGUMENT(
          `event group events #${i} and #${given.index} have different timestamps (${event.timestamp}, ${given.timestamp}): the events of a group share one`,
          { eventStoreId, aggregateId: event.aggregateId, version: event.version },
        )
      }
    }
    const stream = streamOf(prefix, event.aggregateId, eventStoreId)
    let part = byStream.get(stream)
    if (part === undefined) {
      part = { eventStoreId, events: [], at: byStream.size }
      byStream.set(stream, part)
    }
    const previous = part.events[part.events.length - 1]
    if (previous !== undefined && event.version !== previous.version + 1) {
      throw CastoreAdapterError.INVALID_ARGUMENT(
        `the versions of an aggregate's events in a group must be consecutive, in order: #${i} is ${event.version}, not ${previous.version + 1}`,
        { eventStoreId, aggregateId: event.aggregateId, version: event.version },
      )
    }
    slots.push([part.at, part.events.length])
    part.events.push(event)
  }
  const timestamp = given?.timestamp ?? now
  const appends = [...byStream].map(([stream, p]) => ({
    stream,
    eventStoreId: p.eventStoreId,
    events: p.events,
    timestamp,
  }))
  return { appends, slots }
}
