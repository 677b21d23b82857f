import type { Consumer, EachMessagePayload, Kafka } from 'kafkajs';
import type { StoredEvent } from '@twostep/eventstore';
import { createKafka, ensureTopic, fromKafkaMessage } from './kafka';
import { backoffDelay, describeError, stderrLogger, type BusLogger, type EventConsumer, type HandlerErrorListener, type RetryOptions } from './ports';

export interface KafkaEventConsumerOptions {
  brokers: string[];
  topic: string;
  groupId: string;
  clientId?: string;
  /** Where a group without committed offsets starts; default true (the whole topic). */
  fromBeginning?: boolean;
  /** Backoff for a failing handler; default 200 ms doubling up to 30 s. */
  retry?: RetryOptions;
  /** Called for each failed attempt; default: a warning through the logger. */
  onHandlerError?: HandlerErrorListener;
  /** Called when kafkajs gives up on the consumer for good; a worker should exit so it is restarted. */
  onFatal?: (error: Error) => void;
  logger?: BusLogger;
}

/**
 * How long the broker waits for a silent member before giving its partitions away. Heartbeats
 * go on while a handler runs and through retry backoff, so this only has to cover a dead
 * process: a killed mailer's partitions (and the codes in them) move on within ~15 s.
 */
const SESSION_TIMEOUT_MS = 15_000;
/** How long a rebalance waits for members to rejoin. */
const REBALANCE_TIMEOUT_MS = 30_000;
const HEARTBEAT_INTERVAL_MS = 3_000;
/** Longest a fetch waits for new messages; bounds how long stop() can take when idle. */
const MAX_WAIT_TIME_MS = 1_000;

interface Run {
  consumer: Consumer;
  stopping: boolean;
  /** Ends a retry backoff early (stop()). */
  wake: (() => void) | null;
  /** The message being handled, or null. */
  inFlight: Promise<void> | null;
  /** Set by the first stop(); later calls wait for the same shutdown. */
  stopped?: Promise<void>;
}

/**
 * A Kafka consumer-group member with at-least-once delivery. Messages are handled one at a time
 * (eachMessage, partitionsConsumedConcurrently 1, autoCommit off): the offset after a message is
 * committed only once its handler resolved. A handler that throws gets the same message again
 * after a backoff, for as long as it takes (with heartbeats, so the group keeps the partition):
 * nothing is skipped, and nothing behind it on the partition is delivered first.
 *
 * stop() lets the in-flight handler finish and commits it, abandons a retry loop (uncommitted, so
 * the group delivers that message again), then leaves the group and disconnects.
 */
export class KafkaEventConsumer implements EventConsumer {
  private readonly kafka: Kafka;
  private readonly logger: BusLogger;
  private run: Run | null = null;

  constructor(private readonly options: KafkaEventConsumerOptions) {
    this.kafka = createKafka({ clientId: 'twostep-consumer', ...options });
    this.logger = options.logger ?? stderrLogger;
  }

  async start(handler: (event: StoredEvent) => Promise<void>): Promise<void> {
    if (this.run) throw new Error('KafkaEventConsumer is already started');
    const { topic, groupId } = this.options;
    await ensureTopic(this.kafka, topic);
    const consumer = this.kafka.consumer({
      groupId,
      sessionTimeout: SESSION_TIMEOUT_MS,
      rebalanceTimeout: REBALANCE_TIMEOUT_MS,
      heartbeatInterval: HEARTBEAT_INTERVAL_MS,
      maxWaitTimeInMs: MAX_WAIT_TIME_MS,
      allowAutoTopicCreation: false,
    });
    const run: Run = { consumer, stopping: false, wake: null, inFlight: null };
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (!payload.restart && !run.stopping) {
        this.logger.error({ topic, groupId, error: describeError(payload.error) }, 'Kafka consumer crashed and will not restart');
        this.options.onFatal?.(payload.error);
      }
    });
    this.run = run;
    try {
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: this.options.fromBeginning ?? true });
      await consumer.run({
        autoCommit: false,
        partitionsConsumedConcurrently: 1,
        eachMessage: (payload) => this.onMessage(run, handler, payload),
      });
    } catch (error) {
      this.run = null;
      await consumer.disconnect().catch(() => undefined);
      throw error;
    }
  }

  async stop(): Promise<void> {
    const run = this.run;
    if (!run) return;
    run.stopped ??= this.shutdown(run);
    await run.stopped;
  }

  private async shutdown(run: Run): Promise<void> {
    run.stopping = true;
    run.wake?.();
    try {
      run.consumer.pause([{ topic: this.options.topic }]); // no further fetches
    } catch {
      // not running (yet): nothing to pause
    }
    // The consumer must still be running while the in-flight message commits: kafkajs drops
    // commits once its runner stops.
    await run.inFlight?.catch(() => undefined);
    try {
      await run.consumer.disconnect();
    } finally {
      if (this.run === run) this.run = null;
    }
  }

  private async onMessage(run: Run, handler: (event: StoredEvent) => Promise<void>, payload: EachMessagePayload): Promise<void> {
    const { topic, partition, message, pause } = payload;
    if (run.stopping) {
      pause(); // ends kafkajs' loop over this batch; the message stays uncommitted
      return;
    }
    const work = (async () => {
      const handled = await this.handleWithRetry(run, handler, payload);
      if (!handled) {
        pause();
        return;
      }
      await run.consumer.commitOffsets([{ topic, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
    })();
    run.inFlight = work;
    try {
      await work;
    } finally {
      run.inFlight = null;
    }
  }

  /** true once the handler resolved; false when stop() ended the retries first. */
  private async handleWithRetry(run: Run, handler: (event: StoredEvent) => Promise<void>, payload: EachMessagePayload): Promise<boolean> {
    const { topic, partition, message, heartbeat } = payload;
    for (let attempt = 1; ; attempt++) {
      let event: StoredEvent | null = null;
      try {
        event = fromKafkaMessage(message);
        await this.withHeartbeats(heartbeat, handler(event));
        return true;
      } catch (error) {
        this.reportFailure(error, event, attempt, { topic, partition, offset: message.offset });
      }
      if (run.stopping) return false;
      await this.backoff(run, backoffDelay(attempt, this.options.retry), heartbeat);
      if (run.stopping) return false;
    }
  }

  /** Keeps the membership alive while a slow handler runs (errors surface at the next commit). */
  private async withHeartbeats(heartbeat: () => Promise<void>, work: Promise<void>): Promise<void> {
    const timer = setInterval(() => void heartbeat().catch(() => undefined), HEARTBEAT_INTERVAL_MS);
    try {
      await work;
    } finally {
      clearInterval(timer);
    }
  }

  /**
   * Sleeps before the next attempt, heartbeating. A heartbeat error (the group is rebalancing)
   * is thrown to kafkajs, which rejoins; the uncommitted message then comes again.
   */
  private async backoff(run: Run, delayMs: number, heartbeat: () => Promise<void>): Promise<void> {
    const until = Date.now() + delayMs;
    while (!run.stopping && Date.now() < until) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(HEARTBEAT_INTERVAL_MS, until - Date.now()));
        function done() {
          clearTimeout(timer);
          run.wake = null;
          resolve();
        }
        run.wake = done;
      });
      if (!run.stopping) await heartbeat();
    }
  }

  private reportFailure(error: unknown, event: StoredEvent | null, attempt: number, where: { topic: string; partition: number; offset: string }): void {
    if (this.options.onHandlerError) {
      this.options.onHandlerError(error, event, attempt);
      return;
    }
    this.logger.warn(
      { ...where, groupId: this.options.groupId, eventId: event?.eventId, type: event?.type, attempt, error: describeError(error) },
      'event handler failed; retrying the same message',
    );
  }
}
