import { verifyChain } from './chain';
import { CHAIN_METADATA_KEY, EsdbEventStore } from './esdb-event-store';
import { WrongExpectedRevisionError, type StoredEvent } from './event-store';
import { CONTRACT_STREAM_PREFIX, eventStoreContract, newEvent, newStream, waitFor } from './testing/event-store.contract';
import { FakeEsdbClient } from './testing/fake-esdb-client';

/**
 * EventStoreDB cannot run here, so the adapter's own logic runs the contract against an
 * in-memory fake of the client; esdb-event-store.int-spec.ts runs it against a real server.
 */
const options = { prefixes: [CONTRACT_STREAM_PREFIX], onHandlerError: () => undefined, retryDelayMs: 20 };

eventStoreContract('EsdbEventStore (fake client)', async () => {
  const store = new EsdbEventStore(new FakeEsdbClient().asClient(), options);
  return { store, cleanup: () => store.close() };
});

describe('EsdbEventStore (fake client)', () => {
  let client: FakeEsdbClient;
  let store: EsdbEventStore;
  beforeEach(() => {
    client = new FakeEsdbClient();
    store = new EsdbEventStore(client.asClient(), options, true);
  });
  afterEach(() => store.close());

  it('keeps the hash chain in reserved metadata and strips it on read', async () => {
    const stream = newStream();
    const event = newEvent('A', { x: 1 });
    await store.append(stream, [event, newEvent('B')], 'no_stream');
    const raw = client.log.filter((r) => r.streamId === stream).map((r) => JSON.parse(r.metadata) as Record<string, unknown>);
    const [a, b] = await store.readStream(stream);
    expect(raw[0]![CHAIN_METADATA_KEY]).toEqual({ hash: a!.hash, prevHash: null });
    expect(raw[1]![CHAIN_METADATA_KEY]).toEqual({ hash: b!.hash, prevHash: a!.hash });
    expect(a!.metadata).toEqual(event.metadata);
  });

  it('sees only streams with its prefixes, in readAll and headPosition', async () => {
    const stream = newStream();
    const result = await store.append(stream, [newEvent('A'), newEvent('B')], 'no_stream');
    await client.appendToStream('Other-later', [{ id: 'f0a1b2c3-0000-4000-8000-000000000001', contentType: 'application/json', type: 'Foreign', data: {}, metadata: {} }]);
    const all = await store.readAll();
    expect(all.map((e) => e.stream)).toEqual([stream, stream]);
    expect(client.log.filter((r) => !r.streamId.startsWith(CONTRACT_STREAM_PREFIX))).toHaveLength(3); // system, foreign before and after
    expect(await store.headPosition()).toBe(result.position);
    expect(verifyChain(all)).toEqual([]);
  });

  it('pages readAll past long runs of foreign events', async () => {
    const stream = newStream();
    await store.append(stream, [newEvent('first')], 'no_stream');
    const other = new EsdbEventStore(client.asClient(), { prefixes: ['Other-'] });
    for (let i = 0; i < 3; i++) await other.append(`Other-${i}`, Array.from({ length: 400 }, () => newEvent('Noise')), 'any');
    await store.append(stream, [newEvent('second')], 0);
    expect((await store.readAll({ limit: 10 })).map((e) => e.type)).toEqual(['first', 'second']);
    const [first] = await store.readAll({ limit: 1 });
    expect((await store.readAll({ after: first!.position })).map((e) => e.type)).toEqual(['second']);
  });

  it('refuses streams outside its prefixes and the reserved metadata key', async () => {
    await expect(store.append('Other-1', [newEvent('A')], 'any')).rejects.toThrow(/does not start with/);
    await expect(store.append(newStream(), [newEvent('A', {}, { [CHAIN_METADATA_KEY]: 'x' })], 'any')).rejects.toThrow(/reserved/);
    expect(() => new EsdbEventStore(client.asClient(), { prefixes: [] })).toThrow(/prefixes/);
  });

  it('reports events it did not write instead of inventing a chain', async () => {
    const stream = newStream();
    await client.appendToStream(stream, [{ id: 'f0a1b2c3-0000-4000-8000-000000000000', contentType: 'application/json', type: 'Foreign', data: {}, metadata: {} }]);
    await expect(store.readStream(stream)).rejects.toThrow(/hash chain metadata/);
    await expect(store.append(stream, [newEvent('A')], 'any')).rejects.toThrow(/hash chain metadata/);
  });

  it('a subscription stops at a foreign event in its streams and says so, never skipping it', async () => {
    const ours = newStream();
    await store.append(ours, [newEvent('A')], 'no_stream');
    const foreign = newStream();
    await client.appendToStream(foreign, [{ id: 'f0a1b2c3-0000-4000-8000-00000000000f', contentType: 'application/json', type: 'Foreign', data: {}, metadata: {} }]);
    await store.append(ours, [newEvent('B')], 0);
    const logged = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    const seen: string[] = [];
    const sub = store.subscribeAll({}, async (event) => void seen.push(event.type));
    await waitFor(() => logged.mock.calls.length >= 2);
    await sub.stop();
    expect(seen).toEqual(['A']); // B comes after the foreign event: held back, not delivered out of order
    expect(String(logged.mock.calls[0]![0])).toMatch(/^esdb event store subscription is stuck after position \d+: EsdbEventStore: event .+ has no .+ hash chain metadata; fix or remove that event$/);
    logged.mockRestore();
  });

  it('resubscribes from the last delivered event after the connection drops', async () => {
    const stream = newStream();
    await store.append(stream, [newEvent('A'), newEvent('B')], 'no_stream');
    const seen: StoredEvent[] = [];
    const sub = store.subscribeAll({}, async (e) => void seen.push(e));
    await waitFor(() => seen.length === 2);
    const logged = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    client.dropSubscriptions();
    await store.append(stream, [newEvent('C')], 1);
    await waitFor(() => seen.length === 3);
    await store.append(stream, [newEvent('D')], 2);
    await waitFor(() => seen.length === 4);
    expect(seen.map((e) => e.type)).toEqual(['A', 'B', 'C', 'D']);
    expect(logged).toHaveBeenCalledTimes(1);
    logged.mockRestore();
    await sub.stop();
    expect(client.liveSubscriptions).toBe(0);
  });

  it('treats an append that reports success:false (throwOnAppendFailure=false) as the conflict it is', async () => {
    const stream = newStream();
    await store.append(stream, [newEvent('A')], 'no_stream');
    const real = client.appendToStream.bind(client);
    client.appendToStream = async () => ({ success: false, nextExpectedRevision: 1n, position: undefined }) as never;
    const refused = await store.append(stream, [newEvent('B')], 0).catch((error: unknown) => error);
    client.appendToStream = real;
    expect(refused).toBeInstanceOf(WrongExpectedRevisionError);
    expect(refused).toMatchObject({ stream, expected: 0, actual: 0 });
    expect(await store.readStream(stream)).toHaveLength(1);
  });

  it('refuses event ids that are not UUIDs (EventStoreDB requires them) before writing', async () => {
    const stream = newStream();
    await expect(store.append(stream, [{ ...newEvent('A'), eventId: 'evt-1' }], 'no_stream')).rejects.toThrow("EventStoreDB needs UUID event ids, got 'evt-1'");
    expect(await store.readStream(stream)).toEqual([]);
  });

  it('accepts the kurrentdb:// schemes the configuration allows (the 6.x client parses only esdb://)', async () => {
    for (const url of ['kurrentdb://127.0.0.1:1?tls=false', 'kurrentdb+discover://127.0.0.1:1?tls=false', 'esdb://127.0.0.1:1?tls=false']) {
      const connected = EsdbEventStore.connect(url, options); // parses now, connects on first use
      await connected.close();
    }
  });

  it('disposes a client it owns on close', async () => {
    await store.close();
    expect(client.disposed).toBe(true);
    await expect(store.readAll()).rejects.toThrow(/closed/);
  });
});
