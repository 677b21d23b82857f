import { Kafka, logLevel, type KafkaMessage, type LogEntry, type Message } from 'kafkajs';
import type { StoredEvent } from '@twostep/eventstore';
import { describeError, stderrLogger, type BusLogger } from './ports';

/** Default partition count of a topic twostep creates: a dozen mailers can share the work. */
export const TOPIC_PARTITIONS = 12;
export const TOPIC_REPLICATION = 1;

export const HEADER_EVENT_ID = 'event-id';
export const HEADER_EVENT_TYPE = 'event-type';

export interface KafkaClientOptions {
  brokers: string[];
  clientId?: string;
  /** Where kafkajs' warnings and errors go (pino-compatible); default one JSON line each on stderr. */
  logger?: BusLogger;
  /** Partitions of a topic this client creates (default TOPIC_PARTITIONS). An existing topic is used as it is. */
  partitions?: number;
}

/**
 * Retries of every request: quick, and capped at 1 s apart, so a client finds a restarted broker
 * within about a second instead of backing off to 30 s (kafkajs' default cap).
 */
export const CLIENT_RETRY = { initialRetryTime: 100, maxRetryTime: 1000, retries: 8 } as const;

/** A kafkajs client that only reports warnings and errors, through our logger. */
export function createKafka(options: KafkaClientOptions): Kafka {
  if (options.brokers.length === 0) throw new Error('Kafka needs at least one broker (KAFKA_BROKERS)');
  const logger = options.logger ?? stderrLogger;
  return new Kafka({
    clientId: options.clientId ?? 'twostep',
    brokers: options.brokers,
    connectionTimeout: 3000,
    retry: CLIENT_RETRY,
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ namespace, level, log }: LogEntry) => {
        const { message, timestamp: _timestamp, logger: _logger, ...extra } = log;
        // Retries are bounded on purpose: publish() should fail (and the projector retry the same
        // event) rather than hang through a long outage; consumers dedupe on the event id.
        if (message === 'Limiting retries for the idempotent producer may invalidate EoS guarantees') return;
        const entry = { component: 'kafkajs', namespace, ...extra };
        // kafkajs logs every error response of the protocol (e.g. "group is rebalancing" on a
        // heartbeat) as an error, though its higher layers handle them; they are warnings here.
        const handledResponse = namespace === 'Connection' && message.startsWith('Response ');
        // A broker that is away is retried (and reported by whoever gives up); each refused connect is a warning.
        const reconnecting = (namespace === 'Connection' && message.startsWith('Connection error')) || namespace === 'BrokerPool';
        if (level === logLevel.ERROR && !handledResponse && !reconnecting) logger.error(entry, message);
        else logger.warn(entry, message);
      },
  });
}

/**
 * Creates the topic (`partitions`, default 12, replication 1) unless it exists; waits for its
 * partition leaders. An existing topic keeps its partitions: adding some later moves accounts to
 * other partitions, which is an operator's decision (kafka-topics --alter), not a start-up's.
 */
export async function ensureTopic(kafka: Kafka, topic: string, partitions = TOPIC_PARTITIONS): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    // Asking first keeps the broker's TOPIC_ALREADY_EXISTS error out of the logs on every start.
    if ((await admin.listTopics()).includes(topic)) return;
    await admin.createTopics({
      topics: [{ topic, numPartitions: partitions, replicationFactor: TOPIC_REPLICATION }],
      waitForLeaders: true,
    });
  } finally {
    await admin.disconnect();
  }
}

/** Key = stream (one partition per account, so its events stay in order), value = the StoredEvent as JSON. */
export function toKafkaMessage(event: StoredEvent, extraHeaders: Record<string, string> = {}): Message {
  return {
    key: event.stream,
    value: JSON.stringify(event),
    headers: { [HEADER_EVENT_ID]: event.eventId, [HEADER_EVENT_TYPE]: event.type, ...extraHeaders },
  };
}

export class InvalidEventMessageError extends Error {
  constructor(reason: string) {
    super(`Kafka message is not a stored event: ${reason}`);
    this.name = 'InvalidEventMessageError';
  }
}

/** A header's value as text (kafkajs gives Buffers), or undefined. */
export function headerText(message: KafkaMessage, name: string): string | undefined {
  const value = message.headers?.[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined ? undefined : first.toString();
}

export function fromKafkaMessage(message: KafkaMessage): StoredEvent {
  if (!message.value) throw new InvalidEventMessageError('empty value');
  let parsed: unknown;
  try {
    parsed = JSON.parse(message.value.toString('utf8'));
  } catch (error) {
    throw new InvalidEventMessageError(describeError(error).message);
  }
  const event = parsed as Partial<StoredEvent> | null;
  if (
    !event ||
    typeof event !== 'object' ||
    typeof event.eventId !== 'string' ||
    typeof event.type !== 'string' ||
    typeof event.stream !== 'string' ||
    typeof event.revision !== 'number' ||
    typeof event.position !== 'number'
  ) {
    throw new InvalidEventMessageError('missing eventId, type, stream, revision or position');
  }
  return event as StoredEvent;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Waits until a broker answers (admin connect + listTopics), retrying every 500 ms. Rejects with
 * the brokers and the last error once `timeoutMs` has passed, even if a broker accepts TCP but
 * never answers.
 */
export async function waitForKafka(brokers: string[], timeoutMs: number): Promise<void> {
  if (brokers.length === 0) throw new Error('waitForKafka: no brokers given (KAFKA_BROKERS is empty)');
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown = null;
  for (;;) {
    const remaining = deadline - Date.now();
    const kafka = new Kafka({
      clientId: 'twostep-wait-for-kafka',
      brokers,
      logLevel: logLevel.NOTHING,
      connectionTimeout: Math.max(100, Math.min(3000, remaining)),
      requestTimeout: Math.max(100, Math.min(5000, remaining)),
      retry: { retries: 0 },
    });
    const admin = kafka.admin({ retry: { retries: 0 } });
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        (async () => {
          await admin.connect();
          await admin.listTopics();
        })(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('no answer in time')), Math.max(100, remaining));
        }),
      ]);
      return;
    } catch (error) {
      lastError = error;
    } finally {
      clearTimeout(timer);
      await admin.disconnect().catch(() => undefined);
    }
    if (Date.now() + 500 >= deadline) {
      throw new Error(`Kafka is not reachable at ${brokers.join(',')} after ${timeoutMs} ms: ${describeError(lastError).message}`);
    }
    await sleep(500);
  }
}
