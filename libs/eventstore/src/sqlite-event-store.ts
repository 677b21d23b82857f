import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { computeEventHash } from './chain';
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
  /**
   * Also wake subscriptions as soon as the database's WAL file changes (another process wrote to
   * it), through the file system's change notification (inotify on Linux). The poll stays as the
   * fallback (a notification that cannot be set up, or the WAL file replaced). For a process that
   * follows another's appends, e.g. the projector behind the api.
   */
  watchOtherWriters?: boolean;
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
/** How many of this instance's own recent appends it keeps decoded for its subscriptions. */
const RECENT_LIMIT = 500;
/** Streams whose end this instance remembers (forgotten all at once beyond this). */
const KNOWN_STREAMS_LIMIT = 50_000;

type DeliveryContext = Parameters<typeof deliver>[2];

/**
 * Per stream, the first revision known not to exist (so none after it do), valid while the
 * connection's data_version stands. Kept per connection: every store instance on a connection
 * writes through it, and data_version only moves for other connections' commits.
 */
interface KnownEnds {
  emptyFrom: Map<string, number>;
  /** Per stream, its last event's revision and hash as this connection committed them (the next append chains onto it). */
  tails: Map<string, Tail>;
  dataVersion: number;
}
interface Tail {
  revision: number;
  hash: string;
}
const knownByConnection = new WeakMap<Database.Database, KnownEnds>();
/** Connections whose data_version was read in this turn of the event loop (process-wide). */
const lookedThisTurn = new Set<KnownEnds>();
function knownEnds(db: Database.Database): KnownEnds {
  let known = knownByConnection.get(db);
  if (!known) knownByConnection.set(db, (known = { emptyFrom: new Map(), tails: new Map(), dataVersion: -1 }));
  return known;
}

interface QueuedAppend {
  stream: string;
  events: NewEvent[];
  expected: ExpectedRevision;
  resolve(result: AppendResult): void;
  reject(error: unknown): void;
}

type Settled = ({ ok: true; appended: StoredEvent[]; tail: Tail } & AppendResult) | { ok: false; error: unknown };

/** What a subscription read next: rows from the file, or events this instance appended itself. */
interface Batch {
  length: number;
  lastPosition: number;
  /** The events of the batch (only those of `types` when given: other rows are never decoded). */
  events(types?: ReadonlySet<string> | null): StoredEvent[];
}

const rowBatch = (rows: Row[]): Batch => ({
  length: rows.length,
  lastPosition: rows[rows.length - 1]!.position,
  events: (types) => (types ? rows.filter((row) => types.has(row.type)) : rows).map(toStoredEvent),
});

const eventBatch = (events: StoredEvent[]): Batch => ({
  length: events.length,
  lastPosition: events[events.length - 1]!.position,
  events: (types) => (types ? events.filter((event) => types.has(event.type)) : events),
});

/**
 * Embedded event store. The file may be shared with other tables (read models) and with other
 * processes (api, projector, cli): tables are prefixed `es_`, appends take SQLite's write lock
 * up front (BEGIN IMMEDIATE) so the expected-revision check and the insert cannot interleave
 * with another writer, and subscriptions poll to see other processes' appends.
 */
export class SqliteEventStore implements EventStore {
  private readonly statements: ReturnType<typeof prepare>;
  private readonly commitTx: (batch: QueuedAppend[]) => Settled[];
  /** Appends waiting for this turn's group commit. */
  private queue: QueuedAppend[] = [];
  private readonly subscriptions = new Set<Subscription>();
  /** Idle subscriptions of this instance, woken right after each of its appends (others' appends are seen by polling). */
  private readonly appendListeners = new Set<() => void>();
  /** Counts this instance's appends and the WAL changes seen, so a subscription does not go to sleep right after missing a wake-up. */
  private appendSeq = 0;
  /** The WAL file's change notification (watchOtherWriters), armed on the first wait. */
  private walWatcher: fs.FSWatcher | null = null;
  /**
   * This instance's most recent appends, decoded, in position order (others' appends leave gaps).
   * A subscription right behind them takes them from here instead of reading the file again.
   */
  private readonly recent: StoredEvent[] = [];
  private wakeScheduled = false;
  /** What is known of streams' ends on this connection (shared by every store instance on it). */
  private readonly known: KnownEnds;
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
    this.known = knownEnds(db);
    // Nested in the batch's transaction, each append runs under its own SAVEPOINT: a refused one
    // (wrong expected revision, duplicate event id) is rolled back alone, the others commit.
    const one = db.transaction((item: QueuedAppend, group: Map<string, Tail>) => this.appendLocked(item.stream, item.events, item.expected, group));
    // A single event needs no savepoint: the revision check throws before anything is written,
    // and a refused INSERT (duplicate event id) is undone by SQLite on its own (a failed statement
    // is rolled back, the transaction stays). An error that ends the whole transaction (disk full,
    // I/O) fails the group: nothing of it was written.
    // The streams' tails this group wrote (known to the connection once it commits).
    const batch = db.transaction((items: QueuedAppend[], group: Map<string, Tail>): Settled[] => {
      this.lookUnderWriteLock();
      return items.map((item) => {
        try {
          const result = item.events.length === 1 ? this.appendLocked(item.stream, item.events, item.expected, group) : one(item, group);
          group.set(item.stream, result.tail);
          return { ok: true, ...result };
        } catch (error) {
          if (!db.inTransaction) throw error;
          return { ok: false, error };
        }
      });
    });
    this.commitTx = (items) => {
      const group = new Map<string, Tail>();
      const settled = batch.immediate(items, group);
      for (const [stream, tail] of group) this.learnTail(stream, tail);
      return settled;
    };
  }

  /**
   * Appends are committed in groups: those made in one turn of the event loop (concurrent
   * requests) share one IMMEDIATE transaction, committed at setImmediate, each still checked
   * against its own expected revision. The promise resolves once the commit is done, so an
   * answered command is durable; a group whose commit fails rejects every append in it.
   */
  append(stream: string, events: NewEvent[], expected: ExpectedRevision): Promise<AppendResult> {
    try {
      this.assertOpen();
      validateAppend(stream, events, expected);
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<AppendResult>((resolve, reject) => {
      this.queue.push({ stream, events, expected, resolve, reject });
      if (this.queue.length === 1) setImmediate(() => this.commitQueued());
    });
  }

  private commitQueued(): void {
    const items = this.queue;
    if (items.length === 0) return;
    this.queue = [];
    let settled: Settled[];
    lookedThisTurn.clear(); // a commit here may be another connection's news: look again
    try {
      settled = this.commitTx(items);
    } catch (error) {
      for (const item of items) item.reject(error); // e.g. SQLITE_BUSY past busy_timeout: nothing of the group was written
      return;
    }
    settled.forEach((result, i) => {
      if (!result.ok) return;
      this.remember(result.appended);
      this.learnEmptyFrom(items[i]!.stream, result.nextRevision + 1); // this commit held the write lock: that is the stream's end
    });
    this.appendSeq++;
    this.wakeSubscriptions();
    settled.forEach((result, i) => (result.ok ? items[i]!.resolve({ nextRevision: result.nextRevision, position: result.position }) : items[i]!.reject(result.error)));
  }

  /**
   * Wakes idle subscriptions once the appends of this turn of the event loop are done
   * (setImmediate), so concurrent commands' events reach a projection as one page.
   */
  private wakeSubscriptions(): void {
    if (this.wakeScheduled || this.appendListeners.size === 0) return;
    this.wakeScheduled = true;
    setImmediate(() => {
      this.wakeScheduled = false;
      for (const wake of [...this.appendListeners]) wake();
    });
  }

  private remember(events: StoredEvent[]): void {
    for (const event of events) this.recent.push(event);
    if (this.recent.length >= 2 * RECENT_LIMIT) this.recent.splice(0, this.recent.length - RECENT_LIMIT); // trimmed now and then, not on every append
  }

  /** This instance's own events right after `after`, contiguous, at most `limit`; null when it does not hold the next one. */
  private recentAfter(after: number, limit: number): StoredEvent[] | null {
    const recent = this.recent;
    if (recent.length === 0 || recent[recent.length - 1]!.position <= after) return null;
    let index = recent.length - 1;
    while (index > 0 && recent[index - 1]!.position > after) index--;
    if (recent[index]!.position !== after + 1) return null;
    const events: StoredEvent[] = [];
    for (let i = index; i < recent.length && events.length < limit && recent[i]!.position === after + 1 + events.length; i++) events.push(recent[i]!);
    return events;
  }

  /**
   * Runs inside the IMMEDIATE transaction: nobody else can append between the check and the
   * inserts. The stream's tail comes from this group's earlier appends, else from what this
   * connection committed last (while no other connection has committed since), else the file.
   */
  private appendLocked(stream: string, events: NewEvent[], expected: ExpectedRevision, group: Map<string, Tail>): AppendResult & { appended: StoredEvent[]; tail: Tail } {
    const tail = group.get(stream) ?? this.known.tails.get(stream) ?? (this.statements.tail.get(stream) as Tail | undefined);
    const actual = tail ? tail.revision : 'no_stream';
    if (expected !== 'any' && expected !== actual) throw new WrongExpectedRevisionError(stream, expected, actual);
    const recordedAt = new Date().toISOString();
    let position = 0;
    const appended: StoredEvent[] = [];
    let revision = tail ? tail.revision : -1;
    let prevHash = tail ? tail.hash : null;
    for (const event of events) {
      // The chain as chainEvents() builds it, without its intermediate copies of each event.
      revision += 1;
      const e = { stream, revision, eventId: event.eventId, type: event.type, data: event.data, metadata: event.metadata, hash: '', prevHash };
      e.hash = computeEventHash(prevHash, e);
      prevHash = e.hash;
      const data = JSON.stringify(e.data);
      const metadata = JSON.stringify(e.metadata);
      const info = this.statements.insert.run(e.eventId, stream, e.revision, e.type, data, metadata, recordedAt, e.hash, e.prevHash);
      position = Number(info.lastInsertRowid);
      // Decoded from what was stored, so subscribers get exactly what a read of the file gives.
      appended.push({
        eventId: e.eventId,
        type: e.type,
        data: JSON.parse(data) as StoredEvent['data'],
        metadata: JSON.parse(metadata) as StoredEvent['metadata'],
        stream,
        revision: e.revision,
        position,
        recordedAt,
        hash: e.hash,
        prevHash: e.prevHash,
      });
    }
    // Remembered only once the transaction commits: a rolled-back append is never delivered.
    const last = appended[appended.length - 1]!;
    return { nextRevision: last.revision, position, appended, tail: { revision: last.revision, hash: last.hash } };
  }

  async readStream(stream: string, options: { fromRevision?: number } = {}): Promise<StoredEvent[]> {
    this.assertOpen();
    const from = options.fromRevision ?? 0;
    // A command path that holds a stream's state asks for what came after it: usually nothing.
    // While no other connection has committed, this instance knows that without a query.
    if (this.othersUnchanged() && from >= (this.known.emptyFrom.get(stream) ?? Number.POSITIVE_INFINITY)) return [];
    const rows = this.statements.readStream.all(stream, from) as Row[];
    this.learnEmptyFrom(stream, rows.length > 0 ? rows[rows.length - 1]!.revision + 1 : from);
    return rows.map(toStoredEvent);
  }

  /**
   * False (and forgets what it knew of streams' ends) when another connection (process) has
   * committed since the last look: SQLite's data_version moves only for other connections'
   * commits. A look holds for the rest of this turn of the event loop (a statement costs a WAL
   * read lock), until any store in this process commits: whatever a request could have learned
   * of another commit reaches it in a later turn.
   */
  private othersUnchanged(): boolean {
    if (lookedThisTurn.has(this.known)) return true;
    const version = this.statements.dataVersion.get() as number;
    if (lookedThisTurn.size === 0) setImmediate(() => lookedThisTurn.clear());
    lookedThisTurn.add(this.known);
    if (version === this.known.dataVersion) return true;
    this.forgetEnds(version);
    return false;
  }

  /** At the start of a group commit (the write lock held): what another connection committed since the last look is forgotten. */
  private lookUnderWriteLock(): void {
    const version = this.statements.dataVersion.get() as number;
    if (version !== this.known.dataVersion) this.forgetEnds(version);
  }

  private forgetEnds(version: number): void {
    this.known.dataVersion = version;
    this.known.emptyFrom.clear();
    this.known.tails.clear();
  }

  private learnTail(stream: string, tail: Tail): void {
    const { tails } = this.known;
    if (tails.size >= KNOWN_STREAMS_LIMIT) tails.clear();
    tails.set(stream, tail);
  }

  private learnEmptyFrom(stream: string, revision: number): void {
    const { emptyFrom } = this.known;
    if (emptyFrom.size >= KNOWN_STREAMS_LIMIT) emptyFrom.clear();
    emptyFrom.set(stream, revision);
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
    return this.follow(after, SUBSCRIPTION_PAGE, async (batch, ctx) => {
      for (const event of batch.events()) {
        if (!(await deliver(event, onEvent, ctx))) return null;
      }
      return batch.lastPosition;
    });
  }

  subscribeAllPages(options: PageSubscriptionOptions, onPage: (page: EventPage) => Promise<void>): Subscription {
    this.assertOpen();
    const { after, limit, types } = validatePageOptions(options);
    return this.follow(after, limit, async (batch, ctx) => {
      // Filtered rows are never JSON-decoded: a mailer skips login events for the price of a type check.
      const page = { events: batch.events(types), lastPosition: batch.lastPosition };
      return (await deliverPage(page, onPage, ctx)) ? page.lastPosition : null;
    });
  }

  /**
   * The subscription loop both kinds share: read a batch after the cursor (this instance's own
   * recent appends when it holds the very next position, else a page of rows from the file),
   * hand it to `consume` (which returns the position it got through, or null when stopped), and
   * sleep until the next append (or poll) once the log is read to its end.
   */
  private follow(after: number, limit: number, consume: (batch: Batch, ctx: DeliveryContext) => Promise<number | null>): Subscription {
    let cursor = after;
    let stopped = false;
    const sleeper = new Sleeper(); // per subscription, so stop() wakes only this one out of a backoff
    const wakeOnAppend = () => sleeper.wake();
    const ctx: DeliveryContext = { stopped: () => stopped, sleeper, options: this.options };

    const loop = (async () => {
      while (!stopped) {
        const seq = this.appendSeq;
        let batch: Batch | null;
        const own = this.recentAfter(cursor, limit);
        try {
          const rows = own ? null : (this.statements.readAll.all(cursor, limit) as Row[]);
          batch = own ? eventBatch(own) : rows!.length > 0 ? rowBatch(rows!) : null;
        } catch (error) {
          // e.g. SQLITE_BUSY beyond busy_timeout: a subscription must outlive transient errors.
          console.error('sqlite event store subscription: read failed; retrying', error);
          await sleeper.sleep(this.options.maxRetryDelayMs ?? 1000);
          continue;
        }
        if (batch) {
          const reached = await consume(batch, ctx);
          if (reached === null) return;
          cursor = reached;
        }
        // Read to the end: of the file, or of this instance's appends (others' are seen by polling,
        // as ever; a batch of own events that stopped at another process's append reads on at once).
        const drained = own ? own.length < limit && this.recent[this.recent.length - 1]!.position === cursor : (batch?.length ?? 0) < limit;
        if (drained && seq === this.appendSeq && !stopped) await this.waitForAppend(sleeper, wakeOnAppend);
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

  /** Sleeps one poll interval, or less when this instance appends something (or, watching, another process writes). */
  private async waitForAppend(sleeper: Sleeper, wakeOnAppend: () => void): Promise<void> {
    this.watchWal();
    this.appendListeners.add(wakeOnAppend);
    try {
      await sleeper.sleep(this.options.pollIntervalMs ?? 100);
    } finally {
      this.appendListeners.delete(wakeOnAppend);
    }
  }

  /**
   * Arms the WAL file's change notification once: any write to it (another process's commit)
   * wakes the idle subscriptions. Without a WAL file yet, or when it is replaced, the poll covers
   * the gap and the next wait tries again.
   */
  private watchWal(): void {
    if (!this.options.watchOtherWriters || this.walWatcher || this.closed || this.db.memory) return;
    try {
      const watcher = fs.watch(`${this.db.name}-wal`, { persistent: false }, (eventType) => {
        this.appendSeq++;
        this.wakeSubscriptions();
        if (eventType === 'rename') drop();
      });
      const drop = () => {
        watcher.close();
        if (this.walWatcher === watcher) this.walWatcher = null;
      };
      watcher.on('error', drop);
      this.walWatcher = watcher;
    } catch {
      // No WAL file yet (nobody has written): the poll sees the first append, the next wait arms the watch.
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.walWatcher?.close();
    this.walWatcher = null;
    this.commitQueued(); // appends already accepted are committed, not dropped
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
    dataVersion: db.prepare('PRAGMA data_version').pluck(),
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
