import type { StoredEvent } from '@twostep/eventstore';
import type { Projection } from './projection';
import type { EventLogEntry, StatusView } from './views';

/**
 * The read models as the api and the CLI use them: the status view and the event log, built by
 * the projections in `READ_MODELS` over a generic `ProjectionStore`.
 */
export interface ReadModelStore {
  /** Applies one event to every read model and moves their checkpoints, atomically and idempotently. */
  apply(event: StoredEvent): Promise<void>;
  /**
   * Applies a page of events in log order and moves every read model's checkpoint to the last
   * one: the same views as `apply` one event at a time, in one transaction (one commit in SQLite,
   * one script in Redis). Idempotent.
   */
  applyPage(events: readonly StoredEvent[]): Promise<void>;
  /** The position every read model has reached (the least of their checkpoints). */
  checkpoint(): Promise<number>;
  status(tenantId: string, userId: string): Promise<StatusView | null>;
  eventLog(tenantId: string, userId: string, options?: { after?: number; limit?: number }): Promise<EventLogEntry[]>;
  /** Drops every view and the checkpoints, so a replay rebuilds from scratch. */
  reset(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Where projections keep their documents, log entries and checkpoints (SQLite, Redis). Generic:
 * it knows projections only as data (`Projection`), and gives every adapter the same rules (the
 * contract in testing/projection-store.contract.ts):
 * - a page is applied to each projection whose `canHandle` takes the event, with the strict
 *   revision guard per document (older skipped, a gap throws `ProjectionGapError` and nothing
 *   of the page is kept), and each projection's checkpoint moves to the page's last position
 *   together with its documents;
 * - a document and its checkpoint never move backwards, also with two writers at once.
 */
export interface ProjectionStore {
  readonly projections: readonly Projection[];
  applyPage(events: readonly StoredEvent[]): Promise<void>;
  /** Global position of the last event this projection was given (0 before any). */
  checkpoint(projection: string): Promise<number>;
  document<D>(projection: string, id: string): Promise<D | null>;
  /** A log projection's entries for one document, by revision: those after `after` (default -1), at most `limit` (default 100). */
  entries<E>(projection: string, id: string, options?: { after?: number; limit?: number }): Promise<E[]>;
  /** Drops one projection's documents, entries and checkpoint. */
  reset(projection: string): Promise<void>;
}

/** Small keyed values: aggregate snapshots, consumer checkpoints, idempotency marks. */
export interface KeyValueStore {
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ttlSeconds?: number): Promise<void>;
  /** Sets only when absent; true when this call set it. */
  setIfAbsent(key: string, value: string, ttlSeconds?: number): Promise<boolean>;
  delete(key: string): Promise<void>;
  close(): Promise<void>;
}

export const READ_MODEL_STORE = Symbol('READ_MODEL_STORE');
export const KEY_VALUE_STORE = Symbol('KEY_VALUE_STORE');
