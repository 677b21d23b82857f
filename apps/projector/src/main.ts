import 'reflect-metadata';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { createLogger, Lease, openStores, Projector, PROJECTOR_LEASE, serveHealth, workerSettings, type HealthServer } from '@twostep/app';
import { waitForKafka, KafkaEventPublisher } from '@twostep/bus';
import { ConfigError, describeStartupFailure, parseEnv, type Env } from '@twostep/config';
import type { StoredEvent } from '@twostep/eventstore';
import { runRebuild } from './rebuild';
import { KafkaRelay } from './relay';

const USAGE = 'usage: node dist/apps/projector/src/main.js [run | rebuild]   (npm run start:projector [-- rebuild])';

/**
 * The projector process: two durable catch-up subscriptions on the event store.
 *  1. Projector → read models (status views, event logs) in Redis (REDIS_URL) or SQLite.
 *  2. KafkaRelay → every event to KAFKA_TOPIC (when KAFKA_BROKERS is set), for the mailer.
 * `rebuild` resets the read models and replays the whole event store into them, then exits.
 */
async function main(): Promise<void> {
  process.umask(0o077);
  const args = process.argv.slice(2);
  const command = args[0] === '--rebuild' ? 'rebuild' : (args[0] ?? 'run');
  if (!['run', 'rebuild'].includes(command) || args.length > 1) {
    process.stderr.write(`${USAGE}\n`);
    process.exit(2);
  }
  const env = parseEnv();
  const settings = workerSettings(env);
  const logger = createLogger(env.LOG_LEVEL).child({ app: 'projector' });
  if (command === 'rebuild') {
    process.exit(await runRebuild(env, logger, PROJECTOR_LEASE));
  }
  await run(env, settings.healthPort, logger);
}

async function run(env: Env, healthPort: number | undefined, logger: Logger): Promise<void> {
  let stopping = false;
  const failures = new Map<string, number>();
  // The projector needs no key material: it never opens, hashes or seals anything.
  const stores = await openStores(env, {
    // It follows the api's appends to the SQLite file: woken by the WAL file's changes, polling as the fallback.
    followOtherWriters: true,
    subscription: {
      // Retries of a failed page at most 1 s apart: a broker that is back is used within a second.
      maxRetryDelayMs: 1000,
      // Called before each retry of a failed handler: the projection or the relay (Kafka down, Redis down...).
      onHandlerError: (error: unknown, event: StoredEvent, attempt: number) => {
        failures.set(event.eventId, attempt);
        if (attempt === 1 || attempt % 10 === 0) {
          logger.warn({ position: event.position, type: event.type, attempt, error: (error as Error).message }, 'event handler failed; retrying the same event');
        }
      },
    },
  });

  const lease = new Lease(stores.kv, PROJECTOR_LEASE);
  const shutdownHooks: (() => Promise<void>)[] = [];
  let health: HealthServer | null = null;
  let projector: Projector | null = null;
  let relay: KafkaRelay | null = null;
  let publisher: KafkaEventPublisher | null = null;

  const shutdown = async (reason: string, code: number) => {
    if (stopping) return;
    stopping = true;
    logger.info({ reason }, 'projector stopping');
    // A publish stuck on an unreachable broker must not keep the process forever.
    setTimeout(() => {
      logger.error({ reason }, 'projector did not stop within 20 s; exiting');
      process.exit(1);
    }, 20_000).unref();
    try {
      await relay?.stop();
      await projector?.stop();
      await publisher?.close();
      await lease.release().catch(() => undefined);
      await health?.close();
      for (const hook of shutdownHooks) await hook();
      await stores.close();
      logger.info({ reason }, 'projector stopped');
    } catch (error) {
      logger.error({ error: (error as Error).message }, 'projector stop failed');
      code = code || 1;
    }
    process.exit(code);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM', 0));
  process.once('SIGINT', () => void shutdown('SIGINT', 0));

  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const relayedEvents = new Counter({ name: 'twostep_relay_events_total', help: 'Events published to Kafka by the relay', registers: [registry] });
  const relayPublish = new Histogram({
    name: 'twostep_relay_publish_duration_seconds',
    help: 'One acknowledged Kafka send of a page of events',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
    registers: [registry],
  });
  const relayBatch = new Histogram({ name: 'twostep_relay_batch_events', help: 'Events per relayed page', buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500], registers: [registry] });
  // Lags are read when scraped: the head of the log minus where each subscriber has got to.
  new Gauge({
    name: 'twostep_projector_lag_events',
    help: 'Events in the log not yet in the read models (projection) or not yet on Kafka (relay)',
    labelNames: ['subscriber'],
    registers: [registry],
    async collect() {
      const head = await stores.eventStore.headPosition();
      this.set({ subscriber: 'projection' }, head - (await stores.readModels.checkpoint()));
      if (relay) this.set({ subscriber: 'relay' }, head - (await relay.checkpoint()));
    },
  });

  if (healthPort !== undefined) {
    health = await serveHealth(healthPort, async () => {
      const head = await stores.eventStore.headPosition();
      const projected = await stores.readModels.checkpoint();
      const relayed = relay ? await relay.checkpoint() : null;
      return {
        ok: !stopping && projector !== null,
        active: projector !== null,
        head,
        projectionLag: head - projected,
        ...(relayed === null ? {} : { relayLag: head - relayed }),
      };
    }, '0.0.0.0', registry, env.TWOSTEP_OPS_KEY);
  }

  // One active projector: a second replica waits here as a standby.
  const acquired = await lease.acquire({
    isStopped: () => stopping,
    onWait: (holder) => logger.info({ lease: PROJECTOR_LEASE, holder }, 'another projector holds the lease; waiting as standby'),
  });
  if (!acquired) return; // stopping
  lease.keepAlive((why) => {
    logger.error({ why }, 'projector lost its lease; stopping so only one instance projects');
    void shutdown('lease lost', 1);
  });

  projector = new Projector(stores.eventStore, stores.readModels);
  if (env.KAFKA_BROKERS) {
    publisher = new KafkaEventPublisher({
      brokers: env.KAFKA_BROKERS,
      topic: env.KAFKA_TOPIC,
      clientId: 'twostep-projector',
      logger,
      partitions: env.KAFKA_TOPIC_PARTITIONS,
    });
    relay = new KafkaRelay(stores.eventStore, stores.kv, publisher, env.KAFKA_TOPIC);
    relay.onPublished = (events, seconds) => {
      relayedEvents.inc(events.length);
      relayPublish.observe(seconds);
      relayBatch.observe(events.length);
    };
  }
  await projector.start();
  await relay?.start();

  const head = await stores.eventStore.headPosition();
  logger.info(
    {
      eventStore: stores.adapters.eventStore,
      readModels: stores.adapters.readModels,
      kafka: env.KAFKA_BROKERS ? { brokers: env.KAFKA_BROKERS, topic: env.KAFKA_TOPIC } : 'disabled (KAFKA_BROKERS unset): no relay',
      head,
      projectionCheckpoint: await stores.readModels.checkpoint(),
      relayCheckpoint: relay ? await relay.checkpoint() : null,
      healthPort: health?.port ?? null,
    },
    'projector running',
  );
  if (env.KAFKA_BROKERS) {
    // Only informative: the relay retries on its own until the broker is back.
    waitForKafka(env.KAFKA_BROKERS, 5_000).catch(() =>
      logger.warn({ brokers: env.KAFKA_BROKERS }, 'kafka is not reachable yet; events are relayed once it is'),
    );
  }

  // A progress line when something moved, so the log shows lag without a metrics stack.
  let lastHead = head;
  const progress = setInterval(() => {
    void (async () => {
      const now = await stores.eventStore.headPosition();
      if (now === lastHead && failures.size === 0) return;
      lastHead = now;
      failures.clear();
      logger.info(
        {
          head: now,
          projectionLag: now - (await stores.readModels.checkpoint()),
          ...(relay ? { relayLag: now - (await relay.checkpoint()), relayed: relay.relayed } : {}),
        },
        'projector progress',
      );
    })().catch(() => undefined);
  }, 30_000);
  progress.unref();
  shutdownHooks.push(async () => clearInterval(progress));
}

main().catch((error: unknown) => {
  process.stderr.write(describeStartupFailure('twostep-projector', error, 'HEALTH_PORT'));
  process.exit(1);
});
