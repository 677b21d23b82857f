import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { ConfigError, loadSecrets, type Env, type Secrets } from '@twostep/config';
import { SqliteEventStore, type EventStore } from '@twostep/eventstore';
import { SqliteKeyValueStore, SqliteReadModelStore, type KeyValueStore, type ReadModelStore } from '@twostep/readmodel';
import { systemClock, type Clock } from './clock';
import { CommandPath } from './command-path';
import { guardKeys } from './key-guard';
import { PolicyReader } from './policy-reader';

/** Everything a process needs, chosen by configuration: embedded SQLite or the distributed adapters. */
export interface Runtime {
  env: Env;
  secrets: Secrets;
  clock: Clock;
  eventStore: EventStore;
  readModels: ReadModelStore;
  kv: KeyValueStore;
  commandPath: CommandPath;
  policies: PolicyReader;
  /** Human-readable adapter names for the start-up banner and /health. */
  adapters: { eventStore: string; readModels: string };
  close(): Promise<void>;
}

export interface RuntimeOptions {
  clock?: Clock;
  /** Generate missing keys into the data dir (embedded start, tests). */
  generateMissingKeys: boolean;
  /** Processes that deliver mail need the mailer's private key. */
  needsOpener: boolean;
}

/** Adapter factories for the distributed mode register here, so the embedded path has no hard dependency on them. */
export interface DistributedAdapters {
  eventStore?: (env: Env) => Promise<EventStore>;
  readModels?: (env: Env) => Promise<{ readModels: ReadModelStore; kv: KeyValueStore }>;
}

/** The data dir exists (created owner-only) and can be written, or start-up stops naming it. */
function prepareDataDir(dir: string): void {
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (!fs.statSync(dir).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    fs.accessSync(dir, fs.constants.W_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOTDIR' || code === 'EEXIST' ? 'is not a directory' : code === 'EACCES' || code === 'EPERM' || code === 'EROFS' ? 'cannot be written' : `cannot be used (${code ?? 'error'})`;
    throw new ConfigError([`TWOSTEP_DATA_DIR: ${path.resolve(dir)} ${why}`]);
  }
}

export async function createRuntime(env: Env, options: RuntimeOptions, distributed: DistributedAdapters = {}): Promise<Runtime> {
  prepareDataDir(env.TWOSTEP_DATA_DIR);
  const secrets = loadSecrets(env, { generateMissing: options.generateMissingKeys, needsOpener: options.needsOpener });
  const clock = options.clock ?? systemClock;

  let db: Database.Database | null = null;
  const sqlite = (): Database.Database => {
    if (!db) {
      db = new Database(path.join(env.TWOSTEP_DATA_DIR, 'twostep.db'));
      db.pragma('journal_mode = WAL');
      db.pragma('busy_timeout = 5000');
      db.pragma('synchronous = NORMAL');
    }
    return db;
  };

  const useEsdb = Boolean(env.ESDB_URL && distributed.eventStore);
  const useRedis = Boolean(env.REDIS_URL && distributed.readModels);
  if (env.ESDB_URL && !distributed.eventStore) throw new Error('ESDB_URL is set but this process has no EventStoreDB adapter');
  if (env.REDIS_URL && !distributed.readModels) throw new Error('REDIS_URL is set but this process has no Redis adapter');

  const eventStore = useEsdb ? await distributed.eventStore!(env) : new SqliteEventStore(sqlite());
  const stores = useRedis
    ? await distributed.readModels!(env)
    : { readModels: new SqliteReadModelStore(sqlite()), kv: new SqliteKeyValueStore(sqlite()) };
  const close = async () => {
    await eventStore.close();
    await stores.readModels.close();
    await stores.kv.close();
    (db as Database.Database | null)?.close();
  };
  try {
    await guardKeys(stores.kv, secrets.fingerprints, { logHead: await eventStore.headPosition(), generatedKeys: secrets.generatedKeys, keyFile: secrets.keyFile });
    secrets.persist();
  } catch (error) {
    await close();
    throw error;
  }
  const commandPath = new CommandPath(eventStore, stores.kv, clock);

  return {
    env,
    secrets,
    clock,
    eventStore,
    readModels: stores.readModels,
    kv: stores.kv,
    commandPath,
    policies: new PolicyReader(commandPath),
    adapters: { eventStore: useEsdb ? 'eventstoredb' : 'sqlite', readModels: useRedis ? 'redis' : 'sqlite' },
    close,
  };
}
