import { randomUUID } from 'node:crypto';
import type { StoredEvent } from '@twostep/eventstore';
import type { EventConsumer, EventPublisher } from '../ports';

export interface BusContractSubject {
  publisher: EventPublisher;
  /**
   * A consumer in the subject's one consumer group; each call may return a new member (Kafka: a
   * new consumer with the same groupId) or the same object (in-process bus). The contract stops
   * each consumer before it asks for the next.
   */
  consumer(): EventConsumer;
  /** Stops whatever is still running and removes what the subject created. */
  cleanup(): Promise<void>;
}

export interface BusContractOptions {
  /** Per-test timeout; default 60 s. */
  testTimeoutMs?: number;
  /** How long to watch for unexpected (re)deliveries after the expected ones arrived; default 1 s. */
  quietMs?: number;
}

let sequence = 0;

/** A stored event as the projector would publish it; `at` fixed so equality checks are exact. */
export function busEvent(stream: string, revision: number, data: Record<string, unknown> = {}): StoredEvent {
  const position = ++sequence;
  return {
    eventId: randomUUID(),
    type: 'CodeIssued',
    data: { n: revision, nested: { list: [1, 'two', null], text: 'ünïcode ✓' }, ...data },
    metadata: { at: '2025-01-01T12:00:00.000Z', actor: { kind: 'customer' }, schemaVersion: 1, correlationId: `c-${position}` },
    stream,
    revision,
    position,
    recordedAt: '2025-01-01T12:00:00.001Z',
    hash: `hash-${position}`,
    prevHash: revision === 0 ? null : `hash-${position - 1}`,
  };
}

export async function waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const ids = (events: StoredEvent[]) => events.map((e) => e.eventId);

/** The behaviour every EventPublisher + EventConsumer pair must have. */
export function busContract(name: string, factory: () => Promise<BusContractSubject>, options: BusContractOptions = {}): void {
  const timeout = options.testTimeoutMs ?? 60_000;
  const quietMs = options.quietMs ?? 1000;
  const waitMs = Math.max(5000, timeout - 15_000);

  describe(`Bus contract: ${name}`, () => {
    let subject: BusContractSubject;
    let stream: (label: string) => string;

    beforeEach(async () => {
      subject = await factory();
      const run = randomUUID().slice(0, 8);
      stream = (label) => `TwoFactorAccount-bus-${run}|${label}`;
    });

    afterEach(async () => {
      await subject.cleanup();
    });

    it(
      'delivers every published event once, in order per stream, with identical content',
      async () => {
        const [a, b, c] = [stream('a'), stream('b'), stream('c')];
        const batches = [
          [busEvent(a, 0), busEvent(b, 0)],
          [busEvent(a, 1)],
          [busEvent(c, 0), busEvent(a, 2), busEvent(b, 1), busEvent(c, 1)],
          [busEvent(b, 2), busEvent(c, 2), busEvent(a, 3, { big: 'x'.repeat(50_000) })],
        ];
        const published = batches.flat();
        const received: StoredEvent[] = [];
        const consumer = subject.consumer();
        await consumer.start(async (event) => void received.push(event));
        for (const batch of batches) await subject.publisher.publish(batch);
        await subject.publisher.publish([]); // nothing to do, no error

        await waitFor(() => received.length >= published.length, waitMs, `${published.length} events`);
        await sleep(quietMs);
        expect(received).toHaveLength(published.length);
        for (const s of [a, b, c]) {
          expect(received.filter((e) => e.stream === s)).toEqual(published.filter((e) => e.stream === s));
        }
        await consumer.stop();
      },
      timeout,
    );

    it(
      'gives a handler that threw the same event again, and loses nothing behind it',
      async () => {
        const s = stream('retry');
        const events = [0, 1, 2, 3, 4].map((r) => busEvent(s, r));
        const deliveries: string[] = [];
        let failed = false;
        const consumer = subject.consumer();
        await consumer.start(async (event) => {
          deliveries.push(event.eventId);
          if (event.eventId === events[1]!.eventId && !failed) {
            failed = true;
            event.data.mutated = true; // a redelivery must not see what the failed attempt did
            throw new Error('transient failure');
          }
          expect(event.data.mutated).toBeUndefined();
        });
        await subject.publisher.publish(events.slice(0, 3));
        await subject.publisher.publish(events.slice(3));

        await waitFor(() => deliveries.length >= 6, waitMs, 'six deliveries');
        await sleep(quietMs);
        expect(deliveries).toEqual(ids([events[0]!, events[1]!, events[1]!, events[2]!, events[3]!, events[4]!]));
        await consumer.stop();
      },
      timeout,
    );

    it(
      'after stop(), a new consumer of the group gets what was not handled, and nothing that was',
      async () => {
        const s = stream('restart');
        const events = [0, 1, 2, 3, 4].map((r) => busEvent(s, r));
        const first: StoredEvent[] = [];
        const a = subject.consumer();
        await a.start(async (event) => void first.push(event));
        await subject.publisher.publish(events.slice(0, 3));
        await waitFor(() => first.length >= 3, waitMs, 'the first consumer to handle three events');
        await a.stop();

        await subject.publisher.publish(events.slice(3));
        await sleep(100);
        expect(ids(first)).toEqual(ids(events.slice(0, 3))); // stopped means stopped

        const second: StoredEvent[] = [];
        const b = subject.consumer();
        await b.start(async (event) => void second.push(event));
        await waitFor(() => second.length >= 2, waitMs, 'the second consumer to get the two new events');
        await sleep(quietMs);
        expect(second).toEqual(events.slice(3));
        await b.stop();
      },
      timeout,
    );

    it(
      'stop() lets the in-flight handler finish, and that event counts as handled',
      async () => {
        const s = stream('inflight');
        const events = [0, 1, 2].map((r) => busEvent(s, r));
        await subject.publisher.publish(events);

        let release!: () => void;
        const gate = new Promise<void>((resolve) => (release = resolve));
        const first: StoredEvent[] = [];
        let finished = 0;
        const a = subject.consumer();
        await a.start(async (event) => {
          first.push(event);
          await gate;
          finished++;
        });
        await waitFor(() => first.length === 1, waitMs, 'the first delivery');

        let stopped = false;
        const stopping = a.stop().then(() => (stopped = true));
        await sleep(300);
        expect(stopped).toBe(false); // still waiting for the handler
        release();
        await stopping;
        expect(finished).toBe(1);
        expect(ids(first)).toEqual([events[0]!.eventId]);

        const second: StoredEvent[] = [];
        const b = subject.consumer();
        await b.start(async (event) => void second.push(event));
        await waitFor(() => second.length >= 2, waitMs, 'the second consumer to get the rest');
        await sleep(quietMs);
        expect(ids(second)).toEqual(ids(events.slice(1)));
        await b.stop();
      },
      timeout,
    );

    it(
      'stop() during the retries of a failing event leaves that event for the next consumer',
      async () => {
        const s = stream('poison');
        const events = [0, 1, 2].map((r) => busEvent(s, r));
        const first: string[] = [];
        const a = subject.consumer();
        await a.start(async (event) => {
          first.push(event.eventId);
          if (event.eventId === events[1]!.eventId) throw new Error('still failing');
        });
        const publishing = subject.publisher.publish(events); // in-process: resolves once handled or stopped
        await waitFor(() => first.filter((id) => id === events[1]!.eventId).length >= 2, waitMs, 'two failed attempts');
        const started = Date.now();
        await a.stop();
        expect(Date.now() - started).toBeLessThan(10_000);
        await publishing;
        expect(first.every((id) => id !== events[2]!.eventId)).toBe(true); // never skipped past the failure

        const second: StoredEvent[] = [];
        const b = subject.consumer();
        await b.start(async (event) => void second.push(event));
        await waitFor(() => second.length >= 2, waitMs, 'the failed event and the one behind it');
        await sleep(quietMs);
        expect(ids(second)).toEqual(ids(events.slice(1)));
        await b.stop();
      },
      timeout,
    );
  });
}
