/**
 * The event store port. Every adapter (embedded SQLite, EventStoreDB) implements exactly this
 * and must pass `testing/event-store.contract.ts`.
 */

/** number = revision of the stream's last event (0-based, like EventStoreDB). */
export type ExpectedRevision = 'no_stream' | 'any' | number;

export interface Actor {
  kind: 'customer' | 'operator' | 'admin' | 'system' | 'auditor';
  id?: string;
  apiKeyId?: string;
}

export interface EventMetadata {
  /** ISO time the command was decided (not when it was stored: see StoredEvent.recordedAt). */
  at: string;
  actor: Actor;
  correlationId?: string;
  schemaVersion: number;
  [k: string]: unknown;
}

export interface NewEvent {
  /** uuid */
  eventId: string;
  type: string;
  data: Record<string, unknown>;
  metadata: EventMetadata;
}

export interface StoredEvent extends NewEvent {
  stream: string;
  revision: number;
  /** Global, strictly increasing, >= 1. */
  position: number;
  recordedAt: string;
  /** See chain.ts: sha256 over prevHash and the event's content. */
  hash: string;
  /** Hash of the previous event in the same stream; null for revision 0. */
  prevHash: string | null;
}

export interface AppendResult {
  /** Revision of the last appended event. */
  nextRevision: number;
  /** Position of the last appended event. */
  position: number;
}

export interface Subscription {
  /** Resolves after the in-flight handler (if any) has finished; no handler call starts afterwards. */
  stop(): Promise<void>;
}

/** What subscribeAllPages hands over: consecutive events of the global log, read together. */
export interface EventPage {
  /** The page's events in global order; only those of `types` when the subscription filters. May be empty then. */
  events: StoredEvent[];
  /** Position of the last event read for this page (filtered out or not): where a checkpoint may move to. */
  lastPosition: number;
}

export interface PageSubscriptionOptions {
  after?: number;
  /** Most events read for one page; default 500. */
  limit?: number;
  /** Only events of these types are decoded and handed over (the others only move lastPosition). */
  types?: readonly string[];
}

export interface EventStore {
  append(stream: string, events: NewEvent[], expected: ExpectedRevision): Promise<AppendResult>;
  /** [] for a missing stream. */
  readStream(stream: string, options?: { fromRevision?: number }): Promise<StoredEvent[]>;
  /** Global order, position > after (default 0), limit default 1000. */
  readAll(options?: { after?: number; limit?: number }): Promise<StoredEvent[]>;
  /**
   * Catch-up from `after`, then live. Calls onEvent sequentially (awaiting each) in global order.
   * If onEvent throws, the same event is retried after a short backoff: events are never skipped.
   */
  subscribeAll(options: { after?: number }, onEvent: (event: StoredEvent) => Promise<void>): Subscription;
  /**
   * subscribeAll a page at a time, for consumers that pay per call (a Kafka send, a checkpoint
   * write): onPage gets whatever is available up to `limit`, awaited before the next page. If it
   * throws, the same page comes again after a backoff. A page never spans a gap: the next one
   * starts right after `lastPosition`.
   */
  subscribeAllPages(options: PageSubscriptionOptions, onPage: (page: EventPage) => Promise<void>): Subscription;
  /** Position of the latest event, 0 if empty. */
  headPosition(): Promise<number>;
  close(): Promise<void>;
}

export class WrongExpectedRevisionError extends Error {
  readonly code = 'wrong_expected_revision';

  constructor(
    readonly stream: string,
    readonly expected: ExpectedRevision,
    readonly actual: number | 'no_stream',
  ) {
    super(`Wrong expected revision for stream ${stream}: expected ${expected}, actual ${actual}`);
    this.name = 'WrongExpectedRevisionError';
  }
}

/** Nest injection token. */
export const EVENT_STORE = Symbol('EVENT_STORE');
