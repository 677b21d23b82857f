import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { accountStream } from '@twostep/domain';
import { SqliteProjectionStore } from './sqlite-projection-store';
import { SqliteKeyValueStore, SqliteReadModelStore } from './sqlite-read-model-store';
import { projectionStoreContract } from './testing/projection-store.contract';
import { readModelStoreContract, storedEvent } from './testing/read-model.contract';

readModelStoreContract('SqliteReadModelStore (in-memory)', async () => {
  const db = new Database(':memory:');
  const readModels = new SqliteReadModelStore(db);
  const kv = new SqliteKeyValueStore(db);
  return {
    readModels,
    kv,
    async cleanup() {
      await readModels.close();
      await kv.close();
      db.close();
    },
  };
});

projectionStoreContract('SqliteProjectionStore (in-memory)', async () => {
  const db = new Database(':memory:');
  return {
    open: (projections) => new SqliteProjectionStore(db, projections),
    async cleanup() {
      db.close();
    },
  };
});

describe('SqliteReadModelStore', () => {
  it("builds on the views another connection (a rebuild, another process) wrote, not on the ones it remembers", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twostep-rm-'));
    const file = path.join(dir, 'rm.db');
    const mine = new Database(file);
    mine.pragma('journal_mode = WAL');
    const other = new Database(file);
    try {
      const store = new SqliteReadModelStore(mine);
      const stream = accountStream('t', 'u');
      await store.applyPage([storedEvent(stream, 0, 1, 'TotpSetupStarted', { secret: {} })]);
      expect((await store.status('t', 'u'))?.setupPending).toBe(true);
      other.prepare("UPDATE rm_documents SET document = json_set(document, '$.failedAttempts', 7) WHERE projection = 'status-v2'").run();
      await store.applyPage([storedEvent(stream, 1, 2, 'ChallengeStarted', {})]);
      expect(await store.status('t', 'u')).toMatchObject({ failedAttempts: 7, revision: 1 });
      // Its own writes: the next page builds on the view it remembers, which is the file's.
      await store.applyPage([storedEvent(stream, 2, 3, 'ChallengeStarted', {})]);
      expect(await store.status('t', 'u')).toMatchObject({ failedAttempts: 7, revision: 2 });
    } finally {
      mine.close();
      other.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('drops the read models of before projections as data (status-v1), so the new ones build themselves from the log', async () => {
    const db = new Database(':memory:');
    try {
      db.exec(`
        CREATE TABLE rm_status (tenant_id TEXT NOT NULL, user_id TEXT NOT NULL, view TEXT NOT NULL, PRIMARY KEY (tenant_id, user_id));
        CREATE TABLE rm_event_log (tenant_id TEXT NOT NULL, user_id TEXT NOT NULL, revision INTEGER NOT NULL, position INTEGER NOT NULL, entry TEXT NOT NULL, PRIMARY KEY (tenant_id, user_id, revision));
        CREATE TABLE rm_checkpoints (projection TEXT PRIMARY KEY, position INTEGER NOT NULL);
        INSERT INTO rm_checkpoints VALUES ('status-v1', 42);
      `);
      const store = new SqliteReadModelStore(db);
      expect(await store.checkpoint()).toBe(0); // the projector starts from the first event
      const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'rm_%' ORDER BY name").pluck().all() as string[]);
      expect(tables).toEqual(['rm_checkpoints', 'rm_documents', 'rm_entries']);
      await store.applyPage([storedEvent(accountStream('t', 'u'), 0, 1, 'TotpSetupStarted', { secret: {} })]);
      expect(await store.status('t', 'u')).toMatchObject({ setupPending: true, revision: 0 });
    } finally {
      db.close();
    }
  });
});
