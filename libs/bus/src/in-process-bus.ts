import type { StoredEvent } from '@twostep/eventstore';
import { backoffDelay, describeError, stderrLogger, type BusLogger, type EventConsumer, type EventPublisher, type HandlerErrorListener, type RetryOptions } from './ports';

export interface InProcessBusOptions {
  retry?: RetryOptions;
  onHandlerError?: HandlerErrorListener;
  logger?: BusLogger;
}

interface Pending {
  /** The event as JSON: every delivery gets a fresh copy, as from a broker. */
  json: string;
  /** Resolves the publisher's promise; called once the event is handled or the consumer stopped. */
  settle: () => void;
}

interface Run {
  stopping: boolean;
  wake: (() => void) | null;
  done: Promise<void>;
}

/**
 * The bus for embedded mode: one process, one consumer ("group"). publish() hands the events to
 * the started handler in order and resolves once they are handled. A handler that throws gets the
 * same event again after a backoff; nothing behind it is delivered first. Events published while
 * no handler runs (or not yet handled when stop() was called) wait in memory for the next start():
 * they do not survive the process, which is why the embedded mailer reads the event store instead.
 */
export class InProcessBus implements EventPublisher, EventConsumer {
  private readonly queue: Pending[] = [];
  private run: Run | null = null;
  private closed = false;

  constructor(private readonly options: InProcessBusOptions = {}) {}

  async publish(events: StoredEvent[]): Promise<void> {
    if (this.closed) throw new Error('InProcessBus is closed');
    if (events.length === 0) return;
    const running = this.run !== null && !this.run.stopping;
    const delivered = events.map(
      (event) =>
        new Promise<void>((resolve) => {
          this.queue.push({ json: JSON.stringify(event), settle: resolve });
          if (!running) resolve(); // accepted; delivered at the next start()
        }),
    );
    this.run?.wake?.();
    await Promise.all(delivered);
  }

  async start(handler: (event: StoredEvent) => Promise<void>): Promise<void> {
    if (this.closed) throw new Error('InProcessBus is closed');
    if (this.run) throw new Error('InProcessBus already has a running consumer');
    const run: Run = { stopping: false, wake: null, done: Promise.resolve() };
    run.done = this.deliver(run, handler);
    this.run = run;
  }

  async stop(): Promise<void> {
    const run = this.run;
    if (!run) return;
    run.stopping = true;
    run.wake?.();
    await run.done;
    this.run = null;
    for (const pending of this.queue) pending.settle(); // still queued, for the next start()
  }

  async close(): Promise<void> {
    await this.stop();
    this.closed = true;
  }

  private async deliver(run: Run, handler: (event: StoredEvent) => Promise<void>): Promise<void> {
    await Promise.resolve(); // start() returns before the first delivery
    let attempt = 0;
    while (!run.stopping) {
      const next = this.queue[0];
      if (!next) {
        await this.idle(run, null);
        continue;
      }
      const event = JSON.parse(next.json) as StoredEvent;
      try {
        await handler(event);
        this.queue.shift();
        attempt = 0;
        next.settle();
      } catch (error) {
        attempt++;
        this.reportFailure(error, event, attempt);
        await this.idle(run, backoffDelay(attempt, this.options.retry));
      }
    }
  }

  /** Waits for new events, stop(), or (with a delay) the next retry. */
  private idle(run: Run, delayMs: number | null): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = delayMs === null ? null : setTimeout(wake, delayMs);
      function wake() {
        if (timer) clearTimeout(timer);
        run.wake = null;
        resolve();
      }
      // New events must not cut a retry backoff short: only stop() or the timer end it then.
      run.wake = delayMs === null ? wake : () => (run.stopping ? wake() : undefined);
    });
  }

  private reportFailure(error: unknown, event: StoredEvent, attempt: number): void {
    if (this.options.onHandlerError) this.options.onHandlerError(error, event, attempt);
    else
      (this.options.logger ?? stderrLogger).warn(
        { bus: 'in-process', eventId: event.eventId, type: event.type, attempt, error: describeError(error) },
        'event handler failed; retrying the same event',
      );
  }
}
