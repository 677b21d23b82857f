import { randomUUID } from 'node:crypto';
import * as net from 'node:net';
import { accountStream } from '@twostep/domain';
import type { Redis } from 'ioredis';
import { READ_MODELS } from './projections';
import { RedisProjectionStore } from './redis-projection-store';
import { connectRedis, redactRedisUrl, RedisKeyValueStore, RedisReadModelStore } from './redis-read-model-store';
import { projectStatus } from './status.projection';
import { projectionStoreContract } from './testing/projection-store.contract';
import { readModelStoreContract, storedEvent } from './testing/read-model.contract';
import type { StatusView } from './views';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const RUN = `twostep-test:${randomUUID().slice(0, 8)}:`;

/** Deletes every key under a prefix (test-only: SCAN over the whole keyspace). */
async function dropPrefix(redis: Redis, prefix: string): Promise<void> {
  const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
    if (keys.length > 0) await redis.del(...keys);
    cursor = next;
  } while (cursor !== '0');
}

readModelStoreContract('RedisReadModelStore', async () => {
  const redis = await connectRedis(REDIS_URL); // throws (the test fails) when Redis is down
  const prefix = `${RUN}${randomUUID().slice(0, 8)}:`;
  return {
    readModels: new RedisReadModelStore(redis, { prefix }),
    kv: new RedisKeyValueStore(redis, { prefix }),
    async cleanup() {
      await dropPrefix(redis, prefix);
      await redis.quit();
    },
  };
});

projectionStoreContract('RedisProjectionStore', async () => {
  const redis = await connectRedis(REDIS_URL);
  const prefix = `${RUN}${randomUUID().slice(0, 8)}:`;
  return {
    open: (projections) => new RedisProjectionStore(redis, prefix, projections),
    async cleanup() {
      await dropPrefix(redis, prefix);
      await redis.quit();
    },
  };
});

describe('RedisReadModelStore', () => {
  let redis: Redis;
  let prefix: string;
  const extra: Redis[] = [];

  beforeEach(async () => {
    redis = await connectRedis(REDIS_URL);
    prefix = `${RUN}${randomUUID().slice(0, 8)}:`;
  });

  afterEach(async () => {
    await dropPrefix(redis, prefix);
    await Promise.all([redis, ...extra.splice(0)].map((r) => r.quit()));
  });

  const enable = (tenant: string, user: string) => [
    storedEvent(accountStream(tenant, user), 0, 1, 'TotpSetupStarted', { secret: { kid: 'k1' } }),
    storedEvent(accountStream(tenant, user), 1, 2, 'TwoFactorEnabled', { method: 'totp', recoveryCodeHashes: ['a', 'b'], confirmedStep: 1 }),
  ];

  it('keeps the documented key layout under its prefix (default twostep:)', async () => {
    const store = new RedisReadModelStore(redis, { prefix });
    const [setup, enabled] = enable('shop-1', 'u1');
    await store.apply(setup!);
    await store.apply(enabled!);

    const view = JSON.parse((await redis.get(`${prefix}rm:status-v2:doc:shop-1|u1`))!) as StatusView;
    expect(view).toEqual(projectStatus(projectStatus(null, setup!), enabled!));
    expect(await redis.get(`${prefix}rm:status-v2:head:shop-1|u1`)).toBe('1');
    expect(await redis.get(`${prefix}rm:event-log-v2:head:shop-1|u1`)).toBe('1');
    expect(await redis.zrange(`${prefix}rm:event-log-v2:log:shop-1|u1`, 0, -1, 'WITHSCORES')).toEqual([expect.stringContaining(setup!.eventId), '0', expect.stringContaining(enabled!.eventId), '1']);
    for (const { name } of READ_MODELS) {
      expect(await redis.get(`${prefix}rm:${name}:checkpoint`)).toBe('2');
      expect(await redis.smembers(`${prefix}rm:${name}:ids`)).toEqual(['shop-1|u1']);
    }

    const kv = new RedisKeyValueStore(redis, { prefix });
    await kv.set('dedupe:x', '1', 60);
    expect(await redis.get(`${prefix}kv:dedupe:x`)).toBe('1');
    const ttl = await redis.pttl(`${prefix}kv:dedupe:x`);
    expect(ttl).toBeGreaterThan(55_000);
    expect(ttl).toBeLessThanOrEqual(60_000);

    // Without options the prefix is `twostep:`, checked without writing under it.
    expect((new RedisReadModelStore(redis) as unknown as { prefix: string }).prefix).toBe('twostep:');
    expect((new RedisKeyValueStore(redis) as unknown as { prefix: string }).prefix).toBe('twostep:');
  });

  it('keeps stores with different prefixes apart, also in reset', async () => {
    const a = new RedisReadModelStore(redis, { prefix: `${prefix}a:` });
    const b = new RedisReadModelStore(redis, { prefix: `${prefix}b:` });
    for (const e of enable('shop-1', 'u1')) await a.apply(e);
    for (const e of enable('shop-1', 'u1')) await b.apply(e);
    await a.reset();
    expect(await a.status('shop-1', 'u1')).toBeNull();
    expect(await b.status('shop-1', 'u1')).toEqual(expect.objectContaining({ status: 'Enabled' }));
    expect(await b.checkpoint()).toBe(2);
  });

  it('resets many accounts in batches', async () => {
    const store = new RedisReadModelStore(redis, { prefix });
    const users = Array.from({ length: 1203 }, (_, i) => `u${i}`);
    const pipeline = redis.pipeline();
    for (const u of users) {
      pipeline.set(`${prefix}rm:status-v2:head:shop|${u}`, '0');
      pipeline.set(`${prefix}rm:status-v2:doc:shop|${u}`, '{}');
      pipeline.sadd(`${prefix}rm:status-v2:ids`, `shop|${u}`);
      pipeline.set(`${prefix}rm:event-log-v2:head:shop|${u}`, '0');
      pipeline.zadd(`${prefix}rm:event-log-v2:log:shop|${u}`, 0, '{}');
      pipeline.sadd(`${prefix}rm:event-log-v2:ids`, `shop|${u}`);
    }
    await pipeline.exec();
    await store.reset();
    const [, left] = await redis.scan('0', 'MATCH', `${prefix}*`, 'COUNT', 100_000);
    expect(left).toEqual([]);
  });

  it('does not regress a view when two projector instances with their own connections race', async () => {
    const second = await connectRedis(REDIS_URL);
    extra.push(second);
    const one = new RedisReadModelStore(redis, { prefix });
    const two = new RedisReadModelStore(second, { prefix });
    const stream = accountStream('shop-1', 'u1');
    const events = Array.from({ length: 60 }, (_, i) =>
      i === 0
        ? storedEvent(stream, 0, 1, 'TwoFactorEnabled', { method: 'totp', recoveryCodeHashes: ['a'], confirmedStep: 1 })
        : storedEvent(stream, i, i + 1, 'AttemptFailed', { challengeId: 'c', method: 'totp', reason: 'wrong_code', failedAttempts: i, attemptsLeft: 2 }),
    );
    const run = async (store: RedisReadModelStore) => {
      for (const e of events) await store.apply(e);
    };
    await Promise.all([run(one), run(two), run(one)]);
    expect(await one.status('shop-1', 'u1')).toEqual(events.reduce<StatusView | null>((v, e) => projectStatus(v, e), null));
    expect(await two.eventLog('shop-1', 'u1', { limit: 1000 })).toHaveLength(60);
    expect(await two.checkpoint()).toBe(60);
  });

  /** A client whose scripts wait for `release()`: an instance that read the view, then stalled. */
  function stalled(client: Redis): { client: Redis; reached: Promise<void>; release(): void } {
    let release!: () => void;
    let reached!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const reachedP = new Promise<void>((resolve) => (reached = resolve));
    let first = true;
    const proxy = new Proxy(client, {
      get(target, prop, receiver) {
        if (prop === 'evalsha' && first) {
          first = false;
          return async (...args: unknown[]) => {
            reached();
            await gate;
            return (target.evalsha as (...a: unknown[]) => Promise<unknown>)(...args);
          };
        }
        const value = Reflect.get(target, prop, receiver);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    return { client: proxy, reached: reachedP, release };
  }

  const life = (tenant: string, user: string) => {
    const stream = accountStream(tenant, user);
    return [
      storedEvent(stream, 0, 1, 'TotpSetupStarted', { secret: { kid: 'k1' } }),
      storedEvent(stream, 1, 2, 'TwoFactorEnabled', { method: 'totp', recoveryCodeHashes: ['a', 'b', 'c'], confirmedStep: 1 }),
      storedEvent(stream, 2, 3, 'RecoveryCodeUsed', { challengeId: 'c', recoveryCodeHash: 'a', recoveryCodesRemaining: 2 }),
      storedEvent(stream, 3, 4, 'ResellerDisabled', { operatorId: 'op' }),
    ];
  };
  const fold = (events: ReturnType<typeof life>) => events.reduce<StatusView | null>((v, e) => projectStatus(v, e), null);

  it('a stalled instance that computed from an old view does not overwrite the newer view (compare-and-set)', async () => {
    const events = life('shop-1', 'u1');
    const fast = new RedisReadModelStore(redis, { prefix });
    const slow = stalled(redis);
    const lagging = new RedisReadModelStore(slow.client, { prefix });
    await fast.apply(events[0]!);
    await fast.apply(events[1]!);

    const late = lagging.apply(events[2]!); // reads the view at revision 1, computes revision 2
    await slow.reached;
    await fast.apply(events[2]!);
    await fast.apply(events[3]!); // the view is at revision 3: Disabled
    slow.release();
    await late;

    expect(await fast.status('shop-1', 'u1')).toEqual(fold(events));
    expect((await fast.status('shop-1', 'u1'))!.status).toBe('Disabled');
    expect((await fast.eventLog('shop-1', 'u1')).map((e) => e.revision)).toEqual([0, 1, 2, 3]);
  });

  it('an instance whose view went stale re-reads it and applies on top of the newer one', async () => {
    const events = life('shop-1', 'u1');
    const fast = new RedisReadModelStore(redis, { prefix });
    const slow = stalled(redis);
    const other = new RedisReadModelStore(slow.client, { prefix });
    await fast.apply(events[0]!);
    await fast.apply(events[1]!);

    const pending = other.applyPage([events[2]!, events[3]!]); // computes revisions 2 and 3 from revision 1
    await slow.reached;
    await fast.apply(events[2]!); // revision 2 lands first
    slow.release();
    await pending; // conflict: re-reads revision 2, skips it, and applies 3 on top

    expect(await fast.status('shop-1', 'u1')).toEqual(fold(events));
    expect(await fast.checkpoint()).toBe(4);
  });

  it('close() leaves the borrowed connection open', async () => {
    const store = new RedisReadModelStore(redis, { prefix });
    const kv = new RedisKeyValueStore(redis, { prefix });
    await store.close();
    await kv.close();
    expect(redis.status).toBe('ready');
    expect(await redis.ping()).toBe('PONG');
  });

  describe('connectRedis', () => {
    it('connects and answers', async () => {
      const own = await connectRedis(REDIS_URL);
      expect(await own.ping()).toBe('PONG');
      await own.quit();
    });

    it('fails fast with a clear message, and no password, when nothing listens', async () => {
      const port = await closedPort();
      const started = Date.now();
      await expect(connectRedis(`redis://user:s3cret@127.0.0.1:${port}`)).rejects.toThrow(
        new RegExp(`^Redis is unreachable at redis://user:\\*\\*\\*@127\\.0\\.0\\.1:${port}.*ECONNREFUSED`),
      );
      expect(Date.now() - started).toBeLessThan(3000);
    });

    it('times out on a server that never answers', async () => {
      const silent = net.createServer((socket) => socket.resume()); // reads, never answers
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const port = (silent.address() as net.AddressInfo).port;
      try {
        const started = Date.now();
        await expect(connectRedis(`redis://127.0.0.1:${port}`, { connectTimeoutMs: 500 })).rejects.toThrow(/Redis is unreachable/);
        expect(Date.now() - started).toBeLessThan(5000);
      } finally {
        await new Promise((resolve) => silent.close(resolve));
      }
    });

    it('redacts passwords', () => {
      expect(redactRedisUrl('redis://:pw@host:6379/0')).toBe('redis://:***@host:6379/0');
      expect(redactRedisUrl('redis://host:6379')).toBe('redis://host:6379');
    });
  });
});

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
