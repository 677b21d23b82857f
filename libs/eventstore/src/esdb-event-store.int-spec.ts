import { EsdbEventStore } from './esdb-event-store';
import { CONTRACT_STREAM_PREFIX, eventStoreContract } from './testing/event-store.contract';

// EventStoreDB cannot run on the CI machine; set ESDB_URL (e.g. esdb://localhost:2113?tls=false) to run the contract against a server — docker-compose provides one.
const describeIfEsdb = process.env.ESDB_URL ? describe : describe.skip;

describeIfEsdb('EsdbEventStore against EventStoreDB', () => {
  jest.setTimeout(30_000); // network round-trips; the 1000-event paging test alone makes several appends

  // Only the contract's own streams: the server may be shared and already hold other events.
  eventStoreContract('EsdbEventStore', async () => {
    const store = EsdbEventStore.connect(process.env.ESDB_URL!, { prefixes: [CONTRACT_STREAM_PREFIX], onHandlerError: () => undefined });
    return { store, cleanup: () => store.close() };
  });
});
