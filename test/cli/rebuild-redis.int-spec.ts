import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import type { Redis } from 'ioredis';
import { connectRedis, RedisReadModelStore, type StatusView } from '@twostep/readmodel';
import { cli, seedLog, tempDir } from './support';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

/** `twostep replay --rebuild` with REDIS_URL set rebuilds the api's Redis read models (`npm run infra:up` starts Redis). */
describe('twostep replay --rebuild into Redis', () => {
  const dataDir = tempDir();
  // Given without the trailing ':' on purpose: the CLI must complete it as the api does.
  const prefix = `twostep-cli-test-${randomUUID().slice(0, 8)}`;
  let redis: Redis;

  beforeAll(async () => {
    redis = await connectRedis(REDIS_URL); // throws (the suite fails) when Redis is down
    await seedLog(dataDir);
  });
  afterAll(async () => {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 500);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
    await redis.quit();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('resets and rebuilds the views, the log and the checkpoint under REDIS_KEY_PREFIX', async () => {
    const env = { REDIS_URL, REDIS_KEY_PREFIX: prefix };
    const store = new RedisReadModelStore(redis, { prefix: `${prefix}:` });
    // A stale view the rebuild must drop.
    await redis.set(`${prefix}:rm:status-v2:doc:store-1|ghost`, JSON.stringify({ tenantId: 'store-1', userId: 'ghost', revision: 0 }));
    await redis.sadd(`${prefix}:rm:status-v2:ids`, 'store-1|ghost');

    const run = await cli(['replay', '--rebuild', '--data-dir', dataDir], env);
    expect(run.err).toMatch(/^applied 9 events in /);
    expect(run.out).toMatch(new RegExp(`^rebuilt read models \\(status-v2, event-log-v2\\) in Redis redis://.* \\(prefix ${prefix}:\\) from 9 events of SQLite .*; checkpoint 9\\n$`));
    expect(run.code).toBe(0);

    const replayed = (await cli(['replay', '--json', '--data-dir', dataDir])).out.trim().split('\n').map((line) => JSON.parse(line) as StatusView);
    for (const view of replayed) expect(await store.status(view.tenantId, view.userId)).toEqual(view);
    expect(await store.status('store-1', 'ghost')).toBeNull();
    expect(await store.checkpoint()).toBe(9);
    expect((await store.eventLog('store-1', 'alice')).map((entry) => entry.type)).toEqual([
      'TotpSetupStarted',
      'TwoFactorEnabled',
      'ChallengeStarted',
      'ChallengePassed',
      'ResellerDisabled',
    ]);
  });

  it("waits for a running projector's lease, gives up without touching the views, and gives its own lease back", async () => {
    const env = { REDIS_URL, REDIS_KEY_PREFIX: prefix };
    const lease = `${prefix}:kv:lease:projector`;
    await redis.set(`${prefix}:rm:status-v2:doc:store-1|ghost`, JSON.stringify({ tenantId: 'store-1', userId: 'ghost', revision: 0 }));
    await redis.sadd(`${prefix}:rm:status-v2:ids`, 'store-1|ghost');
    await redis.set(lease, 'projector-on-another-host', 'EX', 30);

    const blocked = await cli(['rebuild-projections', '--wait', '1', '--data-dir', dataDir], env);
    expect(blocked.code).toBe(1);
    expect(blocked.err).toContain('a projector is running (lease lease:projector held by projector-on-another-host); waiting up to 1 s');
    expect(blocked.err).toContain('a projector is still running (it holds lease:projector in Redis');
    expect(await redis.get(`${prefix}:rm:status-v2:doc:store-1|ghost`)).not.toBeNull(); // nothing was reset
    expect(await redis.get(lease)).toBe('projector-on-another-host');

    await redis.del(lease);
    const run = await cli(['rebuild-projections', '--wait', '1', '--data-dir', dataDir], env);
    expect(run.code).toBe(0);
    expect(await redis.get(`${prefix}:rm:status-v2:doc:store-1|ghost`)).toBeNull();
    expect(await redis.exists(lease)).toBe(0);
    expect((await cli(['rebuild-projections', '--wait', 'soon', '--data-dir', dataDir], env)).err).toContain("--wait must be a whole number of seconds (0-9999); got 'soon'");
  });

  it('fails clearly when Redis cannot be reached, or the prefix is invalid', async () => {
    const down = await cli(['replay', '--rebuild', '--data-dir', dataDir], { REDIS_URL: 'redis://:secret@127.0.0.1:1' });
    expect(down.code).toBe(1);
    expect(down.err).toMatch(/^twostep replay: Redis is unreachable at redis:\/\/:\*\*\*@127\.0\.0\.1:1/);
    expect(down.err).not.toContain('secret');
    const bad = await cli(['rebuild-projections', '--data-dir', dataDir], { REDIS_URL, REDIS_KEY_PREFIX: 'has space' });
    expect(bad).toMatchObject({ code: 1, err: 'twostep rebuild-projections: invalid configuration: REDIS_KEY_PREFIX: 1-64 characters of A-Z a-z 0-9 : _ . -\n' });
  });
});
