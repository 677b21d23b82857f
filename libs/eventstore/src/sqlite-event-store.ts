import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { chainEvents } from './chain';
import {
  WrongExpectedRevisionError,
  type AppendResult,
  type EventPage,
  type EventStore,
  type ExpectedRevision,
  type NewEvent,
  type PageSubscriptionOptions,
  type StoredEvent,
  type Subscription,
} from './event-store';
import { Sleeper, deliver, deliverPage, validateAppend, validatePageOptions, validateReadAll, type SubscriptionOptions } from './internal';

export interface SqliteEventStoreOptions extends SubscriptionOptions {
  /** How often subscriptions look for events written by other connections/processes. Default 100. */
  pollIntervalMs?: number;
}

export interface SqliteOpenOptions extends SqliteEventStoreOptions {
  /** How long a writer waits for another process's write lock. Default 5000. */
  busyTimeoutMs?: number;
}

interface Row {
  position: number;
  event_id: string;
  stream: string;
  revision: number;
  type: string;
  data: string;
  metadata: string;
  recorded_at: string;
  hash: string;
  prev_hash: string | null;
}

const SUBSCRIPTION_PAGE = 500;

type DeliveryContext = Parameters<typeof deliver>[2];

/**
 * Embedded event store. The file may be shared with other tables (read models) and with other
 * processes (api, projector, cli): tables are prefixed `es_`, appends take SQLite's write lock
 * up front (BEGIN IMMEDIATE) so the expected-revision check and the insert cannot interleave
 * with another writer, and subscriptions poll to see other processes' appends.
 */
export class SqliteEventStore implements EventStore {
  private readonly statements: ReturnType<typeof prepare>;
  private readonly appendTx: (stream: string, events: NewEvent[], expected: ExpectedRevision) => AppendResult;
  private readonly subscriptions = new Set<Subscription>();
  /** Idle subscriptions of this instance, woken right after each of its appends (others' appends are seen by polling). */
  private readonly appendListeners = new Set<() => void>();
  /** Counts this instance's appends, so a subscription does not go to sleep right after missing a wake-up. */
  private appendSeq = 0;
  private closed = false;

  /** Opens (creating if needed) a database file owned by the store: close() closes it. */
  static open(file: string, options: SqliteOpenOptions = {}): SqliteEventStore {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    const db = new Database(file);
    try {
      db.pragma('journal_mode = WAL'); // readers (subscriptions, queries) never block the writer
      db.pragma(`busy_timeout = ${Math.trunc(options.busyTimeoutMs ?? 5000)}`);
      db.pragma('synchronous = NORMAL'); // durable across process crashes; WAL + NORMAL may lose the last commits on power loss
      return new SqliteEventStore(db, options, true);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  /** Uses a connection owned by the caller (WAL and busy_timeout are the caller's business); close() leaves it open. */
  constructor(
    private readonly db: Database.Database,
    private readonly options: SqliteEventStoreOptions = {},
    private readonly ownsDb = false,
  ) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS es_events (
        position    INTEGER PRIMARY KEY AUTOINCREMENT, -- AUTOINCREMENT: a position is never reused, even after the last row is deleted
        event_id    TEXT    NOT NULL UNIQUE,
        stream      TEXT    NOT NULL,
        revision    INTEGER NOT NULL,
        type        TEXT    NOT NULL,
        data        TEXT    NOT NULL,
        metadata    TEXT    NOT NULL,
        recorded_at TEXT    NOT NULL,
        hash        TEXT    NOT NULL,
        prev_hash   TEXT,
        UNIQUE (stream, revision) -- also the index readStream and the tail lookup use
      );
    `);
    this.statements = prepare(db);
    const tx = db.transaction((stream: string, events: NewEvent[], expected: ExpectedRevision) => this.appendLocked(stream, events, expected));
    this.appendTx = (stream, events, expected) => tx.immediate(stream, events, expected);
  }

  async append(stream: string, events: NewEvent[], expected: ExpectedRevision): Promise<AppendResult> {
    this.assertOpen();
    validateAppend(stream, events, expected);
    const result = this.appendTx(stream, events, expected);
    this.appendSeq++;
    for (const wake of [...this.appendListeners]) wake();
    return result;
  }

  /** Runs inside the IMMEDIATE transaction: nobody else can append between the check and the inserts. */
  private appendLocked(stream: string, events: NewEvent[], expected: ExpectedRevision): AppendResult {
    const tail = this.statements.tail.get(stream) as { revision: number; hash: string } | undefined;
    const actual = tail ? tail.revision : 'no_stream';
    if (expected !== 'any' && expected !== actual) throw new WrongExpectedRevisionError(stream, expected, actual);
    const recordedAt = new Date().toISOString();
    let position = 0;
    for (const e of chainEvents(stream, tail ?? null, events)) {
      const info = this.statements.insert.run(
        e.eventId,
        stream,
        e.revision,
        e.type,
        JSON.stringify(e.data),
        JSON.stringify(e.metadata),
        recordedAt,
        e.hash,
        e.prevHash,
      );
      position = Number(info.lastInsertRowid);
    }
    return { nextRevision: (tail ? tail.revision : -1) + events.length, position };
  }

  async readStream(stream: string, options: { fromRevision?: number } = {}): Promise<StoredEvent[]> {
    this.assertOpen();
    const rows = this.statements.readStream.all(stream, options.fromRevision ?? 0) as Row[];
    return rows.map(toStoredEvent);
  }

  async readAll(options: { after?: number; limit?: number } = {}): Promise<StoredEvent[]> {
    this.assertOpen();
    const { after, limit } = validateReadAll(options);
    return this.readAllSync(after, limit);
  }

  private readAllSync(after: number, limit: number): StoredEvent[] {
    return (this.statements.readAll.all(after, limit) as Row[]).map(toStoredEvent);
  }

  async headPosition(): Promise<number> {
    this.assertOpen();
    const row = this.statements.head.get() as { head: number | null };
    return row.head ?? 0;
  }

  subscribeAll(options: { after?: number }, onEvent: (event: StoredEvent) => Promise<void>): Subscription {
    this.assertOpen();
    const { after } = validateReadAll({ after: options.after });
    return this.follow(after, SUBSCRIPTION_PAGE, async (rows, ctx) => {
      let reached: number | null = null;
      for (const row of rows) {
        if (!(await deliver(toStoredEvent(row), onEvent, ctx))) return null;
        reached = row.position;
      }
      return reached;
    });
  }

  subscribeAllPages(options: PageSubscriptionOptions, onPage: (page: EventPage) => Promise<void>): Subscription {
    this.assertOpen();
    const { after, limit, types } = validatePageOptions(options);
    return this.follow(after, limit, async (rows, ctx) => {
      // Filtered rows are never JSON-decoded: a mailer skips login events for the price of a type check.
      const events = (types ? rows.filter((row) => types.has(row.type)) : rows).map(toStoredEvent);
      const page = { events, lastPosition: rows[rows.length - 1]!.position };
      return (await deliverPage(page, onPage, ctx)) ? page.lastPosition : null;
    });
  }

  /**
   * The subscription loop both kinds share: read a page of rows after the cursor, hand it to
   * `consume` (which returns the position it got through, or null when stopped), and sleep until
   * the next append (or poll) once the log is read to its end.
   */
  private follow(after: number, limit: number, consume: (rows: Row[], ctx: DeliveryContext) => Promise<number | null>): Subscription {
    let cursor = after;
    let stopped = false;
    const sleeper = new Sleeper(); // per subscription, so stop() wakes only this one out of a backoff
    const wakeOnAppend = () => sleeper.wake();
    const ctx: DeliveryContext = { stopped: () => stopped, sleeper, options: this.options };

    const loop = (async () => {
      while (!stopped) {
        const seq = this.appendSeq;
        let rows: Row[];
        try {
          rows = this.statements.readAll.all(cursor, limit) as Row[];
        } catch (error) {
          // e.g. SQLITE_BUSY beyond busy_timeout: a subscription must outlive transient errors.
          console.error('sqlite event store subscription: read failed; retrying', error);
          await sleeper.sleep(this.options.maxRetryDelayMs ?? 1000);
          continue;
        }
        if (rows.length > 0) {
          const reached = await consume(rows, ctx);
          if (reached === null) return;
          cursor = reached;
        }
        if (rows.length < limit && seq === this.appendSeq && !stopped) await this.waitForAppend(sleeper, wakeOnAppend);
      }
    })();

    const subscription: Subscription = {
      stop: async () => {
        stopped = true;
        sleeper.wake();
        await loop;
        this.subscriptions.delete(subscription);
      },
    };
    this.subscriptions.add(subscription);
    return subscription;
  }

  /** Sleeps one poll interval, or less when this instance appends something. */
  private async waitForAppend(sleeper: Sleeper, wakeOnAppend: () => void): Promise<void> {
    this.appendListeners.add(wakeOnAppend);
    try {
      await sleeper.sleep(this.options.pollIntervalMs ?? 100);
    } finally {
      this.appendListeners.delete(wakeOnAppend);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.all([...this.subscriptions].map((s) => s.stop()));
    this.closed = true;
    if (this.ownsDb) this.db.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('SqliteEventStore is closed');
  }
}

function prepare(db: Database.Database) {
  return {
    tail: db.prepare('SELECT revision, hash FROM es_events WHERE stream = ? ORDER BY revision DESC LIMIT 1'),
    insert: db.prepare(
      'INSERT INTO es_events (event_id, stream, revision, type, data, metadata, recorded_at, hash, prev_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    readStream: db.prepare('SELECT * FROM es_events WHERE stream = ? AND revision >= ? ORDER BY revision'),
    readAll: db.prepare('SELECT * FROM es_events WHERE position > ? ORDER BY position LIMIT ?'),
    head: db.prepare('SELECT MAX(position) AS head FROM es_events'),
  };
}

function toStoredEvent(row: Row): StoredEvent {
  return {
    eventId: row.event_id,
    type: row.type,
    data: JSON.parse(row.data) as StoredEvent['data'],
    metadata: JSON.parse(row.metadata) as StoredEvent['metadata'],
    stream: row.stream,
    revision: row.revision,
    position: row.position,
    recordedAt: row.recorded_at,
    hash: row.hash,
    prevHash: row.prev_hash,
  };
}
