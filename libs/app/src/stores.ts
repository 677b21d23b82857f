import * as path from 'node:path';
import Database from 'better-sqlite3';
import type { Env } from '@twostep/config';
import { SqliteEventStore, type EventStore, type SubscriptionOptions } from '@twostep/eventstore';
import { SqliteKeyValueStore, SqliteReadModelStore, type KeyValueStore, type ReadModelStore } from '@twostep/readmodel';
import { connectEventStore, openRedisStores } from './distributed';

/** The stores a process works on, chosen from the environment in this one place. */
export interface Stores {
  eventStore: EventStore;
  readModels: ReadModelStore;
  /** Checkpoints, snapshots, key fingerprints (and, in the mailer, dedupe marks). */
  kv: KeyValueStore;
  adapters: { eventStore: 'eventstoredb' | 'sqlite'; readModels: 'redis' | 'sqlite' };
  close(): Promise<void>;
}

export interface StoreOptions {
  /** Retries and error reporting of the event store's subscriptions. */
  subscription?: SubscriptionOptions;
  /**
   * For a process that follows another's appends to the SQLite file (the projector behind the
   * api): subscriptions wake on the WAL file's changes and poll every 10 ms as the fallback.
   */
  followOtherWriters?: boolean;
}

const SQLITE_FILE = 'twostep.db';
const FOLLOW_POLL_MS = 10;

/**
 * The adapter choice of every process: ESDB_URL → EventStoreDB, else the SQLite file in the data
 * dir; REDIS_URL → Redis for read models and key-value data, else the same SQLite file (opened
 * once, WAL mode, shared by the stores on it). Loads no secrets.
 */
export async function openStores(env: Env, options: StoreOptions = {}): Promise<Stores> {
  let db: Database.Database | null = null;
  const sqlite = (): Database.Database => {
    if (!db) {
      db = new Database(path.join(env.TWOSTEP_DATA_DIR, SQLITE_FILE));
      db.pragma('journal_mode = WAL');
      db.pragma('busy_timeout = 5000');
      db.pragma('synchronous = NORMAL');
    }
    return db;
  };
  const follow = options.followOtherWriters ? { pollIntervalMs: FOLLOW_POLL_MS, watchOtherWriters: true } : {};
  const eventStore: EventStore = env.ESDB_URL ? connectEventStore(env, options.subscription) : new SqliteEventStore(sqlite(), { ...follow, ...options.subscription });
  let stores: { readModels: ReadModelStore; kv: KeyValueStore };
  try {
    stores = env.REDIS_URL ? await openRedisStores(env) : { readModels: new SqliteReadModelStore(sqlite()), kv: new SqliteKeyValueStore(sqlite()) };
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
