import { CheckpointedConsumer } from '@twostep/app';
import type { EventStore, StoredEvent } from '@twostep/eventstore';
import type { KeyValueStore } from '@twostep/readmodel';

export interface EventPublisher {
  /** Resolves once the broker acknowledged every event. */
  publish(events: StoredEvent[]): Promise<void>;
}

/** The checkpoint name of the relay to `topic` (its key-value key is `checkpoint:<name>`). */
export const relayCheckpointName = (topic: string): string => `kafka-relay:${topic}`;

/**
 * The outbox relay: a durable catch-up subscription on the event store that publishes every
 * event to Kafka, in global order, and moves its checkpoint only after the broker's ack.
 * The api never writes to Kafka (no dual write): if the broker is down, the relay retries the
 * same event (with backoff) until it is accepted, so delivery is late but nothing is lost.
 * A crash between the ack and the checkpoint publishes that event again; consumers dedupe by
 * event id. The checkpoint is per topic, so pointing KAFKA_TOPIC at a new topic fills it from
 * the first event.
 */
export class KafkaRelay {
  private readonly consumer: CheckpointedConsumer;
  relayed = 0;
  lastPosition = 0;

  constructor(
    store: EventStore,
    private readonly kv: KeyValueStore,
    private readonly publisher: EventPublisher,
    readonly topic: string,
  ) {
    this.consumer = new CheckpointedConsumer(store, kv, relayCheckpointName(topic), async (event) => {
      await this.publisher.publish([event]);
      this.relayed++;
      this.lastPosition = event.position;
    });
  }

  async checkpoint(): Promise<number> {
    return Number((await this.kv.get(`checkpoint:${relayCheckpointName(this.topic)}`)) ?? 0);
  }

  start(): Promise<void> {
    return this.consumer.start();
  }

  /** Resolves after the publish in flight (if any) finished. */
  stop(): Promise<void> {
    return this.consumer.stop();
  }
}
