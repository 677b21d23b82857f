import type Database from 'better-sqlite3';
import type { KeyValueStore } from './ports';
import { READ_MODELS } from './projections';
import { ReadModels } from './read-models';
import { SqliteProjectionStore } from './sqlite-projection-store';

/** The read models in the same SQLite file as the embedded event store (tables prefixed `rm_`). */
export class SqliteReadModelStore extends ReadModels {
  constructor(db: Database.Database) {
    super(new SqliteProjectionStore(db, READ_MODELS));
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
