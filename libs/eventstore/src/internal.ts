import type { ExpectedRevision, NewEvent, StoredEvent } from './event-store';

/** Shared by the adapters; not part of the public API. */

export const DEFAULT_READ_LIMIT = 1000;

export interface SubscriptionOptions {
  /** First delay before retrying a failed handler (doubles up to maxRetryDelayMs). Default 100. */
  retryDelayMs?: number;
  /** Default 5000. */
  maxRetryDelayMs?: number;
  /** Told about every failed handler call before it is retried. Default: console.error. */
  onHandlerError?: (error: unknown, event: StoredEvent, attempt: number) => void;
}

export function validateAppend(stream: string, events: NewEvent[], expected: ExpectedRevision): void {
  if (typeof stream !== 'string' || stream.length === 0) throw new TypeError('append: stream name must be a non-empty string');
  if (!Array.isArray(events) || events.length === 0) throw new TypeError(`append to ${stream}: events must be a non-empty array`);
  if (typeof expected === 'number' && !(Number.isSafeInteger(expected) && expected >= 0)) {
    throw new TypeError(`append to ${stream}: expected revision must be 'no_stream', 'any' or an integer >= 0, got ${expected}`);
  }
  if (typeof expected !== 'number' && expected !== 'no_stream' && expected !== 'any') {
    throw new TypeError(`append to ${stream}: unknown expected revision ${String(expected)}`);
  }
}

export function validateReadAll(options: { after?: number; limit?: number }): { after: number; limit: number } {
  const after = options.after ?? 0;
  const limit = options.limit ?? DEFAULT_READ_LIMIT;
  if (!Number.isSafeInteger(after) || after < 0) throw new TypeError(`readAll: after must be an integer >= 0, got ${after}`);
  if (!Number.isSafeInteger(limit) || limit < 1) throw new TypeError(`readAll: limit must be an integer >= 1, got ${limit}`);
  return { after, limit };
}

/** A sleep that stop() can cut short, so stopping never waits for a poll interval or a backoff. */
export class Sleeper {
  private wakers = new Set<() => void>();

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakers.add(done);
    });
  }

  wake(): void {
    for (const waker of [...this.wakers]) waker();
  }
}

/**
 * Calls the handler until it succeeds; returns false if stopped first. Never skips: a projection
 * that silently missed an event would be wrong forever, one that is stuck is visible (lag grows).
 */
export async function deliver(
  event: StoredEvent,
  onEvent: (event: StoredEvent) => Promise<void>,
  ctx: { stopped(): boolean; sleeper: Sleeper; options: SubscriptionOptions },
): Promise<boolean> {
  const base = ctx.options.retryDelayMs ?? 100;
  const max = ctx.options.maxRetryDelayMs ?? 5000;
  const onError = ctx.options.onHandlerError ?? defaultOnHandlerError;
  for (let attempt = 1; !ctx.stopped(); attempt++) {
    try {
      await onEvent(event);
      return true;
    } catch (error) {
      onError(error, event, attempt);
      await ctx.sleeper.sleep(Math.min(base * 2 ** (attempt - 1), max));
    }
  }
  return false;
}

function defaultOnHandlerError(error: unknown, event: StoredEvent, attempt: number): void {
  console.error(`event store subscription: handler failed on position ${event.position} (${event.type}), attempt ${attempt}; retrying`, error);
}
