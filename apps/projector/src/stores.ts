import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { connectEventStore, openRedisStores } from '@twostep/app';
import type { Env } from '@twostep/config';
import { SqliteEventStore, type EventStore, type SubscriptionOptions } from '@twostep/eventstore';
import { SqliteKeyValueStore, SqliteReadModelStore, type KeyValueStore, type ReadModelStore } from '@twostep/readmodel';

const SQLITE_POLL_MS = 10;

/** What the projector works on. It needs no key material: it never opens, hashes or seals anything. */
export interface ProjectorStores {
  eventStore: EventStore;
  readModels: ReadModelStore;
  /** Checkpoints of the Kafka relay. */
  kv: KeyValueStore;
  adapters: { eventStore: 'eventstoredb' | 'sqlite'; readModels: 'redis' | 'sqlite' };
  close(): Promise<void>;
}

/**
 * The same adapter choice as createRuntime (ESDB_URL → EventStoreDB, else the SQLite file in the
 * data dir; REDIS_URL → Redis, else the same SQLite file), without loading any secrets.
 */
export async function openProjectorStores(env: Env, subscription: SubscriptionOptions = {}): Promise<ProjectorStores> {
  let db: Database.Database | null = null;
  const sqlite = (): Database.Database => {
    if (!db) {
      fs.mkdirSync(env.TWOSTEP_DATA_DIR, { recursive: true, mode: 0o700 });
      db = new Database(path.join(env.TWOSTEP_DATA_DIR, 'twostep.db'));
      db.pragma('journal_mode = WAL');
      db.pragma('busy_timeout = 5000');
      db.pragma('synchronous = NORMAL');
    }
    return db;
  };

  // Another process (the api) appends to the SQLite file: the subscriptions wake when its WAL file
  // changes (inotify), and poll every 10 ms (an indexed read of nothing when idle) as the fallback.
  const eventStore: EventStore = env.ESDB_URL
    ? connectEventStore(env, subscription)
    : new SqliteEventStore(sqlite(), { pollIntervalMs: SQLITE_POLL_MS, watchOtherWriters: true, ...subscription });
  let stores: { readModels: ReadModelStore; kv: KeyValueStore };
  try {
    stores = env.REDIS_URL
      ? await openRedisStores(env)
      : { readModels: new SqliteReadModelStore(sqlite()), kv: new SqliteKeyValueStore(sqlite()) };
  } catch (error) {
    await eventStore.close().catch(() => undefined);
    (db as Database.Database | null)?.close();
    throw error;
  }

  return {
    eventStore,
    readModels: stores.readModels,
    kv: stores.kv,
    adapters: { eventStore: env.ESDB_URL ? 'eventstoredb' : 'sqlite', readModels: env.REDIS_URL ? 'redis' : 'sqlite' },
    async close() {
      await eventStore.close();
      await stores.readModels.close();
      await stores.kv.close();
      (db as Database.Database | null)?.close();
    },
  };
}
