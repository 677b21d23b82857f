import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { EMPTY_LOG_DIGEST, extendLogDigest, verifyChain, type EventStore, type StoredEvent } from '@twostep/eventstore';
import { chainEvents } from '../../libs/eventstore/src/chain';
import { ChainScan } from '../../apps/cli/src/chain-scan';
import { verifyLog } from '../../apps/cli/src/commands/verify';
import { byType, event, log, rehash } from '../../libs/eventstore/src/testing/chain-fixture';


/** An event store over an array, reading as SqliteEventStore does: readAll by position, readStream revisions >= 0 in revision order. */
function memoryStore(events: StoredEvent[]) {
  const byPosition = [...events].sort((a, b) => a.position - b.position);
  const calls = { readStream: [] as string[], readAll: 0 };
  return {
    calls,
    readAll: async ({ after = 0, limit = 1000 }: { after?: number; limit?: number } = {}) => {
      calls.readAll += 1;
      return byPosition.filter((e) => e.position > after).slice(0, limit);
    },
    readStream: async (stream: string) => {
      calls.readStream.push(stream);
      return events.filter((e) => e.stream === stream && e.revision >= 0).sort((a, b) => a.revision - b.revision);
    },
  };
}

const scanned = (events: StoredEvent[]): ChainScan => {
  const scan = new ChainScan();
  for (const e of events) scan.add(e);
  return scan;
};

/** The tamperings of chain.spec.ts, and one a store's readStream cannot see (a negative revision). */
const TAMPERED: Record<string, () => StoredEvent[]> = {
  'changed content': () => {
    const events = log();
    events[2] = { ...events[2]!, data: { t: 'forged' } };
    return events;
  },
  'edited prevHash': () => {
    const events = log();
    events[3] = { ...events[3]!, prevHash: events[0]!.hash };
    return events;
  },
  'replaced and re-hashed': () => {
    const events = log();
    events[2] = rehash({ ...events[2]!, data: { t: 'forged' } });
    return events;
  },
  'removed from the middle': () => log().filter((e) => e.type !== 'A1'),
  'removed stream start': () => log().filter((e) => e.type !== 'B0'),
  'removed stream start, renumbered and re-hashed': () =>
    log()
      .filter((e) => e.type !== 'B0')
      .map((e) => (e.type === 'B1' ? rehash({ ...e, revision: 0 }) : e)),
  'swapped in global order': () => {
    const events = log();
    [events[2], events[3]] = [{ ...events[3]!, position: 3 }, { ...events[2]!, position: 4 }];
    return events;
  },
  'positions that do not increase': () => {
    const events = log();
    [events[1], events[2]] = [events[2]!, events[1]!];
    return events;
  },
  'swapped by renumbering revisions': () => {
    const events = log();
    const [a1, a2] = [byType(events, 'A1'), byType(events, 'A2')];
    events[2] = { ...a2, revision: 1, position: 3 };
    events[3] = { ...a1, revision: 2, position: 4 };
    return events;
  },
  'spliced in': () => {
    const clean = log();
    const a0 = byType(clean, 'A0');
    const [forged] = chainEvents('A', { revision: 0, hash: a0.hash }, [event('Forged')]);
    return [
      a0,
      clean[1]!,
      { ...forged!, position: 3, recordedAt: a0.recordedAt },
      ...clean.slice(2).map((e) => ({ ...e, position: e.position + 1, revision: e.stream === 'A' ? e.revision + 1 : e.revision })),
    ];
  },
  'a second claim on a revision': () => {
    const events = log();
    const a0 = byType(events, 'A0');
    const [forged] = chainEvents('A', { revision: 0, hash: a0.hash }, [event('Forged')]);
    events.push({ ...forged!, position: 7, recordedAt: a0.recordedAt });
    return events;
  },
  'a revision made negative': () => {
    const events = log();
    events[3] = { ...events[3]!, revision: -1 };
    return events;
  },
};

describe('ChainScan', () => {
  it('finds nothing in a clean log and then reads nothing again', async () => {
    const scan = scanned(log());
    expect(scan.clean).toBe(true);
    expect(scan.suspects()).toEqual([]);
    expect({ count: scan.count, streams: [...scan.streams()], position: scan.position }).toEqual({ count: 6, streams: ['A', 'B'], position: 6 });
    let digest = EMPTY_LOG_DIGEST;
    for (const e of log()) digest = extendLogDigest(digest, e.hash);
    expect(scan.digest).toBe(digest);
    const store = memoryStore(log());
    expect(await scan.problems(store)).toEqual([]);
    expect(store.calls).toEqual({ readStream: [], readAll: 0 });
  });

  it.each(Object.keys(TAMPERED))('reports exactly what verifyChain reports over the whole log: %s', async (name) => {
    const events = TAMPERED[name]!();
    const expected = verifyChain(events);
    expect(expected.length).toBeGreaterThan(0); // each tampering is a problem
    const store = memoryStore(events);
    expect(await scanned(events).problems(store)).toEqual(expected);
  });

  it('re-reads only the suspect streams, by stream; the whole log only where a stream read misses events the pass saw', async () => {
    const changed = TAMPERED['changed content']!();
    const store = memoryStore(changed);
    const scan = scanned(changed);
    expect(scan.suspects()).toEqual([{ stream: 'A', count: 4 }]);
    await scan.problems(store);
    expect(store.calls).toEqual({ readStream: ['A'], readAll: 0 });

    const negative = TAMPERED['a revision made negative']!();
    const fallback = memoryStore(negative);
    await scanned(negative).problems(fallback);
    expect(fallback.calls.readStream).toEqual(['A']); // 3 of the 4 events the pass saw
    expect(fallback.calls.readAll).toBeGreaterThan(0);
  });

  it('leaves events appended after the pass out of the re-read', async () => {
    const events = TAMPERED['changed content']!();
    const scan = scanned(events);
    const a3 = byType(events, 'A3');
    // Appended after the pass, onto the stream's real tail: not part of this verification.
    const [later] = chainEvents('A', { revision: 3, hash: a3.hash }, [event('Later')]);
    const grown = [...events, { ...later!, position: 7, recordedAt: a3.recordedAt, hash: 'not-its-hash' }];
    expect(await scan.problems(memoryStore(grown))).toEqual(verifyChain(events));
  });

  it('remembers the digest and position only at the counts it is asked for', () => {
    const scan = new ChainScan([0, 2, 9]);
    for (const e of log()) scan.add(e);
    const [first, second] = log();
    expect(scan.mark(0)).toEqual({ count: 0, digest: EMPTY_LOG_DIGEST, position: 0 });
    expect(scan.mark(2)).toEqual({ count: 2, digest: extendLogDigest(extendLogDigest(EMPTY_LOG_DIGEST, first!.hash), second!.hash), position: 2 });
    expect(scan.mark(3)).toBeUndefined(); // not asked for
    expect(scan.mark(9)).toBeUndefined(); // not reached
  });

  it('keeps state per stream, not per event: its whole state is the same size after 30 events as after 9,000', () => {
    // Everything the scan holds, serialised: an event kept anywhere in it would show.
    const stateSize = (perStream: number) => {
      const scan = new ChainScan([1]);
      for (const e of interleaved(3, perStream)) scan.add(e);
      expect(scan.streamCount).toBe(3);
      expect(scan.count).toBe(3 * perStream);
      return v8.serialize(scan).length;
    };
    const small = stateSize(10);
    const large = stateSize(3000);
    // Only the numbers grow (revisions, counts, positions): a few bytes each.
    expect(large - small).toBeLessThan(64);
  });
});

describe('verifyLog', () => {
  it('streams the log: while it reads the last page, the events of the earlier pages are garbage', async () => {
    const gc = exposeGc();
    const total = 20_000;
    const refs: WeakRef<StoredEvent>[] = [];
    let aliveAtEnd = -1;
    const generated = lazyStore(total, 40, (e) => refs.push(new WeakRef(e)));
    const store = {
      ...generated,
      readAll: async (options: { after?: number; limit?: number } = {}) => {
        if ((options.after ?? 0) >= total && aliveAtEnd < 0) {
          // The pass has seen every event and asks for more: what does it still hold?
          await new Promise((resolve) => setImmediate(resolve)); // WeakRef targets are kept until the job ends
          gc();
          aliveAtEnd = refs.filter((ref) => ref.deref() !== undefined).length;
        }
        return generated.readAll(options);
      },
    };
    const result = await verifyLog(store);
    expect(result).toMatchObject({ events: total, streams: 40, accounts: 40, problems: [] });
    expect(refs).toHaveLength(total);
    // At most two pages of 1000 may still be referenced (the one in hand, and the one before it in the
    // reading loop's frames); reading the log into an array would keep all 20,000.
    expect(aliveAtEnd).toBeGreaterThanOrEqual(0);
    expect(aliveAtEnd).toBeLessThanOrEqual(2000);
    expect(generated.calls.readStream).toEqual([]); // a clean log is read once
  });
});

/** `perStream` events in each of `streams` account streams, round robin, chained. */
function interleaved(streams: number, perStream: number): StoredEvent[] {
  const store = lazyStore(streams * perStream, streams);
  const events: StoredEvent[] = [];
  for (let i = 1; i <= streams * perStream; i++) events.push(store.eventAt(i));
  return events;
}

/**
 * A store that makes its events as they are read (and forgets them): event i (position i) is the
 * next revision of account stream i mod `streams`. Only the streams' tails are remembered, so
 * reads must come in order, as a pass over the log reads them.
 */
function lazyStore(total: number, streams: number, onMade: (e: StoredEvent) => void = () => undefined) {
  const tails = new Map<string, { revision: number; hash: string }>();
  const calls = { readStream: [] as string[] };
  const eventAt = (position: number): StoredEvent => {
    const stream = `TwoFactorAccount-store-1|user-${position % streams}`;
    const [chained] = chainEvents(stream, tails.get(stream) ?? null, [
      {
        eventId: `00000000-0000-4000-8000-${String(position).padStart(12, '0')}`,
        type: 'ChallengeStarted',
        data: { challengeId: `c-${position}`, method: 'totp', expiresAt: '2025-01-01T13:00:00.000Z', padding: 'x'.repeat(200) },
        metadata: { at: '2025-01-01T12:00:00.000Z', actor: { kind: 'customer', apiKeyId: 'portal-1' }, schemaVersion: 1 },
      },
    ]);
    tails.set(stream, { revision: chained!.revision, hash: chained!.hash });
    const made: StoredEvent = { ...chained!, position, recordedAt: '2025-01-01T12:00:00.000Z' };
    onMade(made);
    return made;
  };
  return {
    calls,
    eventAt,
    readAll: async ({ after = 0, limit = 1000 }: { after?: number; limit?: number } = {}): Promise<StoredEvent[]> => {
      const page: StoredEvent[] = [];
      for (let position = after + 1; position <= Math.min(after + limit, total); position++) page.push(eventAt(position));
      return page;
    },
    readStream: async (stream: string): Promise<StoredEvent[]> => {
      calls.readStream.push(stream);
      throw new Error(`readStream(${stream}): a clean log must not be read again`);
    },
  } satisfies Pick<EventStore, 'readAll' | 'readStream'> & Record<string, unknown>;
}

/** The V8 collector, for counting which objects are still reachable (no timing or RSS involved). */
function exposeGc(): () => void {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as unknown;
  if (typeof gc !== 'function') throw new Error('could not reach the garbage collector (--expose-gc)');
  return gc as () => void;
}
