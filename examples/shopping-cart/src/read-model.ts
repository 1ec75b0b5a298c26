/**
 * The carts read model: one row per cart in SQLite, fed by a durable consumer of the cart streams.
 * The consumer's checkpoint is a row of the same database, and {@link CartReadModel.checkpoints}
 * gives the consumer a `transaction`, so a batch's rows and the checkpoint after it commit together:
 * after a crash the model holds exactly the events up to its checkpoint, never one twice or one
 * missing (an exactly-once effect on top of at-least-once delivery).
 *
 * The projection also checks it: a cart's row must be at revision r - 1 to take the event at
 * revision r, so an event applied twice or skipped stops the consumer instead of corrupting a total.
 */

import type { CheckpointStore } from '@waltz/eventstore'
import Database from 'better-sqlite3'
import { CART_STREAM_PREFIX, type StoredCartEvent } from './events.js'

/** A cart as the read model shows it. */
export interface CartSummary {
  id: string
  customerId: string
  status: 'open' | 'confirmed'
  /** Units in the cart. */
  itemCount: number
  /** Total in cents. */
  total: number
  /** The revision of the last event applied: the cart's version this row shows. */
  revision: number
  /** When that event was appended, ms since the epoch. */
  updatedAt: number
}

/** Options of {@link CartReadModel.list}. */
export interface ListOptions {
  status?: 'open' | 'confirmed' | undefined
  /** Default 100. */
  limit?: number | undefined
}

interface Row {
  id: string
  customer_id: string
  status: 'open' | 'confirmed'
  item_count: number
  total: number
  revision: number
  updated_at: number
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS carts (
  id          TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL,
  status      TEXT NOT NULL CHECK (status IN ('open', 'confirmed')),
  item_count  INTEGER NOT NULL,
  total       INTEGER NOT NULL,
  revision    INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS carts_by_status ON carts (status, id);
CREATE TABLE IF NOT EXISTS checkpoints (
  name     TEXT PRIMARY KEY,
  position INTEGER NOT NULL
) STRICT;
`

/** The projection of cart events into the `carts` table, and the consumer checkpoints beside it. */
export class CartReadModel {
  /** The consumer's checkpoint store: in this database, committed with the batch's rows. */
  readonly checkpoints: CheckpointStore
  private readonly db: Database.Database
  private readonly insert: Database.Statement
  private readonly addLine: Database.Statement
  private readonly confirm: Database.Statement
  private readonly selectOne: Database.Statement<[string], Row>
  private readonly selectAll: Database.Statement<[number], Row>
  private readonly selectByStatus: Database.Statement<[string, number], Row>
  private readonly readCheckpoint: Database.Statement<[string], { position: number }>
  private readonly storeCheckpoint: Database.Statement

  private constructor(db: Database.Database) {
    this.db = db
    this.insert = db.prepare(
      `INSERT INTO carts (id, customer_id, status, item_count, total, revision, updated_at)
       VALUES (?, ?, 'open', 0, 0, ?, ?)`,
    )
    // One statement for adds and removals (a removal is a negative quantity).
    this.addLine = db.prepare(
      `UPDATE carts SET item_count = item_count + ?, total = total + ?, revision = ?, updated_at = ?
       WHERE id = ? AND revision = ? - 1`,
    )
    this.confirm = db.prepare(
      `UPDATE carts SET status = 'confirmed', revision = ?, updated_at = ? WHERE id = ? AND revision = ? - 1`,
    )
    this.selectOne = db.prepare('SELECT * FROM carts WHERE id = ?')
    this.selectAll = db.prepare('SELECT * FROM carts ORDER BY id LIMIT ?')
    this.selectByStatus = db.prepare('SELECT * FROM carts WHERE status = ? ORDER BY id LIMIT ?')
    this.readCheckpoint = db.prepare('SELECT position FROM checkpoints WHERE name = ?')
    this.storeCheckpoint = db.prepare(
      'INSERT INTO checkpoints (name, position) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET position = excluded.position',
    )
    this.checkpoints = {
      read: (name) => this.readCheckpoint.get(name)?.position,
      store: (name, position) => {
        this.storeCheckpoint.run(name, position)
      },
      transaction: (work) => this.transaction(work),
    }
  }

  /**
   * Opens (or creates) the read model's database.
   *
   * @param file - the SQLite file (`:memory:` for a throwaway one)
   * @returns the read model
   */
  static open(file: string): CartReadModel {
    const db = new Database(file)
    // WAL journaling lets reads proceed beside the projection's writes. synchronous = NORMAL may lose
    // the last commits on power loss, but rows and checkpoint are lost together: the consumer then
    // applies those events again. The event store, not this file, is the durable record.
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = NORMAL')
    db.exec(SCHEMA)
    return new CartReadModel(db)
  }

  /**
   * Runs `work` in one SQLite transaction: committed when it resolves, rolled back when it throws.
   * The consumer's handler and its checkpoint `store` run inside, so they commit as one.
   *
   * @param work - the batch (synchronous SQLite calls; it must not wait on I/O, since other requests
   *   on this connection would see its uncommitted rows meanwhile)
   */
  async transaction(work: () => Promise<void>): Promise<void> {
    this.db.exec('BEGIN IMMEDIATE')
    try {
      await work()
      this.db.exec('COMMIT')
    } catch (err) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK')
      throw err
    }
  }

  /**
   * Applies a batch of cart events (the consumer's handler).
   *
   * @param events - events of cart streams, in position order
   * @throws Error when an event does not follow the row's revision (applied twice, or one skipped)
   */
  apply(events: readonly StoredCartEvent[]): void {
    for (const e of events) this.applyOne(e)
  }

  private applyOne(e: StoredCartEvent): void {
    const id = e.stream.slice(CART_STREAM_PREFIX.length)
    let changes: number
    switch (e.type) {
      case 'CartOpened':
        changes = this.insert.run(id, e.data.customerId, e.revision, e.time).changes
        break
      case 'ItemAdded':
      case 'ItemRemoved': {
        const sign = e.type === 'ItemAdded' ? 1 : -1
        const { quantity, unitPrice } = e.data
        changes = this.addLine.run(
          sign * quantity,
          sign * quantity * unitPrice,
          e.revision,
          e.time,
          id,
          e.revision,
        ).changes
        break
      }
      case 'CartConfirmed':
        changes = this.confirm.run(e.revision, e.time, id, e.revision).changes
        break
    }
    if (changes !== 1) {
      const row = this.get(id)
      throw new Error(
        `read model out of step: ${e.type} at ${e.stream} revision ${e.revision} (position ${e.position}) ` +
          `met the row at revision ${row?.revision ?? 'none'}`,
      )
    }
  }

  /**
   * One cart.
   *
   * @param id - the cart id
   * @returns its summary, or undefined when the read model has no row for it (yet)
   */
  get(id: string): CartSummary | undefined {
    const row = this.selectOne.get(id)
    return row && toSummary(row)
  }

  /**
   * Carts in id order.
   *
   * @param options - `status` filter and `limit` (default 100)
   * @returns their summaries
   */
  list(options: ListOptions = {}): CartSummary[] {
    const limit = options.limit ?? 100
    const rows =
      options.status === undefined
        ? this.selectAll.all(limit)
        : this.selectByStatus.all(options.status, limit)
    return rows.map(toSummary)
  }

  /** How many carts the read model holds. */
  count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM carts').get() as { n: number }).n
  }

  /** Deletes every cart row (the first step of a rebuild; the checkpoint is reset in the same transaction). */
  clear(): void {
    this.db.exec('DELETE FROM carts')
  }

  /** Closes the database. */
  close(): void {
    this.db.close()
  }
}

function toSummary(r: Row): CartSummary {
  return {
    id: r.id,
    customerId: r.customer_id,
    status: r.status,
    itemCount: r.item_count,
    total: r.total,
    revision: r.revision,
    updatedAt: r.updated_at,
  }
}
