import pLimit from 'p-limit';
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import type { StoredEvent } from '@twostep/eventstore';
import { CLIENT_RETRY, createKafka, ensureTopic, fromKafkaMessage, headerText, HEADER_EVENT_TYPE } from './kafka';
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
  /** Called if kafkajs gives up on the consumer for good (it restarts on every failure, so only a bug gets here). */
  onFatal?: (error: Error) => void;
  logger?: BusLogger;
  /**
   * Only events of these types reach the handler. The check reads the `event-type` header, so the
   * others are committed without their value ever being parsed. Default: every event.
   */
  types?: readonly string[];
  /** Handler calls running at once, over all partitions (default 64). */
  maxInFlight?: number;
  /** Partitions whose batches are handled at the same time (default 12, the default partition count). */
  partitionsConsumedConcurrently?: number;
  /** Partitions of the topic if this consumer creates it (default 12). */
  partitions?: number;
  /** Told after each committed batch (metrics): what it held and how far the partition still lags. */
  onBatchCommitted?: (info: BatchReport) => void;
}

export interface BatchReport {
  topic: string;
  partition: number;
  /** Messages in the batch, and how many of them reached the handler (the rest were other types). */
  messages: number;
  handled: number;
  /** Messages on the partition after the committed offset (high watermark − committed). */
  lag: number;
}

/**
 * How long the broker waits for a silent member before giving its partitions away: the broker's
 * minimum (group.min.session.timeout.ms, 6 s by default). Heartbeats run every second through
 * every batch and backoff, so only a dead process goes silent: a killed mailer's partitions move
 * to the others ~6 s later.
 */
const SESSION_TIMEOUT_MS = 6_000;
const HEARTBEAT_INTERVAL_MS = 1_000;
/** How long a rebalance waits for members to rejoin (a member rejoins once its batch is done). */
const REBALANCE_TIMEOUT_MS = 30_000;
/** Longest a fetch waits for new messages; bounds how long stop() can take when idle. */
const MAX_WAIT_TIME_MS = 500;
const DEFAULT_MAX_IN_FLIGHT = 64;
const CONSUMER_RETRIES = 60;
const DEFAULT_PARTITIONS_CONCURRENTLY = 12;

interface Run {
  consumer: Consumer;
  stopping: boolean;
  /** End retry backoffs early (stop()). */
  wakers: Set<() => void>;
  /** Batches being handled. */
  inFlight: Set<Promise<void>>;
  /** Set by the first stop(); later calls wait for the same shutdown. */
  stopped?: Promise<void>;
}

/**
 * A Kafka consumer-group member with at-least-once delivery, built for throughput:
 * - batches (eachBatch), several partitions at once, one offset commit per batch;
 * - inside a batch, messages with the same key (one account's stream) are handled one after
 *   another in offset order, different keys concurrently, at most `maxInFlight` at a time over
 *   all partitions;
 * - the commit covers the longest run of handled messages from the start of the batch, so an
 *   offset is committed only after its handler (and every one before it) resolved;
 * - a handler that throws gets the same message again after a backoff, for as long as it takes;
 *   nothing behind it with the same key is handled first, and its batch is not committed past it;
 * - it survives Kafka: a lost membership, a rebalance or a broker restart makes kafkajs rejoin or
 *   restart the consumer (restartOnFailure always says yes); uncommitted messages come again,
 *   so handlers must be idempotent on the event id.
 *
 * stop() lets the handlers in flight finish, commits what they completed, abandons retry loops
 * (uncommitted, so the group delivers those messages again), then leaves the group.
 */
export class KafkaEventConsumer implements EventConsumer {
  private readonly kafka: Kafka;
  private readonly logger: BusLogger;
  private readonly types: ReadonlySet<string> | null;
  private readonly limit: pLimit.Limit;
  private run: Run | null = null;

  constructor(private readonly options: KafkaEventConsumerOptions) {
    this.kafka = createKafka({ clientId: 'twostep-consumer', ...options });
    this.logger = options.logger ?? stderrLogger;
    this.types = options.types ? new Set(options.types) : null;
    this.limit = pLimit(options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT);
  }

  async start(handler: (event: StoredEvent) => Promise<void>): Promise<void> {
    if (this.run) throw new Error('KafkaEventConsumer is already started');
    const { topic, groupId } = this.options;
    await ensureTopic(this.kafka, topic, this.options.partitions);
    const consumer = this.kafka.consumer({
      groupId,
      sessionTimeout: SESSION_TIMEOUT_MS,
      rebalanceTimeout: REBALANCE_TIMEOUT_MS,
      heartbeatInterval: HEARTBEAT_INTERVAL_MS,
      maxWaitTimeInMs: MAX_WAIT_TIME_MS,
      allowAutoTopicCreation: false,
      retry: {
        ...CLIENT_RETRY,
        // Through a broker restart the member keeps retrying (about a minute) with its member id,
        // and simply heartbeats on once the broker is back: no rebalance, no wait for a session
        // to expire. Giving up sooner would rejoin as a new member and wait out the old one's session.
        retries: CONSUMER_RETRIES,
        // Whatever made kafkajs give up (a broker away longer than the retries, a commit refused
        // after the session expired), the member starts over: rejoin and read from the committed offsets.
        restartOnFailure: async (error) => {
          this.logger.warn({ topic, groupId, error: describeError(error) }, 'Kafka consumer failed; restarting it');
          return true;
        },
      },
    });
    const run: Run = { consumer, stopping: false, wakers: new Set(), inFlight: new Set() };
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
        eachBatchAutoResolve: false,
        partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently ?? DEFAULT_PARTITIONS_CONCURRENTLY,
        eachBatch: (payload) => this.track(run, this.onBatch(run, handler, payload)),
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
    for (const wake of [...run.wakers]) wake();
    try {
      run.consumer.pause([{ topic: this.options.topic }]); // no further fetches
    } catch {
      // not running (yet): nothing to pause
    }
    // The consumer must still be running while the batches commit: kafkajs drops commits once its runner stops.
    await Promise.all([...run.inFlight].map((batch) => batch.catch(() => undefined)));
    try {
      await run.consumer.disconnect();
    } finally {
      if (this.run === run) this.run = null;
    }
  }

  private async track(run: Run, batch: Promise<void>): Promise<void> {
    run.inFlight.add(batch);
    try {
      await batch;
    } finally {
      run.inFlight.delete(batch);
    }
  }

  private accepts(message: KafkaMessage): boolean {
    if (!this.types) return true;
    const type = headerText(message, HEADER_EVENT_TYPE);
    // No header (not published by twostep's relay): let the handler look at it.
    return type === undefined || this.types.has(type);
  }

  private async onBatch(run: Run, handler: (event: StoredEvent) => Promise<void>, payload: EachBatchPayload): Promise<void> {
    const { batch, heartbeat, isRunning, isStale, resolveOffset } = payload;
    if (run.stopping || batch.isEmpty()) return;
    const { topic, partition, messages } = batch;
    const cancelled = () => run.stopping || !isRunning() || isStale();

    // One lane per key (account stream): in order within a lane, lanes side by side.
    const done = messages.map(() => false);
    const lanes = new Map<string, number[]>();
    let handled = 0;
    messages.forEach((message, index) => {
      if (!this.accepts(message)) {
        done[index] = true;
        return;
      }
      handled++;
      const key = message.key ? message.key.toString('latin1') : '';
      const lane = lanes.get(key);
      if (lane) lane.push(index);
      else lanes.set(key, [index]);
    });

    const heartbeats = setInterval(() => void heartbeat().catch(() => undefined), HEARTBEAT_INTERVAL_MS);
    try {
      await Promise.all(
        [...lanes.values()].map(async (lane) => {
          for (const index of lane) {
            const ok = await this.limit(() => (cancelled() ? false : this.handleWithRetry(run, handler, messages[index]!, partition, cancelled)));
            if (!ok) return;
            done[index] = true;
          }
        }),
      );
    } finally {
      clearInterval(heartbeats);
    }

    let upTo = -1;
    while (upTo + 1 < done.length && done[upTo + 1]) upTo++;
    if (upTo < 0) return;
    const last = messages[upTo]!;
    const next = (BigInt(last.offset) + 1n).toString();
    resolveOffset(last.offset);
    // A refused commit (the group moved on) throws to kafkajs, which rejoins; the new owner of the
    // partition gets these messages again and the handler's dedupe recognises them.
    await run.consumer.commitOffsets([{ topic, partition, offset: next }]);
    this.options.onBatchCommitted?.({
      topic,
      partition,
      messages: upTo + 1,
      handled,
      lag: Math.max(0, Number(BigInt(batch.highWatermark) - BigInt(next))),
    });
  }

  /** true once the handler resolved; false when stop() or a rebalance ended the retries first. */
  private async handleWithRetry(
    run: Run,
    handler: (event: StoredEvent) => Promise<void>,
    message: KafkaMessage,
    partition: number,
    cancelled: () => boolean,
  ): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      let event: StoredEvent | null = null;
      try {
        event = fromKafkaMessage(message);
        await handler(event);
        return true;
      } catch (error) {
        this.reportFailure(error, event, attempt, { topic: this.options.topic, partition, offset: message.offset });
      }
      if (cancelled()) return false;
      await this.backoff(run, backoffDelay(attempt, this.options.retry));
      if (cancelled()) return false;
    }
  }

  /** Sleeps before the next attempt (the batch's timer keeps heartbeating); stop() cuts it short. */
  private backoff(run: Run, delayMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        run.wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, delayMs);
      run.wakers.add(done);
    });
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
