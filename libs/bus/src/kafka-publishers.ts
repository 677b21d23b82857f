import { Partitioners, type Kafka, type Message, type Producer } from 'kafkajs';
import type { StoredEvent } from '@twostep/eventstore';
import { createKafka, ensureTopic, toKafkaMessage, type KafkaClientOptions } from './kafka';
import { describeError, type EventPublisher } from './ports';

/** One idempotent producer for one topic, connected (and the topic created) on first use. */
class TopicProducer {
  private readonly kafka: Kafka;
  private ready: Promise<Producer> | null = null;
  private closed = false;

  constructor(
    private readonly options: KafkaClientOptions & { topic: string },
    private readonly what: string,
  ) {
    this.kafka = createKafka(options);
  }

  private producer(): Promise<Producer> {
    this.ready ??= (async () => {
      await ensureTopic(this.kafka, this.options.topic, this.options.partitions);
      const producer = this.kafka.producer({
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        createPartitioner: Partitioners.DefaultPartitioner, // murmur2, like the Java client
      });
      try {
        await producer.connect();
      } catch (error) {
        await producer.disconnect().catch(() => undefined);
        throw error;
      }
      return producer;
    })().catch((error: unknown) => {
      this.ready = null; // the next call tries again
      throw error;
    });
    return this.ready;
  }

  /** Resolves after every in-sync replica has the messages (acks: -1). */
  async send(messages: Message[]): Promise<void> {
    if (this.closed) throw new Error(`${this.what} is closed`);
    if (messages.length === 0) return;
    const producer = await this.producer();
    await producer.send({ topic: this.options.topic, acks: -1, messages });
  }

  async close(): Promise<void> {
    this.closed = true;
    const ready = this.ready;
    this.ready = null;
    const producer = await ready?.catch(() => null);
    await producer?.disconnect();
  }
}

export interface KafkaEventPublisherOptions {
  brokers: string[];
  topic: string;
  clientId?: string;
  logger?: KafkaClientOptions['logger'];
  /** Partitions if this publisher creates the topic (default 12). */
  partitions?: number;
}

/**
 * Publishes stored events to one topic: message key = stream (order per account), value = the
 * StoredEvent as JSON, headers `event-id` and `event-type` (consumers filter on the type before
 * parsing anything). publish() sends all the given events in one request and resolves once the
 * broker acknowledged every one; the producer is idempotent, so its own retries add no duplicates.
 */
export class KafkaEventPublisher implements EventPublisher {
  private readonly producer: TopicProducer;

  constructor(options: KafkaEventPublisherOptions) {
    this.producer = new TopicProducer({ clientId: 'twostep-publisher', ...options }, 'KafkaEventPublisher');
  }

  async publish(events: StoredEvent[]): Promise<void> {
    await this.producer.send(events.map((event) => toKafkaMessage(event)));
  }

  async close(): Promise<void> {
    await this.producer.close();
  }
}

export const HEADER_ERROR_NAME = 'error-name';
export const HEADER_ERROR_MESSAGE = 'error-message';
export const HEADER_ATTEMPTS = 'attempts';
export const HEADER_FAILED_AT = 'failed-at';
const MAX_ERROR_MESSAGE = 1000;

/**
 * Parks an event a consumer gave up on. The message is the event exactly as on the main topic
 * (key = stream, value = StoredEvent JSON, event-id/event-type headers), so it can be re-published
 * unchanged; why it failed travels in headers: error-name, error-message (first 1000 characters),
 * attempts, failed-at (ISO time).
 */
export class KafkaDeadLetterPublisher {
  private readonly producer: TopicProducer;

  constructor(options: { brokers: string[]; topic: string; clientId?: string; logger?: KafkaClientOptions['logger'] }) {
    this.producer = new TopicProducer({ clientId: 'twostep-dead-letter', ...options }, 'KafkaDeadLetterPublisher');
  }

  async publish(event: StoredEvent, error: Error, attempts: number): Promise<void> {
    const { name, message } = describeError(error);
    await this.producer.send([
      toKafkaMessage(event, {
        [HEADER_ERROR_NAME]: name,
        [HEADER_ERROR_MESSAGE]: message.slice(0, MAX_ERROR_MESSAGE),
        [HEADER_ATTEMPTS]: String(attempts),
        [HEADER_FAILED_AT]: new Date().toISOString(),
      }),
    ]);
  }

  async close(): Promise<void> {
    await this.producer.close();
  }
}
