import type { StoredEvent } from '@twostep/eventstore';
import { eventLogProjection } from './event-log.projection';
import type { ProjectionStore, ReadModelStore } from './ports';
import { accountDocumentId, statusProjection } from './status.projection';
import type { EventLogEntry, StatusView } from './views';

/** The status view and the event log, read from whichever projection store holds them. */
export class ReadModels implements ReadModelStore {
  constructor(private readonly store: ProjectionStore) {}

  apply(event: StoredEvent): Promise<void> {
    return this.store.applyPage([event]);
  }

  applyPage(events: readonly StoredEvent[]): Promise<void> {
    return this.store.applyPage(events);
  }

  async checkpoint(): Promise<number> {
    const positions = await Promise.all(this.store.projections.map((projection) => this.store.checkpoint(projection.name)));
    return Math.min(...positions);
  }

  status(tenantId: string, userId: string): Promise<StatusView | null> {
    return this.store.document<StatusView>(statusProjection.name, accountDocumentId(tenantId, userId));
  }

  eventLog(tenantId: string, userId: string, options?: { after?: number; limit?: number }): Promise<EventLogEntry[]> {
    return this.store.entries<EventLogEntry>(eventLogProjection.name, accountDocumentId(tenantId, userId), options);
  }

  async reset(): Promise<void> {
    for (const projection of this.store.projections) await this.store.reset(projection.name);
  }

  async close(): Promise<void> {
    // The connection belongs to whoever opened it.
  }
}
