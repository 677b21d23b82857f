import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { SqliteEventStore, type NewEvent, type StoredEvent } from '@twostep/eventstore';
import { SqliteKeyValueStore } from '@twostep/readmodel';
import { CheckpointedConsumer } from './projector';

const event = (type: string): NewEvent => ({
  eventId: randomUUID(),
  type,
  data: { type },
  metadata: { at: '2026-12-02T10:00:00.000Z', actor: { kind: 'system' }, schemaVersion: 1 },
});

async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('CheckpointedConsumer (the embedded mailer, the Kafka relay) on SQLite', () => {
  let db: Database.Database;
  let store: SqliteEventStore;
  let kv: SqliteKeyValueStore;
  let checkpointWrites: number;

  beforeEach(() => {
    db = new Database(':memory:');
    store = new SqliteEventStore(db);
    kv = new SqliteKeyValueStore(db);
    checkpointWrites = 0;
    const set = kv.set.bind(kv);
    kv.set = async (key, value, ttl) => {
      if (key === 'checkpoint:test') checkpointWrites++;
      await set(key, value, ttl);
    };
  });

  afterEach(async () => {
    await store.close();
    db.close();
  });

  it('hands over only the wanted types, a page at a time, and writes its checkpoint once per page', async () => {
    const types = ['ChallengeStarted', 'CodeIssued', 'ChallengePassed', 'AttemptFailed', 'CodeIssued'];
    for (let i = 0; i < 40; i++) await store.append(`TwoFactorAccount-t|u${i}`, [event(types[i % types.length]!)], 'no_stream');
    const head = await store.headPosition();
    const handled: StoredEvent[][] = [];
    const consumer = new CheckpointedConsumer(store, kv, 'test', async (events) => void handled.push(events), { types: ['CodeIssued'], pageSize: 25 });
    await consumer.start();
    await until(async () => (await consumer.checkpoint()) === head, 'the checkpoint at the head');
    await consumer.stop();

    const seen = handled.flat();
    expect(seen.map((e) => e.type)).toEqual(Array(16).fill('CodeIssued'));
    expect(seen.map((e) => e.position)).toEqual([...seen.map((e) => e.position)].sort((a, b) => a - b));
    expect(handled).toHaveLength(2); // 40 events in pages of 25: two pages, each with its CodeIssued events
    expect(checkpointWrites).toBe(2);
  });

  it('resumes after its checkpoint, and a page whose handler failed comes again whole', async () => {
    for (let i = 0; i < 3; i++) await store.append(`TwoFactorAccount-t|a${i}`, [event('CodeIssued')], 'no_stream');
    const first = new CheckpointedConsumer(store, kv, 'test', async () => undefined);
    await first.start();
    await until(async () => (await first.checkpoint()) === 3, 'the first three');
    await first.stop();

    for (let i = 0; i < 2; i++) await store.append(`TwoFactorAccount-t|b${i}`, [event('CodeIssued')], 'no_stream');
    const calls: number[][] = [];
    let failures = 1;
    const second = new CheckpointedConsumer(store, kv, 'test', async (events) => {
      calls.push(events.map((e) => e.position));
      if (failures-- > 0) throw new Error('smtp down');
    });
    await second.start();
    await until(async () => (await second.checkpoint()) === 5, 'the last two');
    await second.stop();
    expect(calls).toEqual([
      [4, 5],
      [4, 5],
    ]);
  });

  it('after pages with nothing for it, writes its checkpoint at most once a second, and on stop', async () => {
    const consumer = new CheckpointedConsumer(store, kv, 'test', async () => undefined, { types: ['CodeIssued'] });
    await consumer.start();
    for (let i = 0; i < 20; i++) {
      await store.append(`TwoFactorAccount-t|p${i}`, [event('ChallengePassed')], 'no_stream');
      await new Promise((resolve) => setImmediate(resolve));
    }
    await until(async () => checkpointWrites >= 1, 'the first write');
    const writesWhileBusy = checkpointWrites;
    await consumer.stop();
    expect(await consumer.checkpoint()).toBe(20); // stop writes where it got to
    expect(writesWhileBusy).toBeLessThan(10); // 20 pages of nothing in well under a second: not one write each
  });
});
