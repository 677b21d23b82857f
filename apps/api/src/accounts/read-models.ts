import { Inject, Injectable } from '@nestjs/common';
import { EVENT_STORE, READ_MODEL_STORE, type EventStore, type ReadModelStore } from '../tokens';

/** How long a query waits for the projector to catch up with the latest append. */
const FRESHNESS_TIMEOUT_MS = 2000;

/**
 * Read-your-writes for queries: wait (briefly) until the views include every event appended
 * before the query arrived. Past the timeout the possibly stale view is served.
 */
@Injectable()
export class ReadModels {
  constructor(@Inject(EVENT_STORE) private readonly eventStore: EventStore, @Inject(READ_MODEL_STORE) private readonly readModels: ReadModelStore) {}

  async fresh() {
    const head = await this.eventStore.headPosition();
    const deadline = Date.now() + FRESHNESS_TIMEOUT_MS;
    while ((await this.readModels.checkpoint()) < head && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return this.readModels;
  }
}
