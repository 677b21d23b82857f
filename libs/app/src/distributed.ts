import { ConfigError, type Env } from '@twostep/config';
import { hasOpsKey, refuseOps } from './ops-key';
import { STREAM_PREFIXES } from '@twostep/domain';
import { EsdbEventStore, type SubscriptionOptions } from '@twostep/eventstore';
import { connectRedis, RedisKeyValueStore, RedisReadModelStore, type KeyValueStore, type ReadModelStore } from '@twostep/readmodel';

/** Settings only the distributed processes read (validated by `parseEnv` like the rest). */
export interface WorkerSettings {
  redisKeyPrefix?: string;
  mailerGroupId: string;
  healthPort?: number;
}

export function workerSettings(env: Env): WorkerSettings {
  return { redisKeyPrefix: env.REDIS_KEY_PREFIX, mailerGroupId: env.KAFKA_MAILER_GROUP_ID, healthPort: env.HEALTH_PORT };
}

export interface RedisStores {
  readModels: ReadModelStore;
  /** close() also quits the Redis connection (after the read model store closed). */
  kv: KeyValueStore;
}

/** Read models, checkpoints and dedupe marks in Redis, on one connection that `kv.close()` quits. */
export async function openRedisStores(env: Env): Promise<RedisStores> {
  if (!env.REDIS_URL) throw new ConfigError(['REDIS_URL: required']);
  const { redisKeyPrefix } = workerSettings(env);
  const options = redisKeyPrefix ? { prefix: redisKeyPrefix } : {};
  const redis = await connectRedis(env.REDIS_URL);
  const readModels = new RedisReadModelStore(redis, options);
  const kv = new RedisKeyValueStore(redis, options);
  const closeKv = kv.close.bind(kv);
  kv.close = async () => {
    try {
      await closeKv();
    } finally {
      if (redis.status !== 'end') {
        // quit() waits for replies to commands already sent; disconnect() if that fails.
        await redis.quit().catch(() => redis.disconnect());
      }
    }
  };
  return { readModels, kv };
}

/** EventStoreDB, limited to twostep's streams. `subscription` tunes retries and error reporting of subscribeAll. */
export function connectEventStore(env: Env, subscription: SubscriptionOptions = {}): EsdbEventStore {
  if (!env.ESDB_URL) throw new ConfigError(['ESDB_URL: required']);
  return EsdbEventStore.connect(env.ESDB_URL, { ...subscription, prefixes: [...STREAM_PREFIXES] });
}


export interface HealthReport {
  ok: boolean;
  [detail: string]: unknown;
}

export interface HealthServer {
  port: number;
  close(): Promise<void>;
}

/**
 * A minimal health endpoint for the worker processes (projector, mailer), for container
 * healthchecks: `GET /health/live` (the process answers) and `GET /health/ready` (`ready()`
 * says it can do its work). 200 when ok, 503 otherwise, JSON either way. No secrets in the report.
 * With `metrics`, also `GET /metrics` in Prometheus' text format.
 */
export async function serveHealth(
  port: number,
  ready: () => Promise<HealthReport>,
  host = '0.0.0.0',
  metrics?: { contentType: string; metrics(): Promise<string> },
  opsKey?: string,
): Promise<HealthServer> {
  const http = await import('node:http');
  const server = http.createServer((request, response) => {
    const reply = (status: number, body: object) => {
      response.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      response.end(JSON.stringify(body));
    };
    if (request.method !== 'GET') return reply(405, { error: 'method_not_allowed' });
    if (request.url === '/health/live') return reply(200, { ok: true });
    if (request.url === '/health/ready') {
      ready().then(
        (report) => reply(report.ok ? 200 : 503, report),
        (error: unknown) => reply(503, { ok: false, error: (error as Error).message }),
      );
      return;
    }
    if (request.url === '/metrics' && metrics) {
      if (opsKey && !hasOpsKey(request, opsKey)) return refuseOps(response);
      metrics.metrics().then(
        (text) => {
          response.writeHead(200, { 'content-type': metrics.contentType, 'cache-control': 'no-store' });
          response.end(text);
        },
        (error: unknown) => reply(500, { error: 'metrics_failed', message: (error as Error).message }),
      );
      return;
    }
    reply(404, { error: 'not_found' });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
