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
  /**
   * Messages taken from Kafka and not yet finished (running or waiting for their lane or a slot),
   * over all partitions, before the consumer stops fetching (default 4 × maxInFlight).
   */
  maxQueued?: number;
  /** Partitions whose batches are handled at the same time (default 12, the default partition count). */
  partitionsConsumedConcurrently?: number;
  /** Partitions of the topic if this consumer creates it (default 12). */
  partitions?: number;
  /** Told after each offset commit (metrics): what it covered and how far the partition still lags. */
  onBatchCommitted?: (info: BatchReport) => void;
}

export interface BatchReport {
  topic: string;
  partition: number;
  /** Messages this commit covered, and how many of them reached the handler (the rest were other types). */
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

/** A retried commit waits this long; a failed commit is retried until the partition is revoked. */
const COMMIT_RETRY_MS = 250;
/**
 * A commit waits this long after the first message finished, so one request carries what every
 * partition finished meanwhile (a commit per message cost the mailer and the broker about as much
 * CPU as a send). It delays only the commit: a crash redelivers at most this much more, which the
 * handler's dedupe recognises.
 */
const COMMIT_EVERY_MS = 50;

/** One message taken from Kafka, in its partition's offset order. */
interface Taken {
  offset: string;
  /** Reached the handler (a wanted type), as opposed to passed over. */
  handled: boolean;
  done: boolean;
}

/**
 * A partition as this member holds it in one group generation. A rebalance (a new generation)
 * revokes it: nothing more of it starts, and nothing of it is committed, since the partition may
 * now belong to another member, whose progress a late commit would overwrite. What it had not
 * committed comes again from the group's committed offset and finds the handler's dedupe.
 */
interface Held {
  topic: string;
  partition: number;
  revoked: boolean;
  /** Taken and not yet committed, in offset order. */
  taken: Taken[];
  /** The offset to commit next (one past the last contiguous finished message), and the one last committed. */
  commitTo: string | null;
  committed: string | null;
  commitMessages: number;
  commitHandled: number;
  highWatermark: string;
}

interface Run {
  consumer: Consumer;
  stopping: boolean;
  /** End retry backoffs early (stop(), a rebalance). */
  wakers: Set<() => void>;
  /** Batch callbacks being run by kafkajs. */
  inFlight: Set<Promise<void>>;
  /** The partitions held in the current generation, by `topic/partition`. */
  held: Map<string, Held>;
  /**
   * The tail of each key's lane (`topic/partition/key`): a key's messages run one after another,
   * across batches and generations, so a message delivered again after a rebalance waits behind
   * its copy still running.
   */
  lanes: Map<string, Promise<void>>;
  /** The commit loop, while one runs (one at a time, for every partition held). */
  committing: Promise<void> | null;
  /** Messages taken and not finished, and who waits for room. */
  queued: number;
  roomWaiters: Set<() => void>;
  /** Set by the first stop(); later calls wait for the same shutdown. */
  stopped?: Promise<void>;
}

/**
 * A Kafka consumer-group member with at-least-once delivery, built for throughput:
 * - fetching does not wait for handling: each batch (eachBatch) is taken into per-key lanes and
 *   kafkajs fetches the next one at once, until `maxQueued` messages are taken and unfinished;
 *   then the batch callback waits for room (back-pressure);
 * - messages with the same key (one account's stream) are handled one after another in offset
 *   order, across batches; different keys concurrently, at most `maxInFlight` over all partitions;
 * - offsets are committed in the background, each partition's up to the longest run of finished
 *   messages from its last commit, every partition in one request, one request in flight: an
 *   offset is committed only after its handler (and every one before it) resolved;
 * - a handler that throws gets the same message again after a backoff, for as long as it takes;
 *   nothing behind it with the same key is handled first, and its partition is not committed past it;
 * - it survives Kafka: a lost membership, a rebalance or a broker restart makes kafkajs rejoin or
 *   restart the consumer (restartOnFailure always says yes). A new generation revokes what was
 *   held: queued messages are dropped, running ones finish uncommitted, and the group delivers
 *   them again from the committed offsets (a redelivery to this member queues in its key's
 *   lane, behind the copy still running), so handlers must be idempotent on the event id.
 *
 * stop() lets the handlers in flight finish, commits what they completed, abandons retry loops
 * and queued messages (uncommitted, so the group delivers those messages again), then leaves the group.
 */
export class KafkaEventConsumer implements EventConsumer {
  private readonly kafka: Kafka;
  private readonly logger: BusLogger;
  private readonly types: ReadonlySet<string> | null;
  private readonly limit: pLimit.Limit;
  private readonly maxQueued: number;
  private run: Run | null = null;

  constructor(private readonly options: KafkaEventConsumerOptions) {
    this.kafka = createKafka({ clientId: 'twostep-consumer', ...options });
    this.logger = options.logger ?? stderrLogger;
    this.types = options.types ? new Set(options.types) : null;
    this.limit = pLimit(options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT);
    this.maxQueued = options.maxQueued ?? 4 * (options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT);
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
    const run: Run = { consumer, stopping: false, wakers: new Set(), inFlight: new Set(), held: new Map(), lanes: new Map(), committing: null, queued: 0, roomWaiters: new Set() };
    // A (re)join is a new generation: whatever was held before may belong to another member now.
    consumer.on(consumer.events.GROUP_JOIN, () => this.revokeAll(run));
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

  /** Messages taken from Kafka and not yet finished (running or waiting): the mailer's queue depth. */
  get queuedMessages(): number {
    return this.run?.queued ?? 0;
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
    for (const wake of [...run.roomWaiters]) wake();
    // The consumer must still be running while the last commits go out: kafkajs drops commits once its runner stops.
    await Promise.all([...run.inFlight].map((batch) => batch.catch(() => undefined)));
    await Promise.all([...run.lanes.values()]);
    await run.committing;
    await this.commitMoved(run); // the last commit, at once
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
    if (run.stopping || !isRunning() || isStale() || batch.isEmpty()) return;
    const { topic, partition, messages } = batch;
    const held = this.holding(run, topic, partition);
    held.highWatermark = batch.highWatermark;
    const cancelled = () => run.stopping || held.revoked;

    for (const message of messages) {
      const taken: Taken = { offset: message.offset, handled: this.accepts(message), done: false };
      held.taken.push(taken);
      if (!taken.handled) {
        taken.done = true; // another type: passed over unparsed, committed with the rest
        continue;
      }
      run.queued++;
      const lane = `${topic}/${partition}/${message.key ? message.key.toString('latin1') : ''}`;
      const next = (run.lanes.get(lane) ?? Promise.resolve()).then(async () => {
        try {
          if (cancelled()) return;
          const ok = await this.limit(() => (cancelled() ? false : this.handleWithRetry(run, handler, message, partition, cancelled)));
          if (ok) {
            taken.done = true;
            this.finished(run, held);
          }
        } finally {
          run.queued--;
          this.makeRoom(run);
        }
      });
      run.lanes.set(lane, next);
      void next.then(() => {
        if (run.lanes.get(lane) === next) run.lanes.delete(lane);
      });
    }
    // The next fetch starts after this batch; what is taken is committed as it finishes.
    resolveOffset(messages[messages.length - 1]!.offset);
    this.finished(run, held);

    if (run.queued < this.maxQueued) return;
    // Back-pressure: no further fetch until there is room (heartbeats go on meanwhile).
    const heartbeats = setInterval(() => void heartbeat().catch(() => undefined), HEARTBEAT_INTERVAL_MS);
    try {
      while (run.queued >= this.maxQueued && !cancelled() && isRunning()) {
        await new Promise<void>((resolve) => run.roomWaiters.add(resolve));
      }
    } finally {
      clearInterval(heartbeats);
    }
  }

  private holding(run: Run, topic: string, partition: number): Held {
    const id = `${topic}/${partition}`;
    let held = run.held.get(id);
    if (!held) {
      held = { topic, partition, revoked: false, taken: [], commitTo: null, committed: null, commitMessages: 0, commitHandled: 0, highWatermark: '0' };
      run.held.set(id, held);
    }
    return held;
  }

  private revokeAll(run: Run): void {
    for (const held of run.held.values()) held.revoked = true;
    run.held.clear();
    for (const wake of [...run.wakers]) wake(); // retry loops of revoked partitions end now
    this.makeRoom(run);
  }

  private makeRoom(run: Run): void {
    for (const wake of [...run.roomWaiters]) {
      run.roomWaiters.delete(wake);
      wake();
    }
  }

  /** Moves the partition's commit point over the finished messages at its head, and commits it in the background. */
  private finished(run: Run, held: Held): void {
    let moved = false;
    while (held.taken.length > 0 && held.taken[0]!.done) {
      const taken = held.taken.shift()!;
      held.commitTo = (BigInt(taken.offset) + 1n).toString();
      held.commitMessages++;
      if (taken.handled) held.commitHandled++;
      moved = true;
    }
    if (moved && !run.committing) run.committing = this.commitLoop(run);
  }

  /**
   * One commit in flight for the whole member, carrying every partition that moved: each waits
   * COMMIT_EVERY_MS first, so what finishes meanwhile goes in the same request.
   */
  private async commitLoop(run: Run): Promise<void> {
    try {
      while (!run.stopping) {
        await new Promise((resolve) => setTimeout(resolve, COMMIT_EVERY_MS));
        if (!(await this.commitMoved(run))) return;
      }
    } finally {
      run.committing = null;
    }
  }

  /** Commits every held partition whose commit point moved; false when there was nothing to commit. */
  private async commitMoved(run: Run): Promise<boolean> {
    const moved = [...run.held.values()].filter((held) => !held.revoked && held.commitTo !== null && held.commitTo !== held.committed);
    if (moved.length === 0) return false;
    const commits = moved.map((held) => ({ held, offset: held.commitTo!, messages: held.commitMessages, handled: held.commitHandled }));
    try {
      await run.consumer.commitOffsets(commits.map(({ held, offset }) => ({ topic: held.topic, partition: held.partition, offset })));
    } catch (error) {
      // kafkajs retried it for about a minute already. The group moved on (kafkajs rejoins and the
      // new generation revokes these), or the broker is still away: the loop tries again shortly,
      // unless stopping. What is not committed is delivered again, never lost.
      this.logger.warn({ topic: this.options.topic, partitions: commits.map(({ held }) => held.partition), error: describeError(error) }, 'offset commit failed; retrying');
      if (!run.stopping) await new Promise((resolve) => setTimeout(resolve, COMMIT_RETRY_MS));
      return true;
    }
    for (const { held, offset, messages, handled } of commits) {
      held.committed = offset;
      held.commitMessages -= messages;
      held.commitHandled -= handled;
      this.options.onBatchCommitted?.({
        topic: held.topic,
        partition: held.partition,
        messages,
        handled,
        lag: Math.max(0, Number(BigInt(held.highWatermark) - BigInt(offset))),
      });
    }
    return true;
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
