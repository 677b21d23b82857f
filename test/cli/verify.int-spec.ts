import { createHash, randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import { accountStream } from '@twostep/domain';
import { computeEventHash, SqliteEventStore, verifyChain, type StoredEvent } from '@twostep/eventstore';
import { verify, type VerifyReport } from '../../apps/cli/src/commands/verify';
import { Captured, cli, copyDataDir, dbFile, seedLog, tempDir, withDb } from './support';

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
  /** Every event of a data directory's log, in global order, in one array. */
  const wholeLog = async (dir: string): Promise<StoredEvent[]> => {
    const store = SqliteEventStore.open(dbFile(dir));
    try {
      const events: StoredEvent[] = [];
      for (let page = await store.readAll(); page.length > 0; page = await store.readAll({ after: page[page.length - 1]!.position })) events.push(...page);
      return events;
    } finally {
      await store.close();
    }
  };
  const verifyJson = async (...args: string[]) => {
    const run = await cli(['verify', '--json', ...args]);
    return { ...run, report: JSON.parse(run.out) as VerifyReport };
  };
  /**
   * verify reads the log once, keeping no events, and re-reads only suspect streams: it must
   * still report exactly what verifyChain reports over the whole log held in memory, in the
   * table and in --json.
   */
  const expectWholeLogProblems = async (dir: string, table: string) => {
    const expected = verifyChain(await wholeLog(dir));
    expect(expected.length).toBeGreaterThan(0);
    expect(problems(table)).toEqual(expected.map((p) => [String(p.position), p.stream, String(p.revision), p.kind, p.detail]));
    const json = await verifyJson('--data-dir', dir);
    expect(json.code).toBe(1);
    expect(json.report).toMatchObject({ ok: false, anchor: null, anchors: [] });
    expect(json.report.problems).toEqual(expected);
  };

  it('passes an untouched log, with counts', async () => {
    const run = await cli(['verify', '--data-dir', clean]);
    expect(run.code).toBe(0);
    expect(run.out).toMatch(/^OK: 9 events in 3 streams \(2 accounts, 1 other\) in SQLite .*twostep\.db; every hash chain is intact \(head position 9\)\n/);
    expect(run.out).toMatch(/\nanchor 9:[0-9a-f]{64} {2}\(keep it outside twostep; verify --anchor checks it later\)\n$/);
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
    await expectWholeLogProblems(dir, run.out);
    expect(run.out).toMatch(/^FAILED: 1 problem in 9 events/);
    expect(problems(run.out)).toEqual([[String(positionOf(dir, alice, 4)), alice, '4', 'changed', expect.stringContaining('does not match content')]]);
  });

  it('removed: an event deleted from the middle of a stream', async () => {
    const deleted = positionOf(clean, alice, 2);
    const dir = tampered((db) => db.prepare('DELETE FROM es_events WHERE position = ?').run(deleted));
    const run = await cli(['verify', '--data-dir', dir]);
    expect(run.code).toBe(1);
    await expectWholeLogProblems(dir, run.out);
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
    await expectWholeLogProblems(dir, run.out);
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
    await expectWholeLogProblems(dir, run.out);
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
    await expectWholeLogProblems(dir, run.out);
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

  it('a revision made negative, which reading the stream by revision does not return: reported all the same', async () => {
    const p2 = positionOf(clean, alice, 2);
    const dir = tampered((db) => db.prepare('UPDATE es_events SET revision = -1 WHERE position = ?').run(p2));
    const run = await cli(['verify', '--data-dir', dir]);
    expect(run.code).toBe(1);
    await expectWholeLogProblems(dir, run.out);
    const rows = problems(run.out);
    expect(rows).toContainEqual([String(p2), alice, '-1', 'changed', expect.stringContaining('does not match content')]);
    expect(rows).toContainEqual([String(positionOf(dir, alice, 3)), alice, '3', 'removed', 'revisions 2..2 are missing']);
  });

  describe('--json', () => {
    it('one object on standard output for an untouched log, progress on standard error only', async () => {
      const run = await verifyJson('--data-dir', clean);
      expect(run.code).toBe(0);
      expect(run.out.endsWith('}\n')).toBe(true);
      expect(run.out.trim().split('\n')).toHaveLength(1);
      const anchor = /^anchor (\d+):([0-9a-f]{64}) {2}/m.exec((await cli(['verify', '--data-dir', clean])).out)!;
      expect(run.report).toEqual({
        ok: true,
        events: 9,
        streams: 3,
        accounts: 2,
        head: 9,
        store: `SQLite ${dbFile(clean)}`,
        anchor: { count: 9, digest: anchor[2] },
        anchors: [],
        problems: [],
      });
      expect(run.err).toMatch(/^read 9 events in \d+\.\d\d s \(\d+ events\/s\)\n$/);
    });

    it('lists every problem with position, stream, revision, kind and detail, and exits 1', async () => {
      const position = positionOf(clean, alice, 4);
      const dir = tampered((db) => db.prepare(`UPDATE es_events SET data = json_set(data, '$.reason', 'none') WHERE position = ?`).run(position));
      const run = await verifyJson('--data-dir', dir);
      expect(run.code).toBe(1);
      expect(run.report).toEqual({
        ok: false,
        events: 9,
        streams: 3,
        accounts: 2,
        head: 9,
        store: `SQLite ${dbFile(dir)}`,
        anchor: null, // no fresh anchor for a log that fails: nobody should keep one
        anchors: [],
        problems: [{ position, stream: alice, revision: 4, kind: 'changed', detail: expect.stringMatching(/^stored hash [0-9a-f]{64} does not match content \(recomputed [0-9a-f]{64}\)$/) }],
      });
    });

    it('says which anchors hold, and why one does not', async () => {
      const anchor = /^anchor (\S+) {2}/m.exec((await cli(['verify', '--data-dir', clean])).out)![1]!;
      const early = `3:${'0'.repeat(64)}`;
      const held = await verifyJson('--anchor', anchor, '--data-dir', clean);
      expect(held.code).toBe(0);
      expect(held.report.anchors).toEqual([{ anchor, holds: true }]);

      const cut = tampered((db) => db.prepare('DELETE FROM es_events WHERE position = 9').run());
      const run = await verifyJson('--anchor', anchor, '--anchor', early, '--data-dir', cut);
      expect(run.code).toBe(1);
      expect(run.report).toMatchObject({ ok: false, events: 8, anchor: null, problems: [] });
      expect(run.report.anchors).toEqual([
        { anchor, holds: false, detail: 'the log holds 8 events, the anchor covers 9: events were removed (cut off the end of the log)' },
        {
          anchor: early,
          holds: false,
          detail: 'the first 3 events (up to position 3) are not the anchored ones: an event was changed, removed, inserted or re-hashed since',
        },
      ]);
    });

    it('writes nothing to standard output when it cannot read the store', async () => {
      const empty = tempDir();
      dirs.push(empty);
      const run = await cli(['verify', '--json', '--data-dir', empty]);
      expect(run).toMatchObject({ code: 1, out: '', err: expect.stringMatching(/^twostep verify: no event store at /) });
    });
  });

  describe('anchors (the log digest kept outside twostep)', () => {
    let anchor = '';
    beforeAll(async () => {
      anchor = /^anchor (\S+) {2}/m.exec((await cli(['verify', '--data-dir', clean])).out)![1]!;
    });

    it('the digest is the documented rolling sha256 over the stored hashes, computable from an export', async () => {
      const lines = (await cli(['export', '--data-dir', clean])).out.trim().split('\n').map((line) => JSON.parse(line) as { hash: string });
      let digest = '0'.repeat(64);
      for (const line of lines) digest = createHash('sha256').update(`${digest}\n${line.hash}`).digest('hex');
      expect(anchor).toBe(`9:${digest}`);
    });

    it('an anchor holds on the untouched log, and still holds after the log grew', async () => {
      const same = await cli(['verify', '--anchor', anchor, '--data-dir', clean]);
      expect(same.code).toBe(0);
      expect(same.out).toContain(`anchor ${anchor} holds: the log still begins with exactly those 9 events\n`);
      const grown = tampered(() => undefined);
      const store = SqliteEventStore.open(dbFile(grown));
      const metadata = { at: '2026-11-23T10:00:00.000Z', actor: { kind: 'customer' as const }, schemaVersion: 1 };
      await store.append(accountStream('store-1', 'zoe'), [{ eventId: randomUUID(), type: 'PasswordResetRecorded', data: {}, metadata }], 'no_stream');
      await store.close();
      const later = await cli(['verify', '--anchor', anchor, '--data-dir', grown]);
      expect(later.code).toBe(0);
      expect(later.out).toMatch(/^OK: 10 events/);
      expect(later.out).toMatch(/\nanchor 10:[0-9a-f]{64} {2}/);
      expect(later.out).toContain(`anchor ${anchor} holds`);
    });

    it('catches events cut off the end of the log, which the chains alone cannot see', async () => {
      const dir = tampered((db) => db.prepare('DELETE FROM es_events WHERE position = (SELECT MAX(position) FROM es_events)').run());
      expect((await cli(['verify', '--data-dir', dir])).code).toBe(0); // a shorter log with valid chains
      const run = await cli(['verify', '--anchor', anchor, '--data-dir', dir]);
      expect(run.code).toBe(1);
      expect(run.out).toMatch(/^FAILED: 1 problem in 8 events/);
      expect(run.out).toContain(`anchor ${anchor} FAILED: the log holds 8 events, the anchor covers 9: events were removed (cut off the end of the log)\n`);
    });

    it('catches a rewrite re-hashed through the rest of its stream, which the chains alone cannot see', async () => {
      const dir = tampered((db) =>
        db.transaction(() => {
          type Row = { position: number; event_id: string; stream: string; revision: number; type: string; data: string; metadata: string; prev_hash: string | null };
          const rows = db.prepare('SELECT * FROM es_events WHERE stream = ? AND revision >= 4 ORDER BY revision').all(alice) as Row[];
          let prevHash = rows[0]!.prev_hash;
          for (const row of rows) {
            const data = JSON.parse(row.data) as Record<string, unknown>;
            if (row.revision === 4) data.operatorId = 'somebody-else';
            const hash = computeEventHash(prevHash, { stream: row.stream, revision: row.revision, eventId: row.event_id, type: row.type, data, metadata: JSON.parse(row.metadata) });
            db.prepare('UPDATE es_events SET data = ?, hash = ?, prev_hash = ? WHERE position = ?').run(JSON.stringify(data), hash, prevHash, row.position);
            prevHash = hash;
          }
        })(),
      );
      expect((await cli(['verify', '--data-dir', dir])).code).toBe(0); // consistent chains: the forgery passes alone
      const run = await cli(['verify', '--anchor', anchor, '--data-dir', dir]);
      expect(run.code).toBe(1);
      expect(run.out).toContain(`anchor ${anchor} FAILED: the first 9 events (up to position 9) are not the anchored ones: an event was changed, removed, inserted or re-hashed since\n`);
    });

    it('refuses a malformed anchor as a usage error', async () => {
      const run = await cli(['verify', '--anchor', '9:not-a-digest', '--data-dir', clean]);
      expect(run.code).toBe(2);
      expect(run.err).toContain("--anchor must be N:DIGEST as verify prints it (a count, a colon, 64 hex digits); got '9:not-a-digest'");
    });
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
