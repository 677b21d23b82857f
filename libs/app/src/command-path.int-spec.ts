import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import type { Decider } from '@twostep/domain';
import { SqliteEventStore, WrongExpectedRevisionError, type Actor } from '@twostep/eventstore';
import { SqliteKeyValueStore } from '@twostep/readmodel';
import type { Clock } from './clock';
import { CommandPath } from './command-path';

/** A tiny decider, so these tests are about the command path and nothing else. */
type CounterEvent = { type: 'Incremented'; data: { by: number } };
type CounterCommand = { by: number };
const counter: Decider<CounterCommand, { count: number; seen: number }, CounterEvent, { max: number }> = {
  initialState: () => ({ count: 0, seen: 0 }),
  evolve: (state, event) => ({ count: state.count + event.data.by, seen: state.seen + 1 }),
  decide: (command, state, context) => (command.by === 0 || state.count + command.by > context.max ? [] : [{ type: 'Incremented', data: { by: command.by } }]),
  upcast: (stored) => (stored.type === 'Incremented' ? { type: 'Incremented', data: stored.data as { by: number } } : null),
  stateVersion: 3,
};
const actor: Actor = { kind: 'system', id: 'test' };

describe('CommandPath (load → decide → append → retry) on SQLite', () => {
  let db: Database.Database;
  let store: SqliteEventStore;
  let kv: SqliteKeyValueStore;
  let path: CommandPath;
  const clock: Clock = { now: () => new Date('2026-11-23T09:00:00.000Z') };
  const stream = () => `Counter-${randomUUID()}`;
  const increment = (s: string, by = 1, command?: () => Promise<void>) =>
    path.run({
      stream: s,
      decider: counter,
      actor,
      context: () => ({ max: 1_000_000 }),
      command: async () => {
        await command?.();
        return { by };
      },
    });
  const appendForeign = (s: string, expected: number | 'no_stream') =>
    store.append(s, [{ eventId: randomUUID(), type: 'Incremented', data: { by: 100 }, metadata: { at: clock.now().toISOString(), actor, schemaVersion: 1 } }], expected);

  beforeEach(() => {
    db = new Database(':memory:');
    store = new SqliteEventStore(db);
    kv = new SqliteKeyValueStore(db);
    path = new CommandPath(store, kv, clock);
  });
  afterEach(async () => {
    await store.close();
    db.close();
  });

  it('appends what the decider decided, with the actor and time, and returns the state after it', async () => {
    const s = stream();
    const first = await increment(s, 2);
    expect(first).toMatchObject({ before: { count: 0 }, state: { count: 2 }, events: [{ type: 'Incremented', data: { by: 2 } }] });
    const stored = await store.readStream(s);
    expect(stored).toHaveLength(1);
    expect(stored[0]!.metadata).toMatchObject({ at: clock.now().toISOString(), actor, schemaVersion: 1 });
  });

  it('loads every event through the decider\'s upcast step, and refuses a type it does not know (nothing appended)', async () => {
    const s = stream();
    await increment(s, 2);
    await store.append(s, [{ eventId: randomUUID(), type: 'Doubled', data: {}, metadata: { at: clock.now().toISOString(), actor, schemaVersion: 2 } }], 0);
    const fresh = new CommandPath(store, kv, clock); // nothing cached: loads from the store
    await expect(fresh.run({ stream: s, decider: counter, actor, context: () => ({ max: 100 }), command: () => ({ by: 1 }) })).rejects.toThrow(
      /holds an event of type Doubled, which this version of twostep does not know \(revision 1\)/,
    );
    expect(await store.readStream(s)).toHaveLength(2);
  });

  it('appends nothing when the decision is empty', async () => {
    const s = stream();
    await increment(s, 1);
    const nothing = await increment(s, 0);
    expect(nothing.events).toEqual([]);
    expect(await store.readStream(s)).toHaveLength(1);
  });

  it('on a conflict it reloads and decides again on the newer state', async () => {
    const s = stream();
    await increment(s, 1);
    let calls = 0;
    // Another writer appends between this run's load and its append, once.
    const result = await increment(s, 1, async () => {
      if (calls++ === 0) await appendForeign(s, 0);
    });
    expect(calls).toBe(2);
    expect(result.before.count).toBe(101);
    expect(result.state.count).toBe(102);
    expect((await store.readStream(s)).map((e) => e.data.by)).toEqual([1, 100, 1]);
  });

  it('gives up with the conflict after a bounded number of attempts, having appended nothing of its own', async () => {
    const s = stream();
    await increment(s, 1);
    let calls = 0;
    const hopeless = increment(s, 1, async () => {
      calls++;
      const events = await store.readStream(s);
      await appendForeign(s, events[events.length - 1]!.revision);
    });
    await expect(hopeless).rejects.toBeInstanceOf(WrongExpectedRevisionError);
    expect(calls).toBe(5);
    expect((await store.readStream(s)).map((e) => e.data.by)).toEqual([1, 100, 100, 100, 100, 100]);
  });

  it('snapshots a long stream (with a TTL) and loads from it to the same state as a full fold', async () => {
    const s = stream();
    for (let i = 0; i < 30; i++) await appendForeign(s, i === 0 ? 'no_stream' : i - 1);
    const loaded = await path.load(s, counter);
    expect(loaded).toEqual({ state: { count: 3000, seen: 30 }, revision: 29 });

    const raw = await kv.get(`snapshot:${s}`);
    expect(JSON.parse(raw!)).toEqual({ v: 3, revision: 29, state: { count: 3000, seen: 30 } });
    const { expires_at: expiresAt } = db.prepare('SELECT expires_at FROM kv WHERE key = ?').get(`snapshot:${s}`) as { expires_at: number };
    expect(expiresAt - Date.now()).toBeGreaterThan(29 * 24 * 3600 * 1000);

    // A process that starts later loads from the snapshot plus newer events; the result matches a fold from scratch.
    await increment(s, 5);
    const fromSnapshot = await new CommandPath(store, kv, clock).load(s, counter);
    await kv.delete(`snapshot:${s}`);
    expect(await new CommandPath(store, kv, clock).load(s, counter)).toEqual(fromSnapshot);
    expect(fromSnapshot).toEqual({ state: { count: 3005, seen: 31 }, revision: 30 });
  });

  it('ignores a snapshot written by an older version of the fold', async () => {
    const s = stream();
    await increment(s, 3);
    await kv.set(`snapshot:${s}`, JSON.stringify({ v: 1, revision: 0, state: { count: 999, seen: 1 } }));
    expect(await new CommandPath(store, kv, clock).load(s, counter)).toEqual({ state: { count: 3, seen: 1 }, revision: 0 });
  });

  it('the decider owns its state version: a bump ignores the snapshots written under the old one', async () => {
    const s = stream();
    await increment(s, 3);
    await kv.set(`snapshot:${s}`, JSON.stringify({ v: counter.stateVersion, revision: 0, state: { count: 999, seen: 1 } }));
    expect(await new CommandPath(store, kv, clock).load(s, counter)).toEqual({ state: { count: 999, seen: 1 }, revision: 0 }); // trusted under its version
    const bumped = { ...counter, stateVersion: counter.stateVersion + 1 };
    expect(await new CommandPath(store, kv, clock).load(s, bumped)).toEqual({ state: { count: 3, seen: 1 }, revision: 0 }); // folded again
  });

  it('holds folded states in memory, yet sees what another process appended since', async () => {
    const s = stream();
    await increment(s, 1);
    await appendForeign(s, 0); // another process (the cli, a second api) moves the stream on
    expect(await path.load(s, counter)).toEqual({ state: { count: 101, seen: 2 }, revision: 1 });
    const result = await increment(s, 1);
    expect(result.before.count).toBe(101);
    expect((await store.readStream(s)).map((e) => e.data.by)).toEqual([1, 100, 1]);
  });

  it('still writes a snapshot every 25 events while it serves the stream from memory, so a cold start stays bounded', async () => {
    const s = stream();
    for (let i = 0; i < 30; i++) await increment(s, 1);
    const snapshot = JSON.parse((await kv.get(`snapshot:${s}`))!) as { revision: number; state: { count: number } };
    expect(snapshot.revision).toBeGreaterThanOrEqual(24); // 25 events folded since none
    expect(snapshot.state.count).toBe(snapshot.revision + 1);
    expect(await new CommandPath(store, kv, clock).load(s, counter)).toEqual({ state: { count: 30, seen: 30 }, revision: 29 });
  });
});
