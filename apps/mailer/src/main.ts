import 'reflect-metadata';
import * as fs from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from 'pino';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { createLogger, guardKeys, openRedisStores, serveHealth, systemClock, workerSettings, type HealthServer } from '@twostep/app';
import { KafkaDeadLetterPublisher, KafkaEventConsumer } from '@twostep/bus';
import { ConfigError, describeStartupFailure, mailKeyFingerprint, parseEnv, type Env } from '@twostep/config';
import { Opener } from '@twostep/crypto';
import { Mailer, MAIL_EVENT_TYPES, PrometheusMailMetrics, SmtpMailTransport, type MailOutcome } from '@twostep/mail';
import { SqliteKeyValueStore, type KeyValueStore } from '@twostep/readmodel';

/**
 * The mailer process: a member of the Kafka consumer group KAFKA_MAILER_GROUP_ID
 * (default `twostep-mailer`) on KAFKA_TOPIC. Every CodeIssued / SecurityNotificationQueued event
 * becomes one email over SMTP; every other event is passed over on its `event-type` header,
 * unparsed. Batches of all assigned partitions are handled at once, up to MAIL_MAX_IN_FLIGHT
 * emails in flight over MAIL_SMTP_POOL pooled connections, one account's mails in order. The
 * consumer commits a batch's offsets only after `Mailer.handle` resolved for each of its mails,
 * i.e. after the message was accepted by the SMTP server, found already sent (dedupe mark in
 * Redis), or dead-lettered to KAFKA_DLQ_TOPIC. Scale by starting more mailers (up to the topic's
 * partition count, KAFKA_TOPIC_PARTITIONS, default 12): Kafka spreads the partitions over the group.
 */
async function main(): Promise<void> {
  process.umask(0o077);
  const env = parseEnv();
  const settings = workerSettings(env);
  const logger = createLogger(env.LOG_LEVEL).child({ app: 'mailer' });

  const problems: string[] = [];
  if (!env.KAFKA_BROKERS) problems.push('KAFKA_BROKERS: required (the mailer consumes events from Kafka)');
  if (!env.SMTP_URL) problems.push('SMTP_URL: required (the mailer sends through an SMTP server)');
  if (!env.TWOSTEP_MAIL_PRIVATE_KEY) problems.push('TWOSTEP_MAIL_PRIVATE_KEY: required to open codes and addresses');
  if (problems.length > 0) throw new ConfigError(problems);
  let opener: Opener;
  try {
    opener = new Opener(env.TWOSTEP_MAIL_PRIVATE_KEY!);
  } catch (error) {
    throw new ConfigError([`TWOSTEP_MAIL_PRIVATE_KEY: ${(error as Error).message}`]);
  }
  if (env.TWOSTEP_MAIL_PUBLIC_KEY && env.TWOSTEP_MAIL_PUBLIC_KEY !== opener.publicKey()) {
    throw new ConfigError(['TWOSTEP_MAIL_PUBLIC_KEY: does not match TWOSTEP_MAIL_PRIVATE_KEY (the api would seal mail this mailer cannot open)']);
  }

  const dedupe = await openDedupeStore(env, logger);
  // The sealing key pair must be the one the stored codes were sealed for (fingerprints kept with the data).
  await guardKeys(dedupe.kv, { secretKeys: {}, mailPublicKey: mailKeyFingerprint(opener.publicKey()) }, { logHead: null }).catch(async (error: unknown) => {
    await dedupe.close();
    throw error;
  });
  const transport = new SmtpMailTransport(env.SMTP_URL!, { maxConnections: env.MAIL_SMTP_POOL });
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const consumerLag = new Gauge({
    name: 'twostep_kafka_consumer_lag',
    help: 'Messages on a partition after the offset this mailer committed last',
    labelNames: ['topic', 'partition'],
    registers: [registry],
  });
  const deadLetters = new KafkaDeadLetterPublisher({ brokers: env.KAFKA_BROKERS!, topic: env.KAFKA_DLQ_TOPIC, clientId: 'twostep-mailer-dlq', logger });
  const counts: Record<MailOutcome, number> = { sent: 0, duplicate: 0, ignored: 0, expired: 0, dead_lettered: 0 };

  const mailer = new Mailer({
    transport,
    opener,
    dedupe: dedupe.kv,
    from: env.TWOSTEP_MAIL_FROM,
    issuer: env.TWOSTEP_ISSUER,
    maxAttempts: env.MAIL_MAX_ATTEMPTS,
    clock: systemClock,
    logger,
    metrics: new PrometheusMailMetrics(registry),
    onDeadLetter: async (event, error) => {
      // Undeliverable payloads are dead-lettered before any send attempt.
      const attempts = error.name === 'UndeliverableError' ? 0 : env.MAIL_MAX_ATTEMPTS;
      await deadLetters.publish(event, error, attempts);
      logger.error(
        { eventId: event.eventId, type: event.type, position: event.position, attempts, topic: env.KAFKA_DLQ_TOPIC, error: error.message },
        `mail could not be delivered; event published to dead-letter topic ${env.KAFKA_DLQ_TOPIC}`,
      );
    },
  });

  const consumer = new KafkaEventConsumer({
    brokers: env.KAFKA_BROKERS!,
    topic: env.KAFKA_TOPIC,
    groupId: settings.mailerGroupId,
    clientId: 'twostep-mailer',
    logger,
    types: MAIL_EVENT_TYPES,
    maxInFlight: env.MAIL_MAX_IN_FLIGHT,
    partitions: env.KAFKA_TOPIC_PARTITIONS,
    onBatchCommitted: ({ topic, partition, lag }) => consumerLag.set({ topic, partition: String(partition) }, lag),
    // kafkajs restarts the consumer after any failure; should it ever give up, a mailer that
    // cannot consume must not look alive: exit so the orchestrator restarts it.
    onFatal: () => process.exit(1),
    // A new group starts at the beginning of the topic: events relayed before the first mailer joined still get mailed.
    fromBeginning: true,
  });

  new Gauge({
    name: 'twostep_mail_queued_messages',
    help: 'Mail events taken from Kafka and not finished yet (being sent, or waiting for their account lane or a send slot)',
    registers: [registry],
    collect() {
      this.set(consumer.queuedMessages);
    },
  });

  let running = false;
  let stopping = false;
  let health: HealthServer | null = null;
  if (settings.healthPort !== undefined) {
    health = await serveHealth(settings.healthPort, async () => ({ ok: running && !stopping, ...counts }), '0.0.0.0', registry, env.TWOSTEP_OPS_KEY);
  }

  const shutdown = async (reason: string, code: number) => {
    if (stopping) return;
    stopping = true;
    logger.info({ reason }, 'mailer stopping: finishing the email in flight');
    setTimeout(() => {
      logger.error({ reason }, 'mailer did not stop within 30 s; exiting (unfinished events are redelivered)');
      process.exit(1);
    }, 30_000).unref();
    try {
      await consumer.stop();
      await deadLetters.close();
      await transport.close();
      await health?.close();
      await dedupe.close();
      logger.info({ reason, ...counts }, 'mailer stopped');
    } catch (error) {
      logger.error({ error: (error as Error).message }, 'mailer stop failed');
      code = code || 1;
    }
    process.exit(code);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM', 0));
  process.once('SIGINT', () => void shutdown('SIGINT', 0));

  await consumer.start(async (event) => {
    const outcome = await mailer.handle(event);
    counts[outcome]++;
  });
  running = true;
  logger.info(
    {
      kafka: { brokers: env.KAFKA_BROKERS, topic: env.KAFKA_TOPIC, groupId: settings.mailerGroupId, deadLetterTopic: env.KAFKA_DLQ_TOPIC },
      dedupe: dedupe.adapter,
      smtp: smtpHost(env.SMTP_URL!),
      maxAttempts: env.MAIL_MAX_ATTEMPTS,
      maxInFlight: env.MAIL_MAX_IN_FLIGHT,
      smtpPool: env.MAIL_SMTP_POOL,
      healthPort: health?.port ?? null,
    },
    'mailer running',
  );
}

/** Dedupe marks: Redis when REDIS_URL is set (shared by every mailer), else the SQLite file in the data dir (one host only). */
async function openDedupeStore(env: Env, logger: Logger): Promise<{ kv: KeyValueStore; adapter: string; close(): Promise<void> }> {
  if (env.REDIS_URL) {
    const { readModels, kv } = await openRedisStores(env);
    return {
      kv,
      adapter: 'redis',
      async close() {
        await readModels.close();
        await kv.close();
      },
    };
  }
  logger.warn({}, 'REDIS_URL is not set: dedupe marks are kept in the local SQLite file; run every mailer on this host, or set REDIS_URL');
  fs.mkdirSync(env.TWOSTEP_DATA_DIR, { recursive: true, mode: 0o700 });
  const db = new Database(path.join(env.TWOSTEP_DATA_DIR, 'mailer.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 5000');
  return {
    kv: new SqliteKeyValueStore(db),
    adapter: 'sqlite',
    close: async () => {
      db.close();
    },
  };
}

/** Host and port only: the URL may carry a password. */
function smtpHost(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}`;
  } catch {
    return '(invalid)';
  }
}

main().catch((error: unknown) => {
  process.stderr.write(describeStartupFailure('twostep-mailer', error, 'HEALTH_PORT'));
  process.exit(1);
});
