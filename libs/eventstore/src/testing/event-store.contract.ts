import { randomUUID } from 'node:crypto';
import { computeEventHash, verifyChain } from '../chain';
import { WrongExpectedRevisionError, type EventStore, type NewEvent, type StoredEvent, type Subscription } from '../event-store';

/**
 * Stream names used by the contract. They carry a real domain prefix so that adapters which
 * filter $all by prefix (EventStoreDB) see them; each test adds a random suffix so the contract
 * also runs against a shared server that already holds other events.
 */
export const CONTRACT_STREAM_PREFIX = 'TwoFactorAccount-contract-';

export interface ContractSubject {
  store: EventStore;
  cleanup(): Promise<void>;
}

export function newStream(label = 's'): string {
  return `${CONTRACT_STREAM_PREFIX}${label}-${randomUUID()}`;
}

export function newEvent(type: string, data: Record<string, unknown> = {}, extraMetadata: Record<string, unknown> = {}): NewEvent {
  return {
    eventId: randomUUID(),
    type,
    data,
    metadata: { at: new Date().toISOString(), actor: { kind: 'system' }, schemaVersion: 1, ...extraMetadata },
  };
}

export async function waitFor(condition: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The behaviour every EventStore adapter must have. */
export function eventStoreContract(name: string, factory: () => Promise<ContractSubject>): void {
  describe(`EventStore contract: ${name}`, () => {
    let subject: ContractSubject;
    let store: EventStore;
    const subscriptions: Subscription[] = [];

    beforeEach(async () => {
      subject = await factory();
      store = subject.store;
    });

    afterEach(async () => {
      await Promise.all(subscriptions.splice(0).map((s) => s.stop()));
      await subject.cleanup();
    });

    /** Subscribes and collects only this test's events (a shared server may hold others). */
    function collect(streams: string[], after: number, handler?: (e: StoredEvent) => Promise<void>): StoredEvent[] {
      const seen: StoredEvent[] = [];
      const sub = store.subscribeAll({ after }, async (e) => {
        if (!streams.includes(e.stream)) return;
        await handler?.(e);
        seen.push(e);
      });
      subscriptions.push(sub);
      return seen;
    }

    async function readOwn(streams: string[], after: number): Promise<StoredEvent[]> {
      const out: StoredEvent[] = [];
      for (let page = await store.readAll({ after }); page.length > 0; page = await store.readAll({ after })) {
        out.push(...page.filter((e) => streams.includes(e.stream)));
        after = page[page.length - 1]!.position;
      }
      return out;
    }

    describe('append and readStream', () => {
      it("appends to a new stream with 'no_stream'", async () => {
        const stream = newStream();
        const event = newEvent('Created', { n: 1 });
        const result = await store.append(stream, [event], 'no_stream');
        expect(result.nextRevision).toBe(0);
        expect(result.position).toBeGreaterThanOrEqual(1);

        const [stored, ...rest] = await store.readStream(stream);
        expect(rest).toEqual([]);
        expect(stored).toMatchObject({ ...event, stream, revision: 0, position: result.position, prevHash: null });
        expect(new Date(stored!.recordedAt).toISOString()).toBe(stored!.recordedAt);
      });

      it('numbers revisions 0..n across appends and returns the last one', async () => {
        const stream = newStream();
        expect(await store.append(stream, [newEvent('A'), newEvent('B'), newEvent('C')], 'no_stream')).toMatchObject({ nextRevision: 2 });
        const second = await store.append(stream, [newEvent('D'), newEvent('E')], 2);
        expect(second.nextRevision).toBe(4);
        const events = await store.readStream(stream);
        expect(events.map((e) => [e.revision, e.type])).toEqual([[0, 'A'], [1, 'B'], [2, 'C'], [3, 'D'], [4, 'E']]);
        expect(second.position).toBe(events[4]!.position);
      });

      it('rejects a wrong numeric expected revision and appends nothing', async () => {
        const stream = newStream();
        await store.append(stream, [newEvent('A'), newEvent('B')], 'no_stream');
        const error = await store.append(stream, [newEvent('C')], 0).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(WrongExpectedRevisionError);
        expect(error).toMatchObject({ code: 'wrong_expected_revision', stream, expected: 0, actual: 1 });
        expect((await store.readStream(stream)).map((e) => e.type)).toEqual(['A', 'B']);
      });

      it("rejects 'no_stream' for an existing stream, and a number for a missing one", async () => {
        const stream = newStream();
        await store.append(stream, [newEvent('A')], 'no_stream');
        await expect(store.append(stream, [newEvent('B')], 'no_stream')).rejects.toMatchObject({ code: 'wrong_expected_revision', expected: 'no_stream', actual: 0 });

        const missing = newStream();
        await expect(store.append(missing, [newEvent('A')], 0)).rejects.toMatchObject({ code: 'wrong_expected_revision', expected: 0, actual: 'no_stream' });
        expect(await store.readStream(stream)).toHaveLength(1);
        expect(await store.readStream(missing)).toEqual([]);
      });

      it("'any' appends to missing and existing streams", async () => {
        const stream = newStream();
        expect((await store.append(stream, [newEvent('A')], 'any')).nextRevision).toBe(0);
        expect((await store.append(stream, [newEvent('B'), newEvent('C')], 'any')).nextRevision).toBe(2);
        expect((await store.readStream(stream)).map((e) => e.revision)).toEqual([0, 1, 2]);
      });

      it('refuses an empty append with a clear error', async () => {
        const stream = newStream();
        const error = await store.append(stream, [], 'any').catch((e: unknown) => e);
        expect(error).toBeInstanceOf(Error);
        expect(error).not.toBeInstanceOf(WrongExpectedRevisionError);
        expect((error as Error).message).toMatch(/empty/);
        expect(await store.readStream(stream)).toEqual([]);
      });

      it('reads a stream from a revision', async () => {
        const stream = newStream();
        await store.append(stream, ['A', 'B', 'C', 'D'].map((t) => newEvent(t)), 'no_stream');
        expect((await store.readStream(stream, { fromRevision: 2 })).map((e) => e.type)).toEqual(['C', 'D']);
        expect(await store.readStream(stream, { fromRevision: 4 })).toEqual([]);
      });

      it('returns [] for a missing stream', async () => {
        expect(await store.readStream(newStream('missing'))).toEqual([]);
      });

      it('round-trips data and metadata (unicode, nested objects, arrays, null)', async () => {
        const before = await store.headPosition();
        const stream = newStream();
        const data = {
          text: 'Grüße aus Köln — 日本語 — 🔐✅',
          nested: { deeper: { list: [1, 2.5, -3, { x: null }], flag: false }, empty: {} },
          zero: 0,
          nothing: null,
          emptyList: [],
        };
        const event = newEvent('Unicode ✓', data, {
          actor: { kind: 'operator', id: 'op-ü', apiKeyId: 'key-1' },
          correlationId: randomUUID(),
          extra: { reason: 'ärger 🙂', tags: ['a', 'b'] },
        });
        await store.append(stream, [event], 'no_stream');
        const [stored] = await store.readStream(stream);
        expect(stored!.data).toEqual(data);
        expect(stored!.metadata).toEqual(event.metadata);
        expect(stored!.type).toBe('Unicode ✓');
        expect(await readOwn([stream], before)).toEqual([stored]);
      });
    });

    describe('concurrency', () => {
      it('lets exactly one of two appends with the same expected revision win', async () => {
        const stream = newStream();
        await store.append(stream, [newEvent('A')], 'no_stream');
        const results = await Promise.allSettled([store.append(stream, [newEvent('B1')], 0), store.append(stream, [newEvent('B2')], 0)]);
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
        expect(rejected).toHaveLength(1);
        expect(rejected[0]!.reason).toBeInstanceOf(WrongExpectedRevisionError);
        expect(await store.readStream(stream)).toHaveLength(2);
      });

      it("lets exactly one of two 'no_stream' appends win", async () => {
        const stream = newStream();
        const results = await Promise.allSettled([store.append(stream, [newEvent('X')], 'no_stream'), store.append(stream, [newEvent('Y')], 'no_stream')]);
        expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
        expect(await store.readStream(stream)).toHaveLength(1);
      });

      it("never loses an 'any' append to a race", async () => {
        const stream = newStream();
        await Promise.all([1, 2, 3, 4].map((i) => store.append(stream, [newEvent(`E${i}`)], 'any')));
        const events = await store.readStream(stream);
        expect(events.map((e) => e.revision)).toEqual([0, 1, 2, 3]);
        expect(verifyChain(events)).toEqual([]);
      });
    });

    describe('readAll and headPosition', () => {
      it('reads across streams in global order, pages with after/limit', async () => {
        const before = await store.headPosition();
        const a = newStream('a');
        const b = newStream('b');
        await store.append(a, [newEvent('a0')], 'no_stream');
        await store.append(b, [newEvent('b0'), newEvent('b1')], 'no_stream');
        await store.append(a, [newEvent('a1')], 0);
        await store.append(b, [newEvent('b2')], 1);

        const all = await readOwn([a, b], before);
        expect(all.map((e) => e.type)).toEqual(['a0', 'b0', 'b1', 'a1', 'b2']);

        const paged: StoredEvent[] = [];
        let after = before;
        for (let i = 0; i < 100; i++) {
          const page = await store.readAll({ after, limit: 2 });
          if (page.length === 0) break;
          expect(page.length).toBeLessThanOrEqual(2);
          expect(page.every((e) => e.position > after)).toBe(true);
          if (i === 0) expect(page).toHaveLength(2); // at least 5 events follow `before`
          paged.push(...page.filter((e) => e.stream === a || e.stream === b));
          after = page[page.length - 1]!.position;
        }
        expect(paged).toEqual(all);
      });

      it('gives strictly increasing positions that match readStream and append results', async () => {
        const before = await store.headPosition();
        const s1 = newStream();
        const s2 = newStream();
        const r1 = await store.append(s1, [newEvent('A'), newEvent('B')], 'no_stream');
        const r2 = await store.append(s2, [newEvent('C')], 'no_stream');
        const r3 = await store.append(s1, [newEvent('D')], 1);
        const all = await readOwn([s1, s2], before);
        const positions = all.map((e) => e.position);
        expect(positions.every((p, i) => i === 0 || p > positions[i - 1]!)).toBe(true);
        expect(positions[0]).toBeGreaterThan(before);
        expect([r1.position, r2.position, r3.position]).toEqual([positions[1], positions[2], positions[3]]);
        const fromStreams = [...(await store.readStream(s1)), ...(await store.readStream(s2))].sort((x, y) => x.position - y.position);
        expect(fromStreams).toEqual(all);
      });

      it('reports the head position', async () => {
        const before = await store.headPosition();
        expect(before).toBeGreaterThanOrEqual(0);
        const result = await store.append(newStream(), [newEvent('A'), newEvent('B')], 'no_stream');
        const head = await store.headPosition();
        expect(head).toBeGreaterThanOrEqual(result.position); // equal unless someone else writes concurrently
        expect(head).toBeGreaterThan(before);
      });

      it('limits readAll to 1000 by default', async () => {
        const before = await store.headPosition();
        const stream = newStream();
        // 1001 events in a few appends; a shared server may add others, which only makes the page fuller.
        for (let i = 0; i < 7; i++) {
          const batch = Array.from({ length: i < 6 ? 150 : 101 }, (_, j) => newEvent('Bulk', { i, j }));
          await store.append(stream, batch, i === 0 ? 'no_stream' : i * 150 - 1);
        }
        expect(await store.readAll({ after: before })).toHaveLength(1000);
      });
    });

    describe('hash chain', () => {
      it('links each event to the previous one in its stream and verifies an untouched log', async () => {
        const before = await store.headPosition();
        const a = newStream('a');
        const b = newStream('b');
        await store.append(a, [newEvent('a0', { v: 1 }), newEvent('a1', { v: 2 })], 'no_stream');
        await store.append(b, [newEvent('b0', { nested: { ü: ['✓'] } })], 'no_stream');
        await store.append(a, [newEvent('a2')], 1);

        const streamA = await store.readStream(a);
        expect(streamA[0]!.prevHash).toBeNull();
        expect(streamA[1]!.prevHash).toBe(streamA[0]!.hash);
        expect(streamA[2]!.prevHash).toBe(streamA[1]!.hash);
        for (const e of streamA) {
          expect(e.hash).toMatch(/^[0-9a-f]{64}$/);
          expect(e.hash).toBe(computeEventHash(e.prevHash, e));
        }
        const [b0] = await store.readStream(b);
        expect(b0!.prevHash).toBeNull();

        const log = await readOwn([a, b], before);
        expect(log).toHaveLength(4);
        expect(verifyChain(log)).toEqual([]);
      });
    });

    describe('subscribeAll', () => {
      it('catches up, then delivers live events in order', async () => {
        const before = await store.headPosition();
        const s1 = newStream();
        const s2 = newStream();
        await store.append(s1, [newEvent('old1'), newEvent('old2')], 'no_stream');
        const seen = collect([s1, s2], before);
        await waitFor(() => seen.length === 2, 5000, 'catch-up');

        await store.append(s2, [newEvent('live1')], 'no_stream');
        await store.append(s1, [newEvent('live2')], 1);
        await waitFor(() => seen.length === 4, 5000, 'live events');
        expect(seen.map((e) => e.type)).toEqual(['old1', 'old2', 'live1', 'live2']);
        expect(seen).toEqual(await readOwn([s1, s2], before));
      });

      it('resumes after a given position', async () => {
        const stream = newStream();
        await store.append(stream, [newEvent('A'), newEvent('B'), newEvent('C')], 'no_stream');
        const [, b] = await store.readStream(stream);
        const seen = collect([stream], b!.position);
        await waitFor(() => seen.length === 1, 5000, 'event C');
        await store.append(stream, [newEvent('D')], 2);
        await waitFor(() => seen.length === 2, 5000, 'event D');
        await sleep(100);
        expect(seen.map((e) => e.type)).toEqual(['C', 'D']);
      });

      it('retries a failing handler with the same event and never skips it', async () => {
        const before = await store.headPosition();
        const stream = newStream();
        await store.append(stream, [newEvent('A'), newEvent('B'), newEvent('C')], 'no_stream');
        const calls: string[] = [];
        let failuresLeft = 2;
        const seen = collect([stream], before, async (e) => {
          calls.push(e.type);
          if (e.type === 'B' && failuresLeft-- > 0) throw new Error('projection down');
        });
        await waitFor(() => seen.length === 3, 10_000, 'all events after retries');
        expect(calls).toEqual(['A', 'B', 'B', 'B', 'C']);
        expect(seen.map((e) => e.type)).toEqual(['A', 'B', 'C']);
      });

      it('stop() waits for the in-flight handler and ends delivery', async () => {
        const before = await store.headPosition();
        const stream = newStream();
        await store.append(stream, [newEvent('A'), newEvent('B')], 'no_stream');
        let release!: () => void;
        const gate = new Promise<void>((resolve) => (release = resolve));
        let finished = 0;
        const started: string[] = [];
        const sub = store.subscribeAll({ after: before }, async (e) => {
          if (e.stream !== stream) return;
          started.push(e.type);
          await gate;
          finished++;
        });
        await waitFor(() => started.length === 1, 5000, 'first handler call');

        let stopped = false;
        const stopping = sub.stop().then(() => (stopped = true));
        await sleep(50);
        expect(stopped).toBe(false); // the handler for A is still running
        release();
        await stopping;
        expect(finished).toBe(1);

        await store.append(stream, [newEvent('C')], 1);
        await sleep(300);
        expect(started).toEqual(['A']);
        await sub.stop(); // idempotent
      });
    });

    describe('subscribeAllPages', () => {
      /** Collects this test's events page by page, and every page's lastPosition. */
      function collectPages(streams: string[], options: { after: number; limit?: number; types?: string[] }, handler?: (events: StoredEvent[]) => Promise<void>) {
        const seen: StoredEvent[] = [];
        const pages: { size: number; lastPosition: number }[] = [];
        const sub = store.subscribeAllPages(options, async (page) => {
          const own = page.events.filter((e) => streams.includes(e.stream));
          await handler?.(own);
          pages.push({ size: page.events.length, lastPosition: page.lastPosition });
          seen.push(...own);
        });
        subscriptions.push(sub);
        return { seen, pages };
      }

      it('hands over the log in pages of at most `limit`, in order, catching up and then live', async () => {
        const before = await store.headPosition();
        const stream = newStream();
        await store.append(stream, Array.from({ length: 7 }, (_, i) => newEvent(`E${i}`)), 'no_stream');
        const { seen, pages } = collectPages([stream], { after: before, limit: 3 });
        await waitFor(() => seen.length === 7, 5000, 'catch-up in pages');
        expect(pages.every((page) => page.size >= 1 && page.size <= 3)).toBe(true);
        await store.append(stream, [newEvent('live')], 6);
        await waitFor(() => seen.length === 8, 5000, 'live event');
        expect(seen).toEqual(await readOwn([stream], before));
        // lastPosition only moves forward, and the last page ends at the last event.
        const positions = pages.map((page) => page.lastPosition);
        expect([...positions].sort((a, b) => a - b)).toEqual(positions);
        expect(positions[positions.length - 1]).toBe(seen[seen.length - 1]!.position);
      });

      it('with `types`, hands over only those events, while lastPosition covers the ones left out', async () => {
        const before = await store.headPosition();
        const stream = newStream();
        await store.append(stream, [newEvent('Login'), newEvent('CodeIssued', { n: 1 }), newEvent('Login'), newEvent('Login')], 'no_stream');
        const all = await store.readStream(stream);
        const { seen, pages } = collectPages([stream], { after: before, types: ['CodeIssued'] });
        await waitFor(() => pages.some((page) => page.lastPosition >= all[3]!.position), 5000, 'the page holding the last Login');
        expect(seen.map((e) => [e.type, e.data])).toEqual([['CodeIssued', { n: 1 }]]);
        expect(seen[0]).toEqual(all[1]);
      });

      it('retries a failing page handler with the same page, and never skips it', async () => {
        const before = await store.headPosition();
        const stream = newStream();
        await store.append(stream, [newEvent('A'), newEvent('B')], 'no_stream');
        const calls: string[][] = [];
        let failuresLeft = 2;
        const { seen } = collectPages([stream], { after: before }, async (events) => {
          if (events.length === 0) return;
          calls.push(events.map((e) => e.type));
          if (failuresLeft-- > 0) throw new Error('kafka down');
        });
        await waitFor(() => seen.length === 2, 10_000, 'both events after retries');
        expect(seen.map((e) => e.type)).toEqual(['A', 'B']);
        // The page that failed came back whole (the first page may have held A alone on a live server).
        expect(calls[1]).toEqual(calls[0]);
        expect(calls[2]).toEqual(calls[0]);
      });

      it('refuses a bad limit or types with a clear error', () => {
        expect(() => store.subscribeAllPages({ limit: 0 }, async () => undefined)).toThrow(/limit must be an integer >= 1/);
        expect(() => store.subscribeAllPages({ types: 'CodeIssued' as unknown as string[] }, async () => undefined)).toThrow(/types must be an array/);
      });
    });
  });
}