import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { DEFAULT_POLICY, policyStream } from '@twostep/domain';
import { SqliteEventStore } from '@twostep/eventstore';
import { foldPolicy, SqliteKeyValueStore } from '@twostep/readmodel';
import type { Clock } from './clock';
import { CommandPath } from './command-path';
import { PolicyReader } from './policy-reader';

/** The api's policy reader and the read side's foldPolicy give one answer for a log an older twostep wrote. */
describe('PolicyReader over a PolicyUpdated written before a setting existed (SQLite)', () => {
  const clock: Clock = { now: () => new Date('2026-11-23T09:00:00.000Z') };

  it('folds the missing setting to its default, as foldPolicy does', async () => {
    const db = new Database(':memory:');
    const store = new SqliteEventStore(db);
    const kv = new SqliteKeyValueStore(db);
    try {
      const tenantId = `t-${randomUUID().slice(0, 8)}`;
      const { resendCooldownSeconds: _missing, ...older } = { ...DEFAULT_POLICY, lockoutMinutes: 45 };
      await store.append(
        policyStream(tenantId),
        [{ eventId: randomUUID(), type: 'PolicyUpdated', data: { tenantId, policy: older, changed: ['lockoutMinutes'] }, metadata: { at: clock.now().toISOString(), actor: { kind: 'admin', id: 'root' }, schemaVersion: 1 } }],
        'no_stream',
      );
      const policy = await new PolicyReader(new CommandPath(store, kv, clock)).get(tenantId);
      expect(policy).toEqual({ ...DEFAULT_POLICY, lockoutMinutes: 45 });
      expect(foldPolicy(await store.readStream(policyStream(tenantId)))).toEqual(policy);
    } finally {
      await store.close();
      db.close();
    }
  });
});
