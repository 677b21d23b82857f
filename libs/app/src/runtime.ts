import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, loadSecrets, type Env, type Secrets } from '@twostep/config';
import type { EventStore } from '@twostep/eventstore';
import type { KeyValueStore, ReadModelStore } from '@twostep/readmodel';
import { systemClock, type Clock } from './clock';
import { CommandPath } from './command-path';
import { guardKeys } from './key-guard';
import { PolicyReader } from './policy-reader';
import { openStores, type Stores } from './stores';

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

export async function createRuntime(env: Env, options: RuntimeOptions): Promise<Runtime> {
  prepareDataDir(env.TWOSTEP_DATA_DIR);
  const secrets = loadSecrets(env, { generateMissing: options.generateMissingKeys, needsOpener: options.needsOpener });
  const clock = options.clock ?? systemClock;
  const stores: Stores = await openStores(env);
  const { eventStore } = stores;
  try {
    await guardKeys(stores.kv, secrets.fingerprints, { logHead: await eventStore.headPosition(), generatedKeys: secrets.generatedKeys, keyFile: secrets.keyFile });
    secrets.persist();
  } catch (error) {
    await stores.close();
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
    adapters: stores.adapters,
    close: () => stores.close(),
  };
}
