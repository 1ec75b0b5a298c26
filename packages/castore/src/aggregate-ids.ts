/**
 * The paging of `listAggregateIds`, as castore's adapters define it: aggregates ordered by their
 * initial event's timestamp (then by id, so ties page deterministically), `initialEventAfter` and
 * `initialEventBefore` inclusive, `reverse`, `limit`, and a page token that carries the options and the
 * last key returned. Options passed with a page token override those inside it.
 */
import type { ListAggregateIdsOptions, ListAggregateIdsOutput } from '@castore/core'
import { CastoreAdapterError } from './errors.js'

/** One listed aggregate. */
export interface AggregateEntry {
  aggregateId: string
  initialEventTimestamp: string
}

/** The options of a listing after its page token was applied. */
export interface ListQuery {
  limit: number | undefined
  initialEventAfter: string | undefined
  initialEventBefore: string | undefined
  reverse: boolean
  /** The last aggregate of the previous page: this page starts after it. */
  after: AggregateEntry | undefined
}

/** The JSON of a page token (the fields castore's own adapters use). */
interface PageToken {
  limit?: number
  initialEventAfter?: string
  initialEventBefore?: string
  reverse?: boolean
  lastEvaluatedKey: AggregateEntry
}

/**
 * Checks the options and applies the page token.
 *
 * @throws CastoreAdapterError `CASTORE_INVALID_ARGUMENT`
 */
export function listQuery(options: ListAggregateIdsOptions | undefined, eventStoreId: string): ListQuery {
  const o = options ?? {}
  const bad = (message: string) => CastoreAdapterError.INVALID_ARGUMENT(message, { eventStoreId })
  let token: Partial<PageToken> = {}
  if (o.pageToken !== undefined) {
    let parsed: unknown
    try {
      parsed = typeof o.pageToken === 'string' ? JSON.parse(o.pageToken) : undefined
    } catch {
      // fall through to the check below
    }
    const key = (parsed as Partial<PageToken> | null | undefined)?.lastEvaluatedKey
    if (typeof key?.aggregateId !== 'string' || typeof key.initialEventTimestamp !== 'string') {
      throw bad('pageToken is not a page token of this adapter')
    }
    token = parsed as Partial<PageToken>
  }
  const limit = o.limit ?? token.limit
  if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 1)) {
    throw bad(`limit must be an integer >= 1, got ${String(limit)}`)
  }
  const initialEventAfter = o.initialEventAfter ?? token.initialEventAfter
  const initialEventBefore = o.initialEventBefore ?? token.initialEventBefore
  for (const [name, value] of [
    ['initialEventAfter', initialEventAfter],
    ['initialEventBefore', initialEventBefore],
  ] as const) {
    if (value !== undefined && typeof value !== 'string') throw bad(`${name} must be an ISO 8601 string`)
  }
  const reverse = o.reverse ?? token.reverse ?? false
  if (typeof reverse !== 'boolean') throw bad('reverse must be a boolean')
  return { limit, initialEventAfter, initialEventBefore, reverse, after: token.lastEvaluatedKey }
}

/** Ascending order: initial event timestamp, then aggregate id. */
function compare(a: AggregateEntry, b: AggregateEntry): number {
  if (a.initialEventTimestamp !== b.initialEventTimestamp) {
    return a.initialEventTimestamp < b.initialEventTimestamp ? -1 : 1
  }
  return a.aggregateId < b.aggregateId ? -1 : a.aggregateId > b.aggregateId ? 1 : 0
}

/**
 * One page of a listing of every aggregate of an event store.
 *
 * @param all - every aggregate, in any order (sorted in place)
 * @param q - the checked options
 * @returns the page, and a token for the next one when there is more
 */
export function listPage(all: AggregateEntry[], q: ListQuery): ListAggregateIdsOutput {
  all.sort(compare)
  if (q.reverse) all.reverse()
  const direction = q.reverse ? -1 : 1
  const selected = all.filter(
    (a) =>
      (q.initialEventAfter === undefined || a.initialEventTimestamp >= q.initialEventAfter) &&
      (q.initialEventBefore === undefined || a.initialEventTimestamp <= q.initialEventBefore) &&
      (q.after === undefined || compare(a, q.after) * direction > 0),
  )
  const page = q.limit === undefined ? selected : selected.slice(0, q.limit)
  const last = page[page.length - 1]
  if (page.length === selected.length || last === undefined) return { aggregateIds: page }
  const token: PageToken = { lastEvaluatedKey: last }
  if (q.limit !== undefined) token.limit = q.limit
  if (q.initialEventAfter !== undefined) token.initialEventAfter = q.initialEventAfter
  if (q.initialEventBefore !== undefined) token.initialEventBefore = q.initialEventBefore
  if (q.reverse) token.reverse = true
  return { aggregateIds: page, nextPageToken: JSON.stringify(token) }
}
