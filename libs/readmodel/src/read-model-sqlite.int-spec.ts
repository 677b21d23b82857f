import Database from 'better-sqlite3';
import { SqliteKeyValueStore, SqliteReadModelStore } from './sqlite-read-model-store';
import { readModelStoreContract } from './testing/read-model.contract';

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
