import type { EventPage, ExpectedRevision, NewEvent, StoredEvent } from './event-store';

/** Shared by the adapters; not part of the public API. */

export const DEFAULT_READ_LIMIT = 1000;
export const DEFAULT_PAGE_LIMIT = 500;

export interface SubscriptionOptions {
  /** First delay before retrying a failed handler (doubles up to maxRetryDelayMs). Default 100. */
  retryDelayMs?: number;
  /** Default 5000. */
  maxRetryDelayMs?: number;
  /** Told about every failed handler call before it is retried. Default: console.error. */
  onHandlerError?: (error: unknown, event: StoredEvent, attempt: number) => void;
}

export function validatePageOptions(options: { after?: number; limit?: number; types?: readonly string[] }): { after: number; limit: number; types: ReadonlySet<string> | null } {
  const { after } = validateReadAll({ after: options.after });
  const limit = options.limit ?? DEFAULT_PAGE_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 1) throw new TypeError(`subscribeAllPages: limit must be an integer >= 1, got ${limit}`);
  if (options.types !== undefined && (!Array.isArray(options.types) || options.types.some((t) => typeof t !== 'string'))) {
    throw new TypeError('subscribeAllPages: types must be an array of event type names');
  }
  return { after, limit, types: options.types ? new Set(options.types) : null };
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
  return deliverItem(event, event, onEvent, ctx);
}

/** deliver() for a page: retried whole; failures are reported against the page's first event. */
export function deliverPage(
  page: EventPage,
  onPage: (page: EventPage) => Promise<void>,
  ctx: { stopped(): boolean; sleeper: Sleeper; options: SubscriptionOptions },
): Promise<boolean> {
  const first = page.events[0] ?? pagePlaceholder(page.lastPosition);
  return deliverItem(page, first, onPage, ctx);
}

/** Stands for an empty (fully filtered) page in error reports: no event, only where it ends. */
function pagePlaceholder(position: number): StoredEvent {
  return { eventId: '', type: '(filtered page)', data: {}, metadata: { at: '', actor: { kind: 'system' }, schemaVersion: 0 }, stream: '', revision: -1, position, recordedAt: '', hash: '', prevHash: null };
}

async function deliverItem<T>(
  item: T,
  event: StoredEvent,
  onItem: (item: T) => Promise<void>,
  ctx: { stopped(): boolean; sleeper: Sleeper; options: SubscriptionOptions },
): Promise<boolean> {
  const base = ctx.options.retryDelayMs ?? 100;
  const max = ctx.options.maxRetryDelayMs ?? 5000;
  const onError = ctx.options.onHandlerError ?? defaultOnHandlerError;
  for (let attempt = 1; !ctx.stopped(); attempt++) {
    try {
      await onItem(item);
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

/**
 * subscribeAllPages over a per-event subscription (EventStoreDB's is a stream): events are
 * buffered while the previous page is handled, up to `limit` (then the stream waits), and each
 * page is whatever the buffer holds. Buffered events that were never handed over are simply read
 * again by the next subscription: the consumer's own checkpoint is behind them.
 */
export function pagesOver(
  subscribe: (after: number, onEvent: (event: StoredEvent) => Promise<void>) => { stop(): Promise<void> },
  options: { after: number; limit: number; types: ReadonlySet<string> | null },
  onPage: (page: EventPage) => Promise<void>,
  subscriptionOptions: SubscriptionOptions,
): { stop(): Promise<void> } {
  let stopped = false;
  const buffer: StoredEvent[] = [];
  const sleeper = new Sleeper();
  /** Who waits: the stream for room in the buffer, the page loop for an event. */
  const waiting: { space?: () => void; data?: () => void } = {};
  const ctx = { stopped: () => stopped, sleeper, options: subscriptionOptions };

  const inner = subscribe(options.after, async (event) => {
    while (buffer.length >= options.limit && !stopped) await new Promise<void>((resolve) => (waiting.space = resolve));
    if (stopped) return;
    buffer.push(event);
    waiting.data?.();
  });
  const loop = (async () => {
    while (!stopped) {
      if (buffer.length === 0) {
        await new Promise<void>((resolve) => (waiting.data = resolve));
        waiting.data = undefined;
        continue;
      }
      const read = buffer.splice(0, options.limit);
      waiting.space?.();
      waiting.space = undefined;
      const types = options.types;
      const page = { events: types ? read.filter((e) => types.has(e.type)) : read, lastPosition: read[read.length - 1]!.position };
      if (!(await deliverPage(page, onPage, ctx))) return;
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      sleeper.wake();
      waiting.space?.();
      waiting.data?.();
      await inner.stop();
      await loop;
    },
  };
}
