import type { EventStore, StoredEvent, Subscription } from '@twostep/eventstore';
import type { KeyValueStore, ReadModelStore } from '@twostep/readmodel';

export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/**
 * Builds the read models from the event store: a catch-up subscription from the stored
 * checkpoint, a page at a time. A page's views and the checkpoint move together, so a crash
 * replays at most the page in flight, and the views ignore what they have already seen.
 */
const PROJECTOR_PAGE = 500;
/**
 * After a short page, the projector waits this long before reading on, so under load it commits
 * a page every few ms instead of one per append (a query's read-your-writes wait grows by at most this).
 */
const SETTLE_MS = 15;

export class Projector {
  private subscription: Subscription | null = null;

  constructor(
    private readonly store: EventStore,
    private readonly readModels: ReadModelStore,
  ) {}

  async start(): Promise<void> {
    const after = await this.readModels.checkpoint();
    this.subscription = this.store.subscribeAllPages({ after, limit: PROJECTOR_PAGE }, async (page) => {
      await this.readModels.applyPage(page.events);
      if (page.events.length < PROJECTOR_PAGE) await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    });
  }

  async stop(): Promise<void> {
    await this.subscription?.stop();
    this.subscription = null;
  }

  /** Waits until the views include `position` (read-your-writes for queries); false on timeout. */
  async caughtUp(position: number, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while ((await this.readModels.checkpoint()) < position) {
      if (Date.now() >= deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return true;
  }

  /** Rebuilds every view from the first event; returns the number of events applied. */
  static async rebuild(store: EventStore, readModels: ReadModelStore, onProgress?: (applied: number) => void): Promise<number> {
    await readModels.reset();
    let after = 0;
    let applied = 0;
    for (;;) {
      const page = await store.readAll({ after, limit: 1000 });
      if (page.length === 0) return applied;
      await readModels.applyPage(page);
      applied += page.length;
      after = page[page.length - 1]!.position;
      onProgress?.(applied);
    }
  }
}

/**
 * A durable subscriber with its own checkpoint in the key-value store (the embedded mailer, the
 * Kafka relay). It reads the log in pages: `handle` gets a page's events (only those of `types`
 * when given, the rest are never decoded), and the checkpoint moves once per page, after
 * `handle` resolved. `handle` must be idempotent on the event id: after a crash the last page
 * comes again. A page with nothing for it (a mailer during TOTP logins) moves the checkpoint
 * at most once every IDLE_CHECKPOINT_MS and on stop: after a crash those pages are only
 * filtered again.
 */
export class CheckpointedConsumer {
  private subscription: Subscription | null = null;
  /** Position reached by pages that had nothing to handle, not yet written. */
  private unwritten: number | null = null;
  private lastWrite = 0;

  constructor(
    private readonly store: EventStore,
    private readonly kv: KeyValueStore,
    private readonly name: string,
    private readonly handle: (events: StoredEvent[]) => Promise<void>,
    private readonly options: { types?: readonly string[]; pageSize?: number } = {},
  ) {}

  get checkpointKey(): string {
    return `checkpoint:${this.name}`;
  }

  async checkpoint(): Promise<number> {
    return Number((await this.kv.get(this.checkpointKey)) ?? 0);
  }

  async start(): Promise<void> {
    const after = await this.checkpoint();
    const { types, pageSize } = this.options;
    this.subscription = this.store.subscribeAllPages({ after, types, limit: pageSize }, async (page) => {
      if (page.events.length > 0) await this.handle(page.events);
      this.unwritten = page.lastPosition;
      if (page.events.length > 0 || Date.now() - this.lastWrite >= IDLE_CHECKPOINT_MS) await this.writeCheckpoint();
    });
  }

  async stop(): Promise<void> {
    await this.subscription?.stop();
    this.subscription = null;
    await this.writeCheckpoint();
  }

  private async writeCheckpoint(): Promise<void> {
    if (this.unwritten === null) return;
    const position = this.unwritten;
    await this.kv.set(this.checkpointKey, String(position));
    this.lastWrite = Date.now();
    if (this.unwritten === position) this.unwritten = null;
  }
}

const IDLE_CHECKPOINT_MS = 1000;
