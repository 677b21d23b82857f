import type { Redis } from 'ioredis';

type IoRedis = typeof import('ioredis');
let ioredis: IoRedis | undefined;

/**
 * The driver is loaded when a connection is made, not at import: index.ts exports this adapter,
 * and the embedded (SQLite) processes should not keep a driver they never use in their heap.
 */
function redisDriver(): IoRedis {
  return (ioredis ??= require('ioredis') as IoRedis);
}
import type { KeyValueStore } from './ports';
import { READ_MODELS } from './projections';
import { ReadModels } from './read-models';
import { RedisProjectionStore } from './redis-projection-store';

export interface RedisStoreOptions {
  /** Namespace for every key this store touches; default `twostep:`. */
  prefix?: string;
}

const DEFAULT_PREFIX = 'twostep:';

/** The read models in Redis (key layout: RedisProjectionStore). The connection belongs to the caller. */
export class RedisReadModelStore extends ReadModels {
  readonly prefix: string;

  constructor(redis: Redis, options: RedisStoreOptions = {}) {
    const prefix = options.prefix ?? DEFAULT_PREFIX;
    super(new RedisProjectionStore(redis, prefix, READ_MODELS));
    this.prefix = prefix;
  }
}

/** Keyed values under `<prefix>kv:<key>`, with Redis' own expiry. The connection belongs to the caller. */
export class RedisKeyValueStore implements KeyValueStore {
  private readonly prefix: string;

  constructor(
    private readonly redis: Redis,
    options: RedisStoreOptions = {},
  ) {
    this.prefix = options.prefix ?? DEFAULT_PREFIX;
  }

  private key(key: string): string {
    return `${this.prefix}kv:${key}`;
  }

  async get(key: string): Promise<string | null> {
    return this.redis.get(this.key(key));
  }

  async set(key: string, value: string, ttlSeconds?: number): Promise<void> {
    if (ttlSeconds) await this.redis.set(this.key(key), value, 'PX', ttlMillis(ttlSeconds));
    else await this.redis.set(this.key(key), value);
  }

  async setIfAbsent(key: string, value: string, ttlSeconds?: number): Promise<boolean> {
    const result = ttlSeconds
      ? await this.redis.set(this.key(key), value, 'PX', ttlMillis(ttlSeconds), 'NX')
      : await this.redis.set(this.key(key), value, 'NX');
    return result === 'OK';
  }

  async delete(key: string): Promise<void> {
    await this.redis.del(this.key(key));
  }

  async close(): Promise<void> {
    // The connection belongs to whoever opened it.
  }
}

/** Like the SQLite store, a TTL counts in (possibly fractional) seconds; Redis wants whole milliseconds >= 1. */
function ttlMillis(ttlSeconds: number): number {
  return Math.max(1, Math.round(ttlSeconds * 1000));
}

/** `redis://user:secret@host` → `redis://user:***@host`, for error messages. */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<unparseable REDIS_URL>';
  }
}

/**
 * Connects and waits until Redis answers; rejects with a clear error (password redacted) when it
 * cannot, instead of retrying forever in the background. After a successful start, ioredis
 * reconnects on its own; commands fail after `maxRetriesPerRequest` instead of hanging.
 * The caller owns the connection and ends it with `quit()`.
 */
export async function connectRedis(url: string, options: { connectTimeoutMs?: number } = {}): Promise<Redis> {
  const connectTimeout = options.connectTimeoutMs ?? 5000;
  let redis: Redis;
  try {
    redis = new (redisDriver().Redis)(url, { lazyConnect: true, maxRetriesPerRequest: 2, connectTimeout, enableOfflineQueue: true, disconnectTimeout: 100 });
  } catch (error) {
    throw new Error(`REDIS_URL ${redactRedisUrl(url)} is not a valid Redis URL: ${(error as Error).message}`);
  }
  // Without a listener ioredis prints every reconnect error; the owner may add its own for logging.
  let lastError: Error | null = null;
  redis.on('error', (error: Error) => {
    lastError = error;
  });
  const attempt = (async () => {
    await redis.connect();
    await redis.ping();
  })();
  attempt.catch(() => undefined); // it may settle after the deadline won the race
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${connectTimeout} ms`)), connectTimeout);
  });
  try {
    await Promise.race([attempt, deadline]);
  } catch (error) {
    redis.disconnect(); // also stops the reconnect loop a failed first attempt starts
    const causes = [...new Set([(lastError as Error | null)?.message, (error as Error).message].filter(Boolean))];
    throw new Error(`Redis is unreachable at ${redactRedisUrl(url)}: ${causes.join('; ')}`);
  } finally {
    clearTimeout(timer);
  }
  return redis;
}
