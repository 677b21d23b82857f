import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { ConfigError, parseEnv, type Env } from '@twostep/config';
import { parseKeyRing, SecretBox } from '@twostep/crypto';
import { STREAM_PREFIXES } from '@twostep/domain';
import { EsdbEventStore, SqliteEventStore, type EventStore, type StoredEvent } from '@twostep/eventstore';
import {
  connectRedis,
  redactRedisUrl,
  RedisKeyValueStore,
  RedisReadModelStore,
  SqliteKeyValueStore,
  SqliteReadModelStore,
  type KeyValueStore,
  type ReadModelStore,
} from '@twostep/readmodel';
import { CliError } from './io';

/** Options every command takes. */
export interface StoreOptions {
  /** --data-dir: overrides TWOSTEP_DATA_DIR (default ./var). */
  dataDir?: string;
  /** The environment to configure from; default process.env (tests pass their own). */
  env?: NodeJS.ProcessEnv;
}

/**
 * - read:   the store must exist; SQLite is opened read-only, so an audit cannot change the file.
 * - write:  the store must exist (re-encryption, rebuilding read models).
 * - create: created when missing (import).
 */
export type OpenMode = 'read' | 'write' | 'create';

export interface OpenedStore {
  env: Env;
  /** The raw environment, for the settings parseEnv does not know (REDIS_KEY_PREFIX). */
  source: NodeJS.ProcessEnv;
  eventStore: EventStore;
  /** For messages: `SQLite /abs/path/twostep.db` or `EventStoreDB esdb://host:2113` (credentials masked). */
  description: string;
  /** The SQLite connection when the event store is embedded; read models share the file. */
  db: Database.Database | null;
  close(): Promise<void>;
}

export const DB_FILE = 'twostep.db';

/** The environment as the other processes validate it, with --data-dir applied. */
export function resolveEnv(options: StoreOptions): Env {
  return parseSource(sourceOf(options));
}

function sourceOf(options: StoreOptions): NodeJS.ProcessEnv {
  const source: NodeJS.ProcessEnv = { ...(options.env ?? process.env) };
  if (options.dataDir !== undefined) {
    if (options.dataDir.trim() === '') throw new CliError('--data-dir must not be empty', 2);
    source.TWOSTEP_DATA_DIR = options.dataDir;
  }
  return source;
}

function parseSource(source: NodeJS.ProcessEnv): Env {
  try {
    return parseEnv(source);
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError(`invalid configuration: ${error.problems.join('; ')}`);
    throw error;
  }
}

export function sqliteFile(env: Env): string {
  return path.resolve(env.TWOSTEP_DATA_DIR, DB_FILE);
}

/** The event store the configuration names: EventStoreDB when ESDB_URL is set, else `<data dir>/twostep.db`. */
export async function openEventStore(options: StoreOptions, mode: OpenMode): Promise<OpenedStore> {
  const source = sourceOf(options);
  const env = parseSource(source);
  if (env.ESDB_URL) {
    let eventStore: EsdbEventStore;
    try {
      eventStore = EsdbEventStore.connect(env.ESDB_URL, { prefixes: [...STREAM_PREFIXES] });
    } catch (error) {
      throw new CliError(`ESDB_URL ${maskUrl(env.ESDB_URL)}: ${(error as Error).message}`);
    }
    try {
      await eventStore.headPosition(); // one round trip, so an unreachable server is one clear line, not a gRPC stack
    } catch (error) {
      await eventStore.close().catch(() => undefined);
      throw new CliError(`EventStoreDB at ${maskUrl(env.ESDB_URL)} cannot be read: ${(error as Error).message.split('\n')[0]}`);
    }
    return { env, source, eventStore, description: `EventStoreDB ${maskUrl(env.ESDB_URL)}`, db: null, close: () => eventStore.close() };
  }
  const file = sqliteFile(env);
  const exists = fs.existsSync(file);
  if (!exists && mode !== 'create') {
    throw new CliError(`no event store at ${file} (set --data-dir or TWOSTEP_DATA_DIR to the api's data directory, or ESDB_URL for EventStoreDB)`);
  }
  if (!exists) fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const readonly = mode === 'read';
  let db: Database.Database;
  try {
    db = new Database(file, { readonly, fileMustExist: mode !== 'create' });
  } catch (error) {
    throw new CliError(`cannot open ${file}: ${(error as Error).message}`);
  }
  try {
    db.pragma('busy_timeout = 5000'); // the api may be writing at the same time
    if (!readonly) {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL'); // as the api opens it
    }
    if (readonly && !hasTable(db, 'es_events')) {
      throw new CliError(`${file} holds no twostep events (table es_events is missing)`);
    }
    const eventStore = new SqliteEventStore(db);
    return {
      env,
      source,
      eventStore,
      description: `SQLite ${file}`,
      db,
      close: async () => {
        await eventStore.close();
        db.close();
      },
    };
  } catch (error) {
    db.close();
    throw error;
  }
}

export interface OpenedReadModels {
  readModels: ReadModelStore;
  /** Where the projector keeps its lease, next to the views it writes. */
  kv: KeyValueStore;
  description: string;
  close(): Promise<void>;
}

/**
 * The read models the api serves: Redis when REDIS_URL is set (under REDIS_KEY_PREFIX, as the
 * api and projector use it), otherwise the `rm_` tables in `<data dir>/twostep.db`, also when
 * the events live in EventStoreDB (the same choice createRuntime makes).
 */
export async function openReadModels(opened: OpenedStore): Promise<OpenedReadModels> {
  const redisUrl = opened.env.REDIS_URL;
  if (redisUrl) {
    const prefix = opened.env.REDIS_KEY_PREFIX;
    let redis: Awaited<ReturnType<typeof connectRedis>>;
    try {
      redis = await connectRedis(redisUrl);
    } catch (error) {
      throw new CliError((error as Error).message); // the password is already redacted
    }
    const readModels = new RedisReadModelStore(redis, prefix ? { prefix } : {});
    return {
      readModels,
      kv: new RedisKeyValueStore(redis, prefix ? { prefix } : {}),
      description: `Redis ${redactRedisUrl(redisUrl)}${prefix ? ` (prefix ${prefix})` : ''}`,
      close: async () => {
        await readModels.close();
        await redis.quit().catch(() => redis.disconnect());
      },
    };
  }
  if (opened.db) {
    return { readModels: new SqliteReadModelStore(opened.db), kv: new SqliteKeyValueStore(opened.db), description: opened.description, close: async () => undefined };
  }
  const file = sqliteFile(opened.env);
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const db = new Database(file);
  db.pragma('busy_timeout = 5000');
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  return { readModels: new SqliteReadModelStore(db), kv: new SqliteKeyValueStore(db), description: `SQLite ${file}`, close: async () => void db.close() };
}

/** Every event in global order, a page at a time. */
export async function* eventPages(store: Pick<EventStore, 'readAll'>, pageSize = 1000): AsyncGenerator<StoredEvent[]> {
  let after = 0;
  for (;;) {
    const page = await store.readAll({ after, limit: pageSize });
    if (page.length === 0) return;
    yield page;
    after = page[page.length - 1]!.position;
  }
}

/**
 * The TOTP secret key ring, with the api's precedence: TWOSTEP_SECRET_KEYS, else the
 * `secretKeys` that embedded mode generated into `<data dir>/keys.json`. Read here rather than
 * with loadSecrets, which also insists on API keys, the hash key and the mail key - none of
 * which re-encryption needs.
 */
export function loadSecretBox(env: Env): SecretBox {
  let spec = env.TWOSTEP_SECRET_KEYS;
  const keyFile = path.resolve(env.TWOSTEP_DATA_DIR, 'keys.json');
  if (!spec && fs.existsSync(keyFile)) {
    try {
      spec = (JSON.parse(fs.readFileSync(keyFile, 'utf8')) as { secretKeys?: string }).secretKeys;
    } catch {
      throw new CliError(`${keyFile} is not valid JSON`);
    }
  }
  if (!spec) throw new CliError(`TWOSTEP_SECRET_KEYS: required (kid:base64key[,kid:base64key], first = active); ${keyFile} has none either`);
  try {
    const ring = parseKeyRing(spec);
    return new SecretBox(ring.keys, ring.activeKeyId);
  } catch (error) {
    // parseKeyRing's messages name entries by position, never key bytes.
    throw new CliError(`TWOSTEP_SECRET_KEYS: ${(error as Error).message}`);
  }
}

/**
 * Snapshots for CommandPath. The CLI folds whole streams and keeps no snapshots: it must not
 * depend on (or leave behind) cached state that an auditor cannot check against the log.
 */
export class MemoryKeyValueStore implements KeyValueStore {
  private readonly values = new Map<string, string>();
  async get(key: string): Promise<string | null> {
    return this.values.get(key) ?? null;
  }
  async set(key: string, value: string): Promise<void> {
    this.values.set(key, value);
  }
  async setIfAbsent(key: string, value: string): Promise<boolean> {
    if (this.values.has(key)) return false;
    this.values.set(key, value);
    return true;
  }
  async delete(key: string): Promise<void> {
    this.values.delete(key);
  }
  async close(): Promise<void> {}
}

function hasTable(db: Database.Database, name: string): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
}

/** esdb://user:password@host → esdb://***@host */
function maskUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
