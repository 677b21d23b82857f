import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { verifyChain } from './chain';
import { WrongExpectedRevisionError, type StoredEvent } from './event-store';
import { SqliteEventStore } from './sqlite-event-store';
import { eventStoreContract, newEvent, newStream, waitFor } from './testing/event-store.contract';

const dirs: string[] = [];
function tempFile(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twostep-es-'));
  dirs.push(dir);
  return path.join(dir, 'nested', 'events.db'); // open() must create the directory
}
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

const quiet = { onHandlerError: () => undefined, retryDelayMs: 20 };

eventStoreContract('SqliteEventStore', async () => {
  const store = SqliteEventStore.open(tempFile(), quiet);
  return { store, cleanup: () => store.close() };
});

describe('SqliteEventStore', () => {
  const open: SqliteEventStore[] = [];
  const track = (store: SqliteEventStore) => (open.push(store), store);
  afterEach(async () => {
    await Promise.all(open.splice(0).map((s) => s.close()));
  });

  it('starts empty', async () => {
    const store = track(SqliteEventStore.open(tempFile()));
    expect(await store.headPosition()).toBe(0);
    expect(await store.readAll()).toEqual([]);
  });

  it('opens the file in WAL mode and keeps its tables prefixed es_ next to tables of others', async () => {
    const db = new Database(tempFile().replace('nested/', ''));
    db.exec('CREATE TABLE rm_other (id INTEGER PRIMARY KEY)');
    const store = new SqliteEventStore(db);
    await store.append(newStream(), [newEvent('A')], 'no_stream');
    await store.close();
    expect(db.open).toBe(true); // a borrowed connection stays open
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map((r) => r.name);
    expect(tables.filter((t) => t !== 'sqlite_sequence' && t !== 'rm_other').every((t) => t.startsWith('es_'))).toBe(true);
    db.close();

    const owned = track(SqliteEventStore.open(tempFile()));
    const file = (owned as unknown as { db: Database.Database }).db;
    expect(file.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(file.pragma('busy_timeout', { simple: true })).toBe(5000);
  });

  it('reads a stream through the (stream, revision) index', () => {
    const db = new Database(':memory:');
    new SqliteEventStore(db);
    const plan = db
      .prepare('EXPLAIN QUERY PLAN SELECT * FROM es_events WHERE stream = ? AND revision >= ? ORDER BY revision')
      .all('s', 0) as { detail: string }[];
    expect(plan.map((p) => p.detail).join('\n')).toMatch(/USING INDEX sqlite_autoindex_es_events_\d \(stream=\? AND revision>\?\)/);
    db.close();
  });

  it('rejects a duplicate eventId, also across streams, without appending anything', async () => {
    const store = track(SqliteEventStore.open(tempFile()));
    const event = newEvent('A');
    await store.append(newStream(), [event], 'no_stream');
    const other = newStream();
    // Read the rejection by hand: jest's rejects.toThrow reports "did not throw" when the rejected value
    // fails its cross-realm Error check, which once made this test flaky under load.
    const failure: unknown = await store.append(other, [newEvent('B'), event], 'no_stream').then(() => 'appended', (e: unknown) => e);
    expect(String((failure as Error | undefined)?.message ?? failure)).toMatch(/UNIQUE constraint failed: es_events.event_id/);
    expect(await store.readStream(other)).toEqual([]);
    expect(await store.headPosition()).toBe(1);
  });

  it('keeps the data across a reopen', async () => {
    const file = tempFile();
    const first = SqliteEventStore.open(file);
    const stream = newStream();
    await first.append(stream, [newEvent('A', { x: 'ü' }), newEvent('B')], 'no_stream');
    const before = await first.readAll();
    await first.close();

    const second = track(SqliteEventStore.open(file));
    expect(await second.readAll()).toEqual(before);
    expect((await second.append(stream, [newEvent('C')], 1)).position).toBe(3);
    expect(verifyChain(await second.readAll())).toEqual([]);
  });

  it('sees events of another connection to the same file (another process) via readAll and subscribeAll', async () => {
    const file = tempFile();
    const a = track(SqliteEventStore.open(file, { pollIntervalMs: 20 }));
    const b = track(SqliteEventStore.open(file, { pollIntervalMs: 20 }));
    const stream = newStream();
    const seenByB: StoredEvent[] = [];
    const seenByA: StoredEvent[] = [];
    const subB = b.subscribeAll({}, async (e) => void seenByB.push(e));
    const subA = a.subscribeAll({}, async (e) => void seenByA.push(e));

    await a.append(stream, [newEvent('fromA')], 'no_stream');
    expect((await b.readAll()).map((e) => e.type)).toEqual(['fromA']);
    await expect(b.append(stream, [newEvent('stale')], 'no_stream')).rejects.toMatchObject({ code: 'wrong_expected_revision', actual: 0 });
    await b.append(stream, [newEvent('fromB')], 0);

    await waitFor(() => seenByA.length === 2 && seenByB.length === 2, 5000, 'both subscriptions');
    expect(seenByA.map((e) => e.type)).toEqual(['fromA', 'fromB']);
    expect(seenByB).toEqual(seenByA);
    expect(seenByA[1]!.prevHash).toBe(seenByA[0]!.hash); // the chain continues across connections
    await Promise.all([subA.stop(), subB.stop()]);
  });

  it('hands its own appends to its subscriptions from memory, in order with another connection\'s and equal to a read of the file; a refused append never', async () => {
    const file = tempFile();
    const a = track(SqliteEventStore.open(file, { pollIntervalMs: 20 }));
    const b = track(SqliteEventStore.open(file, { pollIntervalMs: 20 }));
    const mine = newStream('a');
    const theirs = newStream('b');
    const seen: StoredEvent[] = [];
    const pages = a.subscribeAllPages({}, async (page) => void seen.push(...page.events));
    const filtered: string[] = [];
    const mail = a.subscribeAllPages({ types: ['A2', 'B1'] }, async (page) => void filtered.push(...page.events.map((e) => e.type)));

    await a.append(mine, [newEvent('A1', { n: 1 })], 'no_stream');
    await b.append(theirs, [newEvent('B1')], 'no_stream'); // a gap in what `a` holds in memory
    await a.append(mine, [newEvent('A2', { nested: { list: [1, 2] } }), newEvent('A3')], 0);
    await expect(a.append(mine, [newEvent('refused')], 0)).rejects.toBeInstanceOf(WrongExpectedRevisionError);
    await a.append(mine, [newEvent('A4')], 2);

    await waitFor(() => seen.length === 5 && filtered.length === 2, 5000, 'every event');
    expect(seen).toEqual(await a.readAll());
    expect(seen.map((e) => e.type)).toEqual(['A1', 'B1', 'A2', 'A3', 'A4']);
    expect(filtered).toEqual(['B1', 'A2']);
    await Promise.all([pages.stop(), mail.stop()]);
  });

  it('commits the appends of one turn together, each checked on its own: a refused one is rolled back alone, whole', async () => {
    const store = track(SqliteEventStore.open(tempFile()));
    const [x, y, z] = [newStream('x'), newStream('y'), newStream('z')];
    const taken = newEvent('taken');
    await store.append(newStream('w'), [taken], 'no_stream');
    const results = await Promise.allSettled([
      store.append(x, [newEvent('X1')], 'no_stream'),
      store.append(x, [newEvent('X-stale')], 'no_stream'), // sees X1, written earlier in the same transaction
      store.append(z, [newEvent('Z1'), { ...newEvent('dup'), eventId: taken.eventId }], 'no_stream'), // fails on its second event
      store.append(y, [newEvent('Y1'), newEvent('Y2')], 'no_stream'),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(WrongExpectedRevisionError);
    expect(await store.readStream(z)).toEqual([]); // Z1 went with the refused append
    expect((await store.readAll()).map((e) => e.type)).toEqual(['taken', 'X1', 'Y1', 'Y2']);
    expect((results[3] as PromiseFulfilledResult<{ nextRevision: number; position: number }>).value).toEqual({ nextRevision: 1, position: 4 });
    expect(verifyChain(await store.readAll())).toEqual([]);
  });

  it('chains onto the tail it committed itself, and onto another connection\'s append once there is one; a refused single event leaves its group whole', async () => {
    const file = tempFile();
    const a = track(SqliteEventStore.open(file));
    const b = track(SqliteEventStore.open(file));
    const s = newStream();
    await a.append(s, [newEvent('A1')], 'no_stream');
    await a.append(s, [newEvent('A2')], 0); // on the tail a remembers
    await b.append(s, [newEvent('B1')], 1);
    await expect(a.append(s, [newEvent('A-stale')], 1)).rejects.toBeInstanceOf(WrongExpectedRevisionError);
    await a.append(s, [newEvent('A3')], 2); // chained onto B1, which a never wrote
    const taken = newEvent('taken');
    await a.append(newStream(), [taken], 'no_stream');
    const results = await Promise.allSettled([a.append(s, [newEvent('A4')], 3), a.append(newStream(), [{ ...newEvent('dup'), eventId: taken.eventId }], 'no_stream'), a.append(s, [newEvent('A5')], 4)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((await b.readStream(s)).map((e) => e.type)).toEqual(['A1', 'A2', 'B1', 'A3', 'A4', 'A5']);
    expect(verifyChain(await b.readAll())).toEqual([]);
  });

  it('answers a read past a stream\'s end without a query, yet sees another connection\'s (process\'s) append at once', async () => {
    const file = tempFile();
    const a = track(SqliteEventStore.open(file));
    const b = track(SqliteEventStore.open(file));
    const s = newStream();
    await a.append(s, [newEvent('A1')], 'no_stream');
    expect(await a.readStream(s, { fromRevision: 1 })).toEqual([]);
    await b.append(s, [newEvent('B1')], 0);
    expect((await a.readStream(s, { fromRevision: 1 })).map((e) => e.type)).toEqual(['B1']);

    // Two stores on one connection: data_version does not move for them, so they share what they know.
    const db = new Database(file);
    const c = new SqliteEventStore(db);
    const d = new SqliteEventStore(db);
    expect(await c.readStream(s, { fromRevision: 2 })).toEqual([]);
    await d.append(s, [newEvent('D1')], 1);
    expect((await c.readStream(s, { fromRevision: 2 })).map((e) => e.type)).toEqual(['D1']);
    await Promise.all([c.close(), d.close()]);
    db.close();
  });

  it('keeps one gapless, valid chain when several processes append to one stream at once', async () => {
    const file = tempFile();
    track(SqliteEventStore.open(file)); // creates the file and table before the race
    const stream = newStream();
    const processes = 4;
    const perProcess = 20;
    await Promise.all(Array.from({ length: processes }, (_, i) => runAppender(file, stream, `p${i}`, perProcess)));

    const store = track(SqliteEventStore.open(file));
    const events = await store.readStream(stream);
    expect(events.map((e) => e.revision)).toEqual(Array.from({ length: processes * perProcess * 2 }, (_, i) => i));
    expect(verifyChain(await store.readAll())).toEqual([]);
  }, 60_000);

  it('wakes its own subscriptions on append instead of waiting for the poll', async () => {
    const store = track(SqliteEventStore.open(tempFile(), { pollIntervalMs: 60_000 }));
    const seen: string[] = [];
    const sub = store.subscribeAll({}, async (e) => void seen.push(e.type));
    await new Promise((resolve) => setTimeout(resolve, 50)); // now idle, sleeping for a minute
    const started = Date.now();
    await store.append(newStream(), [newEvent('A')], 'no_stream');
    await waitFor(() => seen.length === 1, 1000, 'immediate delivery');
    expect(Date.now() - started).toBeLessThan(1000);
    await sub.stop();
  });

  it("watching other writers, wakes on another connection's (process's) commit instead of waiting for the poll", async () => {
    const file = tempFile();
    const writer = track(SqliteEventStore.open(file));
    await writer.append(newStream(), [newEvent('first')], 'no_stream'); // the WAL file exists from here on
    const follower = track(SqliteEventStore.open(file, { pollIntervalMs: 60_000, watchOtherWriters: true }));
    const plain = track(SqliteEventStore.open(file, { pollIntervalMs: 60_000 }));
    const seen: string[] = [];
    const unwatched: string[] = [];
    const sub = follower.subscribeAll({}, async (e) => void seen.push(e.type));
    const other = plain.subscribeAll({}, async (e) => void unwatched.push(e.type));
    await waitFor(() => seen.length === 1 && unwatched.length === 1, 5000, 'the first event');
    await new Promise((resolve) => setTimeout(resolve, 50)); // both idle now, sleeping for a minute
    for (const type of ['second', 'third']) await writer.append(newStream(), [newEvent(type)], 'no_stream');
    await waitFor(() => seen.length === 3, 5000, 'delivery on the WAL change');
    expect(seen).toEqual(['first', 'second', 'third']);
    expect(unwatched).toEqual(['first']); // without the watch, only the (minute-long) poll would see them
    await Promise.all([sub.stop(), other.stop()]);
  });

  it('close() stops its subscriptions and refuses further use', async () => {
    const store = SqliteEventStore.open(tempFile(), { pollIntervalMs: 60_000 });
    store.subscribeAll({}, async () => undefined);
    await store.close(); // would hang if the idle subscription were not woken
    await expect(store.readAll()).rejects.toThrow(/closed/);
  });

  it('lets verifyChain detect a row edited behind its back', async () => {
    const file = tempFile();
    const store = track(SqliteEventStore.open(file));
    const stream = newStream();
    await store.append(stream, [newEvent('A', { amount: 1 }), newEvent('B')], 'no_stream');
    const db = new Database(file);
    db.prepare('UPDATE es_events SET data = ? WHERE revision = 0').run(JSON.stringify({ amount: 1000 }));
    db.close();
    expect(verifyChain(await store.readAll())).toEqual([expect.objectContaining({ kind: 'changed', stream, revision: 0, position: 1 })]);
  });
});

/**
 * A real second process: node with a tiny swc require hook, so the child runs this very
 * TypeScript source. Each child alternates 'any' appends and optimistic (numeric) appends that
 * re-read and retry on conflict, so both the write lock and the revision check are contended.
 */
function runAppender(file: string, stream: string, label: string, count: number): Promise<void> {
  const script = `
    const fs = require('node:fs');
    const { transformSync } = require('@swc/core');
    require.extensions['.ts'] = (module, filename) => {
      const { code } = transformSync(fs.readFileSync(filename, 'utf8'), {
        filename, jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' },
      });
      module._compile(code, filename);
    };
    const { randomUUID } = require('node:crypto');
    const { SqliteEventStore } = require(${JSON.stringify(path.join(__dirname, 'sqlite-event-store.ts'))});
    const [file, stream, label, count] = process.argv.slice(1);
    const event = (type) => ({ eventId: randomUUID(), type, data: { label }, metadata: { at: new Date().toISOString(), actor: { kind: 'system' }, schemaVersion: 1 } });
    (async () => {
      const store = SqliteEventStore.open(file);
      for (let i = 0; i < Number(count); i++) {
        await store.append(stream, [event('Any')], 'any');
        for (;;) {
          const tail = (await store.readStream(stream)).at(-1);
          try { await store.append(stream, [event('Optimistic')], tail ? tail.revision : 'no_stream'); break; }
          catch (e) { if (e.code !== 'wrong_expected_revision') throw e; }
        }
      }
      await store.close();
    })().catch((e) => { console.error(e); process.exit(1); });
  `;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['-e', script, file, stream, label, String(count)], { cwd: path.resolve(__dirname, '../../..') }, (error, _stdout, stderr) =>
      error ? reject(new Error(`appender ${label} failed: ${stderr || error.message}`)) : resolve(),
    );
  });
}
