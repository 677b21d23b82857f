import type { StoredEvent } from '@twostep/eventstore';
import { InProcessBus } from './in-process-bus';
import { busContract, busEvent, waitFor } from './testing/bus.contract';

const quiet = { retry: { initialDelayMs: 10, maxDelayMs: 100 }, onHandlerError: () => undefined };

busContract(
  'InProcessBus',
  async () => {
    const bus = new InProcessBus(quiet);
    return { publisher: bus, consumer: () => bus, cleanup: () => bus.close() };
  },
  { testTimeoutMs: 15_000, quietMs: 100 },
);

describe('InProcessBus', () => {
  const stream = 'TwoFactorAccount-t|u';

  it('publish() resolves only after the running handler has handled the events', async () => {
    const bus = new InProcessBus(quiet);
    const handled: number[] = [];
    await bus.start(async (event) => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      handled.push(event.revision);
    });
    await bus.publish([busEvent(stream, 0), busEvent(stream, 1)]);
    expect(handled).toEqual([0, 1]);
    await bus.close();
  });

  it('publish() waits through retries of a failing handler', async () => {
    const bus = new InProcessBus(quiet);
    let attempts = 0;
    await bus.start(async () => {
      if (++attempts < 3) throw new Error('not yet');
    });
    await bus.publish([busEvent(stream, 0)]);
    expect(attempts).toBe(3);
    await bus.close();
  });

  it('keeps events published without a consumer until one starts', async () => {
    const bus = new InProcessBus(quiet);
    const events = [busEvent(stream, 0), busEvent(stream, 1)];
    await bus.publish(events); // resolves at once: accepted, nobody listening yet
    const seen: StoredEvent[] = [];
    await bus.start(async (event) => void seen.push(event));
    await waitFor(() => seen.length === 2, 1000, 'buffered events');
    expect(seen).toEqual(events);
    expect(seen[0]).not.toBe(events[0]); // a copy, as from a broker
    await bus.close();
  });

  it('reports each failed attempt with the event and the attempt number', async () => {
    const failures: [string, number][] = [];
    const bus = new InProcessBus({ retry: { initialDelayMs: 5 }, onHandlerError: (error, event, attempt) => failures.push([`${(error as Error).message}:${event?.revision}`, attempt]) });
    let n = 0;
    await bus.start(async () => {
      if (++n <= 2) throw new Error('boom');
    });
    await bus.publish([busEvent(stream, 7)]);
    expect(failures).toEqual([
      ['boom:7', 1],
      ['boom:7', 2],
    ]);
    await bus.close();
  });

  it('refuses a second handler, and use after close()', async () => {
    const bus = new InProcessBus(quiet);
    await bus.start(async () => undefined);
    await expect(bus.start(async () => undefined)).rejects.toThrow(/already has a running consumer/);
    await bus.close();
    await expect(bus.publish([busEvent(stream, 0)])).rejects.toThrow(/closed/);
    await expect(bus.start(async () => undefined)).rejects.toThrow(/closed/);
    await bus.stop(); // harmless
  });
});
