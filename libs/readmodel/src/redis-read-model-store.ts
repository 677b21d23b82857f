import { createHash } from 'node:crypto';
import { Redis } from 'ioredis';
import { parseStream } from '@twostep/domain';
import type { StoredEvent } from '@twostep/eventstore';
import type { KeyValueStore, ReadModelStore } from './ports';
import { projectStatus, toLogEntry } from './projections';
import type { EventLogEntry, StatusView } from './views';

export interface RedisStoreOptions {
  /** Namespace for every key this store touches; default `twostep:`. */
  prefix?: string;
}

const DEFAULT_PREFIX = 'twostep:';
/** Compare-and-set conflicts on one account view before apply gives up (each retry re-reads the view). */
const MAX_APPLY_ATTEMPTS = 20;
const RESET_BATCH = 500;

/**
 * One event, applied atomically (a Lua script runs alone on the server):
 * - the status view (JSON string) is replaced only if it still is the view the caller computed
 *   from (compare-and-set on its revision). If another instance already stored this revision or
 *   a newer one, the view is left alone; otherwise the caller re-reads and recomputes (returns 0).
 * - the event log is a sorted set scored by stream revision; a revision already present is not
 *   added again, so a redelivery leaves no duplicate.
 * - the checkpoint only moves forward.
 *
 * KEYS: 1 status view, 2 event log, 3 checkpoint, 4 index of accounts (for reset)
 * ARGV: 1 '1' when the event belongs to an account, 2 revision of the view the caller read ('' = none),
 *       3 the new view JSON ('' = unchanged), 4 event revision, 5 log entry JSON, 6 event position,
 *       7 account id
 */
const APPLY_SCRIPT = `
if ARGV[1] == '1' then
  local eventRevision = tonumber(ARGV[4])
  if ARGV[3] ~= '' then
    local current = redis.call('GET', KEYS[1])
    local currentRevision = nil
    if current then currentRevision = tonumber(cjson.decode(current)['revision']) end
    local unchanged = (current == false and ARGV[2] == '') or
      (current ~= false and ARGV[2] ~= '' and currentRevision == tonumber(ARGV[2]))
    if unchanged then
      redis.call('SET', KEYS[1], ARGV[3])
    elseif current ~= false and currentRevision >= eventRevision then
      -- this revision or a newer one is already in the view
    else
      return 0
    end
  end
  if redis.call('ZCOUNT', KEYS[2], eventRevision, eventRevision) == 0 then
    redis.call('ZADD', KEYS[2], eventRevision, ARGV[5])
  end
  redis.call('SADD', KEYS[4], ARGV[7])
end
local checkpoint = tonumber(redis.call('GET', KEYS[3]) or '0')
if tonumber(ARGV[6]) > checkpoint then
  redis.call('SET', KEYS[3], ARGV[6])
end
return 1
`;

/**
 * Drops up to ARGV[3] accounts' views and logs. KEYS: 1 index of accounts.
 * ARGV: 1 status key prefix, 2 log key prefix, 3 batch size. Returns how many accounts it dropped.
 */
const RESET_SCRIPT = `
local ids = redis.call('SPOP', KEYS[1], tonumber(ARGV[3]))
for _, id in ipairs(ids) do
  redis.call('DEL', ARGV[1] .. id, ARGV[2] .. id)
end
return #ids
`;

/** EVALSHA with a fallback to EVAL when the server does not know the script (restart, SCRIPT FLUSH). */
class Script {
  private readonly sha: string;

  constructor(private readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(redis: Redis, keys: string[], args: (string | number)[]): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return redis.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}

const applyScript = new Script(APPLY_SCRIPT);
const resetScript = new Script(RESET_SCRIPT);

/**
 * Read models in Redis. Key layout under the prefix (default `twostep:`):
 * - `rm:status:<tenant>|<user>`  string: the StatusView as JSON (its `revision` guards updates)
 * - `rm:log:<tenant>|<user>`     sorted set: EventLogEntry JSON scored by stream revision
 * - `rm:accounts`                set: every account that has a view (so reset needs no SCAN)
 * - `rm:checkpoint:<projection>` string: global position of the last applied event
 *
 * The connection belongs to the caller: close() leaves it open. Multi-key scripts assume a
 * single Redis (or a cluster slot); Redis Cluster is not supported.
 */
export class RedisReadModelStore implements ReadModelStore {
  private readonly prefix: string;

  constructor(
    private readonly redis: Redis,
    options: RedisStoreOptions = {},
  ) {
    this.prefix = options.prefix ?? DEFAULT_PREFIX;
  }

  private statusKey(account: string): string {
    return `${this.prefix}rm:status:${account}`;
  }

  private logKey(account: string): string {
    return `${this.prefix}rm:log:${account}`;
  }

  private checkpointKey(projection: string): string {
    return `${this.prefix}rm:checkpoint:${projection}`;
  }

  private get indexKey(): string {
    return `${this.prefix}rm:accounts`;
  }

  async apply(projection: string, event: StoredEvent): Promise<void> {
    const stream = parseStream(event.stream);
    const checkpointKey = this.checkpointKey(projection);
    if (stream.kind !== 'account') {
      // Only the checkpoint moves; the other keys are placeholders the script does not touch.
      await applyScript.run(this.redis, [checkpointKey, checkpointKey, checkpointKey, this.indexKey], ['0', '', '', 0, '', event.position, '']);
      return;
    }
    const account = `${stream.tenantId}|${stream.userId}`;
    const keys = [this.statusKey(account), this.logKey(account), checkpointKey, this.indexKey];
    const entry = JSON.stringify(toLogEntry(event));
    for (let attempt = 1; attempt <= MAX_APPLY_ATTEMPTS; attempt++) {
      const raw = await this.redis.get(keys[0]!);
      const before = raw === null ? null : (JSON.parse(raw) as StatusView);
      const after = projectStatus(before, event);
      const view = after && after !== before ? JSON.stringify(after) : '';
      const expected = before === null ? '' : String(before.revision);
      const applied = await applyScript.run(this.redis, keys, ['1', expected, view, event.revision, entry, event.position, account]);
      if (applied === 1) return;
    }
    throw new Error(`Status view of ${account} kept changing while applying revision ${event.revision}; gave up after ${MAX_APPLY_ATTEMPTS} attempts`);
  }

  /** Event by event (each one atomic with its checkpoint, as `apply`): a crash mid-page replays the rest. */
  async applyPage(projection: string, events: readonly StoredEvent[]): Promise<void> {
    for (const event of events) await this.apply(projection, event);
  }

  async checkpoint(projection: string): Promise<number> {
    const raw = await this.redis.get(this.checkpointKey(projection));
    return raw === null ? 0 : Number(raw);
  }

  async status(tenantId: string, userId: string): Promise<StatusView | null> {
    const raw = await this.redis.get(this.statusKey(`${tenantId}|${userId}`));
    return raw === null ? null : (JSON.parse(raw) as StatusView);
  }

  async eventLog(tenantId: string, userId: string, options: { after?: number; limit?: number } = {}): Promise<EventLogEntry[]> {
    const limit = options.limit ?? 100;
    if (limit <= 0) return [];
    const rows = await this.redis.zrangebyscore(this.logKey(`${tenantId}|${userId}`), `(${options.after ?? -1}`, '+inf', 'LIMIT', 0, limit);
    return rows.map((row) => JSON.parse(row) as EventLogEntry);
  }

  async reset(projection: string): Promise<void> {
    const statusPrefix = this.statusKey('');
    const logPrefix = this.logKey('');
    while (Number(await resetScript.run(this.redis, [this.indexKey], [statusPrefix, logPrefix, RESET_BATCH])) > 0);
    await this.redis.del(this.checkpointKey(projection));
  }

  async close(): Promise<void> {
    // The connection belongs to whoever opened it.
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
    redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 2, connectTimeout, enableOfflineQueue: true, disconnectTimeout: 100 });
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
