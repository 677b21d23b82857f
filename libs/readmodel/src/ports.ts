import type { StoredEvent } from '@twostep/eventstore';
import type { EventLogEntry, StatusView } from './views';

/** Status views and event logs, built by projections from the event store. */
export interface ReadModelStore {
  /** Applies one event to every view and moves the projection's checkpoint, atomically and idempotently. */
  apply(projection: string, event: StoredEvent): Promise<void>;
  /**
   * Applies a page of events in log order and moves the checkpoint to the last one: the same
   * views as `apply` one event at a time. Idempotent; an adapter that can do it in one
   * transaction does (SQLite), so a page costs one commit.
   */
  applyPage(projection: string, events: readonly StoredEvent[]): Promise<void>;
  checkpoint(projection: string): Promise<number>;
  status(tenantId: string, userId: string): Promise<StatusView | null>;
  eventLog(tenantId: string, userId: string, options?: { after?: number; limit?: number }): Promise<EventLogEntry[]>;
  /** Drops every view and the projection's checkpoint, so a replay rebuilds from scratch. */
  reset(projection: string): Promise<void>;
  close(): Promise<void>;
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

export const STATUS_PROJECTION = 'status-v1';
