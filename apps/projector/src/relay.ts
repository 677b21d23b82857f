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
 * event to Kafka, in global order, a page at a time (one producer send and one checkpoint write
 * per page of up to 500 events, so its cost per event falls as load rises), and moves its
 * checkpoint only after the broker acknowledged the whole page.
 * The api never writes to Kafka (no dual write): if the broker is down, the relay retries the
 * same page (with backoff) until it is accepted, so delivery is late but nothing is lost.
 * A crash between the ack and the checkpoint publishes that page again; consumers dedupe by
 * event id (the producer is idempotent, so its own retries add no copies). The checkpoint is per topic, so pointing KAFKA_TOPIC at a new topic fills it from
 * the first event.
 */
export class KafkaRelay {
  private readonly consumer: CheckpointedConsumer;
  relayed = 0;
  lastPosition = 0;

  constructor(
    store: EventStore,
    kv: KeyValueStore,
    private readonly publisher: EventPublisher,
    readonly topic: string,
  ) {
    this.consumer = new CheckpointedConsumer(store, kv, relayCheckpointName(topic), async (events) => {
      const started = process.hrtime.bigint();
      await this.publisher.publish(events);
      this.relayed += events.length;
      this.lastPosition = events[events.length - 1]!.position;
      this.onPublished?.(events, Number(process.hrtime.bigint() - started) / 1e9);
    });
  }

  /** Told after each acknowledged page (metrics). */
  onPublished?: (events: StoredEvent[], seconds: number) => void;

  checkpoint(): Promise<number> {
    return this.consumer.checkpoint();
  }

  start(): Promise<void> {
    return this.consumer.start();
  }

  /** Resolves after the publish in flight (if any) finished. */
  stop(): Promise<void> {
    return this.consumer.stop();
  }
}
