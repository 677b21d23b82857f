import * as fs from 'node:fs';
import { accountStream } from '@twostep/domain';
import { computeEventHash } from '@twostep/eventstore';
import { verify } from '../../apps/cli/src/commands/verify';
import { Captured, cli, copyDataDir, seedLog, tempDir, withDb } from './support';

/** `twostep verify` against tampering done directly on the SQLite file, as an insider with sqlite3 would. */
describe('twostep verify', () => {
  const alice = accountStream('store-1', 'alice');
  let clean: string;
  const dirs: string[] = [];

  beforeAll(async () => {
    clean = tempDir();
    dirs.push(clean);
    await seedLog(clean);
  });
  afterAll(() => {
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  /** A tampered copy of the clean log. */
  const tampered = (tamper: (db: import('better-sqlite3').Database) => void): string => {
    const dir = copyDataDir(clean);
    dirs.push(dir);
    withDb(dir, tamper);
    return dir;
  };
  const positionOf = (dir: string, stream: string, revision: number): number =>
    withDb(dir, (db) => (db.prepare('SELECT position FROM es_events WHERE stream = ? AND revision = ?').get(stream, revision) as { position: number }).position);
  /** The problem rows of verify's table: [position, stream, revision, kind, detail]. */
  const problems = (out: string) =>
    out
      .split('\n')
      .filter((line) => /^\d+\s/.test(line))
      .map((line) => line.split(/\s{2,}/));

  it('passes an untouched log, with counts', async () => {
    const run = await cli(['verify', '--data-dir', clean]);
    expect(run.code).toBe(0);
    expect(run.out).toMatch(/^OK: 9 events in 3 streams \(2 accounts, 1 other\) in SQLite .*twostep\.db; every hash chain is intact \(head position 9\)\n$/);
    // Not a terminal: one summary line on stderr, no bar.
    expect(run.err).toMatch(/^read 9 events in \d+\.\d\d s \(\d+ events\/s\)\n$/);
  });

  it('draws a progress bar with \\r on a terminal', async () => {
    const out = new Captured();
    const err = new Captured(true);
    expect(await verify({ dataDir: clean, env: {} }, out, err)).toBe(0);
    // Frames are redrawn in place; the last one ends the line with the summary.
    expect(err.text).toMatch(/^\r\[[#-]{30}\] +\d+%  9 events  \d+ events\/s/);
    expect(err.text).toMatch(/\r\[#{30}\] 100%  read 9 events in \d+\.\d\d s \(\d+ events\/s\)\n$/);
    expect(err.text.split('\n')).toHaveLength(2);
  });

  it('changed: an event whose data was edited', async () => {
    const dir = tampered((db) =>
      db.prepare(`UPDATE es_events SET data = json_set(data, '$.operatorId', 'nobody') WHERE stream = ? AND revision = 4`).run(alice),
    );
    const run = await cli(['verify', '--data-dir', dir]);
    expect(run.code).toBe(1);
    expect(run.out).toMatch(/^FAILED: 1 problem in 9 events/);
    expect(problems(run.out)).toEqual([[String(positionOf(dir, alice, 4)), alice, '4', 'changed', expect.stringContaining('does not match content')]]);
  });

  it('removed: an event deleted from the middle of a stream', async () => {
    const deleted = positionOf(clean, alice, 2);
    const dir = tampered((db) => db.prepare('DELETE FROM es_events WHERE position = ?').run(deleted));
    const run = await cli(['verify', '--data-dir', dir]);
    expect(run.code).toBe(1);
    expect(problems(run.out)).toEqual([[String(positionOf(dir, alice, 3)), alice, '3', 'removed', 'revisions 2..2 are missing']]);
  });

  it('reordered: two events of a stream swapped in global order', async () => {
    const [p2, p3] = [positionOf(clean, alice, 2), positionOf(clean, alice, 3)];
    const dir = tampered((db) =>
      db.transaction(() => {
        db.prepare('UPDATE es_events SET position = -1 WHERE position = ?').run(p2);
        db.prepare('UPDATE es_events SET position = ? WHERE position = ?').run(p2, p3);
        db.prepare('UPDATE es_events SET position = ? WHERE position = -1').run(p3);
      })(),
    );
    const run = await cli(['verify', '--data-dir', dir]);
    expect(run.code).toBe(1);
    // Revision 2 now comes after revision 3.
    expect(problems(run.out)).toEqual([[String(p3), alice, '2', 'reordered', 'revision 2 comes after revision 3 in global order']]);
  });

  it('reordered: two events swapped by exchanging their revisions', async () => {
    const [p2, p3] = [positionOf(clean, alice, 2), positionOf(clean, alice, 3)];
    const dir = tampered((db) =>
      db.transaction(() => {
        db.prepare('UPDATE es_events SET revision = -1 WHERE position = ?').run(p2);
        db.prepare('UPDATE es_events SET revision = 2 WHERE position = ?').run(p3);
        db.prepare('UPDATE es_events SET revision = 3 WHERE position = ?').run(p2);
      })(),
    );
    const run = await cli(['verify', '--data-dir', dir]);
    expect(run.code).toBe(1);
    const rows = problems(run.out);
    expect(rows).toContainEqual([String(p2), alice, '3', 'reordered', expect.any(String)]);
    expect(rows).toContainEqual([String(p3), alice, '2', 'reordered', expect.any(String)]);
    // The revision is hashed, so the renumbered rows no longer match their hashes either.
    expect(rows.filter((row) => row[3] === 'changed').map((row) => row[0])).toEqual([String(p2), String(p3)].sort((a, b) => Number(a) - Number(b)));
  });

  it('inserted: a forged event spliced into a stream, chained onto its predecessor', async () => {
    const p1 = positionOf(clean, alice, 1);
    const forgedPosition = p1 + 1;
    const dir = tampered((db) =>
      db.transaction(() => {
        const previous = db.prepare('SELECT hash FROM es_events WHERE stream = ? AND revision = 1').get(alice) as { hash: string };
        // Make room: shift later positions and alice's later revisions up by one (via negatives: the columns are unique).
        db.prepare('UPDATE es_events SET position = -position WHERE position > ?').run(p1);
        db.prepare('UPDATE es_events SET position = -position + 1 WHERE position < 0').run();
        db.prepare('UPDATE es_events SET revision = -revision WHERE stream = ? AND revision > 1').run(alice);
        db.prepare('UPDATE es_events SET revision = -revision + 1 WHERE stream = ? AND revision < 0').run(alice);
        const forged = {
          stream: alice,
          revision: 2,
          eventId: '00000000-0000-4000-8000-000000000000',
          type: 'RecoveryCodesRegenerated',
          data: { recoveryCodeHashes: Array.from({ length: 10 }, (_, i) => `forged-${i}`) },
          metadata: { at: '2026-11-23T09:02:30.000Z', actor: { kind: 'customer' as const }, schemaVersion: 1 },
        };
        db.prepare(
          'INSERT INTO es_events (position, event_id, stream, revision, type, data, metadata, recorded_at, hash, prev_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
        ).run(
          forgedPosition,
          forged.eventId,
          alice,
          forged.revision,
          forged.type,
          JSON.stringify(forged.data),
          JSON.stringify(forged.metadata),
          forged.metadata.at,
          computeEventHash(previous.hash, forged),
          previous.hash,
        );
      })(),
    );
    const run = await cli(['verify', '--data-dir', dir]);
    expect(run.code).toBe(1);
    const rows = problems(run.out);
    // The event that used to follow revision 1 now sits behind the forged one, which claims the same predecessor.
    expect(rows).toContainEqual([
      String(positionOf(dir, alice, 3)),
      alice,
      '3',
      'inserted',
      `revision 2 (position ${forgedPosition}) was inserted ahead of this event`,
    ]);
    // The renumbered rest no longer matches its hashes.
    expect(rows.filter((row) => row[3] === 'changed').map((row) => row[2])).toEqual(['3', '4', '5']);
  });

  it('fails in one line, credentials masked, when EventStoreDB (ESDB_URL) cannot be reached', async () => {
    const run = await cli(['verify'], { ESDB_URL: 'esdb://admin:changeit@127.0.0.1:1?tls=false' });
    expect(run.code).toBe(1);
    expect(run.err).toMatch(/^twostep verify: EventStoreDB at esdb:\/\/\*\*\*@127\.0\.0\.1:1\?tls=false cannot be read: .*\n$/);
    expect(run.err).not.toContain('changeit');
  });

  it('fails clearly when there is no event store', async () => {
    const empty = tempDir();
    dirs.push(empty);
    const run = await cli(['verify', '--data-dir', empty]);
    expect(run.code).toBe(1);
    expect(run.err).toMatch(/^twostep verify: no event store at .*twostep\.db/);
  });
});
