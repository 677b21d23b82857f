import type Database from 'better-sqlite3';
import { parseStream } from '@twostep/domain';
import type { StoredEvent } from '@twostep/eventstore';
import type { KeyValueStore, ReadModelStore } from './ports';
import { projectStatus, toLogEntry } from './projections';
import type { EventLogEntry, StatusView } from './views';

/** Status views kept in memory (a few hundred bytes each), per connection. */
const VIEW_CACHE_LIMIT = 10_000;

/**
 * The status views a connection's projector last wrote, parsed, so the next page need not read
 * and decode them again. Valid while the connection's data_version stands (it moves only for
 * other connections' commits, e.g. a rebuild by the CLI); shared by every store on the connection,
 * since their writes do not move it. Views are immutable (projectStatus returns new objects).
 */
interface ViewCache {
  views: Map<string, StatusView>;
  dataVersion: number;
}
const viewsByConnection = new WeakMap<Database.Database, ViewCache>();

/** Read models in the same SQLite file as the embedded event store (tables prefixed `rm_`). */
export class SqliteReadModelStore implements ReadModelStore {
  private readonly applyTx: (projection: string, events: readonly StoredEvent[]) => Map<string, { view: StatusView | null }>;
  private readonly statements: { checkpoint: Database.Statement; status: Database.Statement; eventLog: Database.Statement };
  private readonly cache: ViewCache;

  constructor(private readonly db: Database.Database) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS rm_status (tenant_id TEXT NOT NULL, user_id TEXT NOT NULL, view TEXT NOT NULL, PRIMARY KEY (tenant_id, user_id));
      CREATE TABLE IF NOT EXISTS rm_event_log (tenant_id TEXT NOT NULL, user_id TEXT NOT NULL, revision INTEGER NOT NULL, position INTEGER NOT NULL, entry TEXT NOT NULL, PRIMARY KEY (tenant_id, user_id, revision));
      CREATE TABLE IF NOT EXISTS rm_checkpoints (projection TEXT PRIMARY KEY, position INTEGER NOT NULL);
    `);
    const getStatus = db.prepare('SELECT view FROM rm_status WHERE tenant_id = ? AND user_id = ?');
    const putStatus = db.prepare('INSERT INTO rm_status (tenant_id, user_id, view) VALUES (?, ?, ?) ON CONFLICT (tenant_id, user_id) DO UPDATE SET view = excluded.view');
    const putLog = db.prepare('INSERT OR IGNORE INTO rm_event_log (tenant_id, user_id, revision, position, entry) VALUES (?, ?, ?, ?, ?)');
    const dataVersion = db.prepare('PRAGMA data_version').pluck();
    let cache = viewsByConnection.get(db);
    if (!cache) viewsByConnection.set(db, (cache = { views: new Map(), dataVersion: -1 }));
    const cached = cache;
    this.cache = cached;
    const putCheckpoint = db.prepare('INSERT INTO rm_checkpoints (projection, position) VALUES (?, ?) ON CONFLICT (projection) DO UPDATE SET position = MAX(position, excluded.position)');
    // One transaction per page: its views and the checkpoint commit together. A view is read
    // once per page and written once, however many of the page's events are its account's.
    this.applyTx = db.transaction((projection: string, events: readonly StoredEvent[]) => {
      const version = dataVersion.get() as number;
      if (version !== cached.dataVersion) {
        cached.views.clear();
        cached.dataVersion = version;
      }
      const views = new Map<string, { tenantId: string; userId: string; before: StatusView | null; view: StatusView | null }>();
      for (const event of events) {
        const stream = parseStream(event.stream);
        if (stream.kind !== 'account') continue;
        const key = `${stream.tenantId}|${stream.userId}`;
        let entry = views.get(key);
        if (!entry) {
          let before = cached.views.get(key) ?? null;
          if (!before) {
            const row = getStatus.get(stream.tenantId, stream.userId) as { view: string } | undefined;
            before = row ? (JSON.parse(row.view) as StatusView) : null;
          }
          entry = { tenantId: stream.tenantId, userId: stream.userId, before, view: before };
          views.set(key, entry);
        }
        entry.view = projectStatus(entry.view, event);
        putLog.run(stream.tenantId, stream.userId, event.revision, event.position, JSON.stringify(toLogEntry(event)));
      }
      for (const { tenantId, userId, before, view } of views.values()) {
        if (view && view !== before) putStatus.run(tenantId, userId, JSON.stringify(view));
      }
      if (events.length > 0) putCheckpoint.run(projection, events[events.length - 1]!.position);
      return views;
    });
    this.statements = {
      checkpoint: db.prepare('SELECT position FROM rm_checkpoints WHERE projection = ?'),
      status: getStatus,
      eventLog: db.prepare('SELECT entry FROM rm_event_log WHERE tenant_id = ? AND user_id = ? AND revision > ? ORDER BY revision LIMIT ?'),
    };
  }

  async apply(projection: string, event: StoredEvent): Promise<void> {
    return this.applyPage(projection, [event]);
  }

  async applyPage(projection: string, events: readonly StoredEvent[]): Promise<void> {
    const written = this.applyTx(projection, events); // a page that throws was rolled back: the cache holds only committed views
    const { views } = this.cache;
    for (const [key, { view }] of written) {
      if (!view) continue;
      if (views.size >= VIEW_CACHE_LIMIT && !views.has(key)) views.clear();
      views.set(key, view);
    }
  }

  async checkpoint(projection: string): Promise<number> {
    const row = this.statements.checkpoint.get(projection) as { position: number } | undefined;
    return row?.position ?? 0;
  }

  async status(tenantId: string, userId: string): Promise<StatusView | null> {
    const row = this.statements.status.get(tenantId, userId) as { view: string } | undefined;
    return row ? (JSON.parse(row.view) as StatusView) : null;
  }

  async eventLog(tenantId: string, userId: string, options: { after?: number; limit?: number } = {}): Promise<EventLogEntry[]> {
    const rows = this.statements.eventLog.all(tenantId, userId, options.after ?? -1, options.limit ?? 100) as { entry: string }[];
    return rows.map((row) => JSON.parse(row.entry) as EventLogEntry);
  }

  async reset(projection: string): Promise<void> {
    this.cache.views.clear();
    this.db.transaction(() => {
      this.db.exec('DELETE FROM rm_status; DELETE FROM rm_event_log;');
      this.db.prepare('DELETE FROM rm_checkpoints WHERE projection = ?').run(projection);
    })();
  }

  async close(): Promise<void> {
    // The database handle belongs to whoever opened it.
  }
}

/** Key-value entries (snapshots, checkpoints, dedupe marks) with an optional expiry; statements prepared once. */
export class SqliteKeyValueStore implements KeyValueStore {
  private readonly statements: {
    get: Database.Statement;
    set: Database.Statement;
    deleteExpired: Database.Statement;
    insertIfAbsent: Database.Statement;
    delete: Database.Statement;
  };
  private readonly setIfAbsentTx: (key: string, value: string, expiresAt: number | null, now: number) => boolean;

  constructor(private readonly db: Database.Database) {
    db.exec('CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at INTEGER)');
    this.statements = {
      get: db.prepare('SELECT value, expires_at FROM kv WHERE key = ?'),
      set: db.prepare('INSERT INTO kv (key, value, expires_at) VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at'),
      deleteExpired: db.prepare('DELETE FROM kv WHERE key = ? AND expires_at IS NOT NULL AND expires_at <= ?'),
      insertIfAbsent: db.prepare('INSERT OR IGNORE INTO kv (key, value, expires_at) VALUES (?, ?, ?)'),
      delete: db.prepare('DELETE FROM kv WHERE key = ?'),
    };
    this.setIfAbsentTx = db.transaction((key: string, value: string, expiresAt: number | null, now: number) => {
      this.statements.deleteExpired.run(key, now);
      return this.statements.insertIfAbsent.run(key, value, expiresAt).changes === 1;
    });
  }

  async get(key: string): Promise<string | null> {
    const row = this.statements.get.get(key) as { value: string; expires_at: number | null } | undefined;
    if (!row || (row.expires_at !== null && row.expires_at <= Date.now())) return null;
    return row.value;
  }

  async set(key: string, value: string, ttlSeconds?: number): Promise<void> {
    this.statements.set.run(key, value, ttlSeconds ? Date.now() + ttlSeconds * 1000 : null);
  }

  async setIfAbsent(key: string, value: string, ttlSeconds?: number): Promise<boolean> {
    const now = Date.now();
    return this.setIfAbsentTx(key, value, ttlSeconds ? now + ttlSeconds * 1000 : null, now);
  }

  async delete(key: string): Promise<void> {
    this.statements.delete.run(key);
  }

  async close(): Promise<void> {}
}
