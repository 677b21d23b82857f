import { randomUUID } from 'node:crypto';
import { accountStream, policyStream } from '@twostep/domain';
import type { Actor, StoredEvent } from '@twostep/eventstore';
import type { KeyValueStore, ReadModelStore } from '../ports';
import { toLogEntry } from '../event-log.projection';
import { ProjectionGapError } from '../projection';
import { projectStatus } from '../status.projection';
import type { StatusView } from '../views';

export interface ReadModelContractSubject {
  readModels: ReadModelStore;
  kv: KeyValueStore;
  cleanup(): Promise<void>;
}

/** A hand-made stored event: what the event store would hand to a projection. */
export function storedEvent(
  stream: string,
  revision: number,
  position: number,
  type: string,
  data: Record<string, unknown> = {},
  actor: Actor = { kind: 'customer' },
): StoredEvent {
  return {
    eventId: randomUUID(),
    type,
    data,
    metadata: { at: new Date(Date.UTC(2025, 0, 1, 12, 0, position)).toISOString(), actor, schemaVersion: 1 },
    stream,
    revision,
    position,
    recordedAt: new Date(Date.UTC(2025, 0, 1, 12, 0, position)).toISOString(),
    hash: `hash-${position}`,
    prevHash: revision === 0 ? null : `hash-${position - 1}`,
  };
}

const hashes = (n: number): string[] => Array.from({ length: n }, (_, i) => `h${i}`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The views a correct store must hold: the pure reducer folded over the events in order. */
function fold(events: StoredEvent[]): StatusView | null {
  return events.reduce<StatusView | null>((view, event) => projectStatus(view, event), null);
}

/** The behaviour every ReadModelStore + KeyValueStore adapter pair must have. */
export function readModelStoreContract(name: string, factory: () => Promise<ReadModelContractSubject>): void {
  describe(`ReadModelStore contract: ${name}`, () => {
    let subject: ReadModelContractSubject;
    let store: ReadModelStore;
    let kv: KeyValueStore;
    // Ids unique per test, so the contract also runs against a shared server.
    let tenant: string;

    beforeEach(async () => {
      subject = await factory();
      store = subject.readModels;
      kv = subject.kv;
      tenant = `t-${randomUUID().slice(0, 8)}`;
    });

    afterEach(async () => {
      await subject.cleanup();
    });

    /** Actors as the api records them: portal keys act for the customer, operators name themselves. */
    const CUSTOMER: Actor = { kind: 'customer', apiKeyId: 'key-portal' };
    const OPERATOR: Actor = { kind: 'operator', id: 'op-1', apiKeyId: 'key-ops' };

    /** An account's life: setup, enable, a failed attempt, a lock, an unlock, a recovery login, a reseller disable. */
    function history(userId: string, firstPosition: number): StoredEvent[] {
      const stream = accountStream(tenant, userId);
      let revision = 0;
      let position = firstPosition;
      const e = (type: string, data: Record<string, unknown>, actor: Actor = CUSTOMER) => storedEvent(stream, revision++, position++, type, data, actor);
      return [
        e('TotpSetupStarted', { secret: { kid: 'k1', ct: 'x' } }),
        e('TwoFactorEnabled', { method: 'totp', recoveryCodeHashes: hashes(10), confirmedStep: 1 }),
        e('ChallengeStarted', { challengeId: 'c1', method: 'totp', expiresAt: '2025-01-01T13:00:00.000Z' }),
        e('AttemptFailed', { challengeId: 'c1', method: 'totp', reason: 'wrong_code', failedAttempts: 1, attemptsLeft: 2 }),
        e('AccountLocked', { lockedUntil: '2025-01-01T12:30:00.000Z', failedAttempts: 3 }),
        e('AccountUnlocked', { operatorId: 'op-1' }, OPERATOR),
        e('RecoveryCodeUsed', { challengeId: 'c2', recoveryCodeHash: 'h3', recoveryCodesRemaining: 9 }),
        e('ResellerDisabled', { operatorId: 'op-1', reason: 'customer called' }, OPERATOR),
      ];
    }

    async function applyAll(events: StoredEvent[]): Promise<void> {
      for (const event of events) await store.apply(event);
    }

    async function snapshot(userIds: string[]) {
      return {
        views: await Promise.all(userIds.map((u) => store.status(tenant, u))),
        logs: await Promise.all(userIds.map((u) => store.eventLog(tenant, u, { limit: 1000 }))),
        checkpoint: await store.checkpoint(),
      };
    }

    describe('apply', () => {
      it('applyPage gives the views, logs and checkpoint of its events applied one by one, and a second time changes nothing', async () => {
        const page = [...history('alice', 1), ...history('bob', 9)];
        await store.applyPage(page);
        const paged = await snapshot(['alice', 'bob']);
        expect(paged.checkpoint).toBe(16);
        expect(paged.views.map((view) => view?.revision)).toEqual([7, 7]);
        expect(paged.logs.map((log) => log.length)).toEqual([8, 8]);

        await store.applyPage(page);
        expect(await snapshot(['alice', 'bob'])).toEqual(paged);

        await store.reset();
        await applyAll(page);
        expect(await snapshot(['alice', 'bob'])).toEqual(paged);
      });

      it('builds the status view and the event log from the events, and moves the checkpoint', async () => {
        const events = history('alice', 1);
        expect(await store.status(tenant, 'alice')).toBeNull();
        expect(await store.checkpoint()).toBe(0);

        await applyAll(events.slice(0, 2));
        expect(await store.status(tenant, 'alice')).toEqual(
          expect.objectContaining({
            tenantId: tenant,
            userId: 'alice',
            status: 'Enabled',
            method: 'totp',
            setupPending: false,
            recoveryCodesRemaining: 10,
            resetRecommended: false,
            revision: 1,
            enabledAt: events[1]!.metadata.at,
          }),
        );
        expect(await store.checkpoint()).toBe(2);

        await applyAll(events.slice(2, 5));
        expect(await store.status(tenant, 'alice')).toEqual(expect.objectContaining({ lockedUntil: '2025-01-01T12:30:00.000Z', failedAttempts: 0, revision: 4 }));

        await applyAll(events.slice(5, 7));
        expect(await store.status(tenant, 'alice')).toEqual(
          expect.objectContaining({ status: 'Enabled', lockedUntil: null, recoveryCodesRemaining: 9, resetRecommended: true, revision: 6 }),
        );

        await applyAll(events.slice(7));
        const view = await store.status(tenant, 'alice');
        expect(view).toEqual(fold(events));
        expect(view).toEqual(expect.objectContaining({ status: 'Disabled', method: null, recoveryCodesRemaining: 0, resetRecommended: false, revision: 7 }));

        const log = await store.eventLog(tenant, 'alice');
        expect(log).toEqual(events.map(toLogEntry));
        expect(log[7]).toEqual(expect.objectContaining({ type: 'ResellerDisabled', actor: { kind: 'operator', id: 'op-1', apiKeyId: 'key-ops' }, what: expect.stringContaining('op-1') }));
        expect(await store.checkpoint()).toBe(8);
      });

      it('names the API key that acted in every event log entry that has one', async () => {
        const stream = accountStream(tenant, 'alice');
        const events = [
          storedEvent(stream, 0, 1, 'TotpSetupStarted', { secret: { kid: 'k1' } }, CUSTOMER),
          storedEvent(stream, 1, 2, 'AccountUnlocked', { operatorId: 'op-1' }, OPERATOR),
          storedEvent(stream, 2, 3, 'PasswordResetRecorded', {}, { kind: 'auditor', id: 'key-audit', apiKeyId: 'key-audit' }),
          storedEvent(stream, 3, 4, 'TotpSecretReencrypted', { secret: { kid: 'k2' } }, { kind: 'system', id: 'twostep-cli' }),
          storedEvent(stream, 4, 5, 'AccountLocked', { lockedUntil: '2025-01-01T12:30:00.000Z', failedAttempts: 3 }, { kind: 'system' }),
        ];
        await store.applyPage(events);
        expect((await store.eventLog(tenant, 'alice')).map((entry) => entry.actor)).toEqual([
          { kind: 'customer', apiKeyId: 'key-portal' },
          { kind: 'operator', id: 'op-1', apiKeyId: 'key-ops' },
          { kind: 'auditor', id: 'key-audit', apiKeyId: 'key-audit' },
          { kind: 'system', id: 'twostep-cli' },
          { kind: 'system' },
        ]);
      });

      it('lists remembered devices with their label and time, drops the one revoked, and words both facts in the event log', async () => {
        const stream = accountStream(tenant, 'alice');
        const events = [
          storedEvent(stream, 0, 1, 'TotpSetupStarted', { secret: { kid: 'k1' } }),
          storedEvent(stream, 1, 2, 'TwoFactorEnabled', { method: 'totp', recoveryCodeHashes: hashes(10), confirmedStep: 1 }),
          storedEvent(stream, 2, 3, 'DeviceTrusted', { deviceId: 'dev-a', tokenHash: 'th-a', expiresAt: '2025-01-03T12:00:03.000Z', label: 'Firefox on Linux' }),
          // A DeviceTrusted written before labels existed.
          storedEvent(stream, 3, 4, 'DeviceTrusted', { deviceId: 'dev-b', tokenHash: 'th-b', expiresAt: '2025-01-03T12:00:04.000Z' }),
          storedEvent(stream, 4, 5, 'TrustedDeviceRevoked', { deviceId: 'dev-a', by: 'operator', operatorId: 'ann' }, OPERATOR),
        ];
        await applyAll(events.slice(0, 4));
        expect((await store.status(tenant, 'alice'))!.trustedDevices).toEqual([
          { deviceId: 'dev-a', label: 'Firefox on Linux', createdAt: events[2]!.metadata.at, expiresAt: '2025-01-03T12:00:03.000Z' },
          { deviceId: 'dev-b', label: null, createdAt: events[3]!.metadata.at, expiresAt: '2025-01-03T12:00:04.000Z' },
        ]);
        await applyAll(events.slice(4));
        const view = await store.status(tenant, 'alice');
        expect(view).toEqual(fold(events));
        expect(view!.trustedDevices).toEqual([{ deviceId: 'dev-b', label: null, createdAt: events[3]!.metadata.at, expiresAt: '2025-01-03T12:00:04.000Z' }]);
        expect(JSON.stringify(view)).not.toContain('th-');

        const log = await store.eventLog(tenant, 'alice');
        expect(log).toEqual(events.map(toLogEntry));
        expect(log.slice(2).map((entry) => entry.what)).toEqual([
          'Device remembered (Firefox on Linux) until 2025-01-03T12:00:03.000Z; device id dev-a',
          'Device dev-b remembered until 2025-01-03T12:00:04.000Z',
          'Remembered device dev-a revoked by reseller ann',
        ]);
        expect(JSON.stringify(log)).not.toContain('th-');

        // All at once (password reset) empties the list; a revoke of a device the view no longer has changes only the revision.
        await applyAll([
          storedEvent(stream, 5, 6, 'TrustedDevicesRevoked', { reason: 'password_reset', count: 1 }),
          storedEvent(stream, 6, 7, 'TrustedDeviceRevoked', { deviceId: 'dev-b', by: 'customer' }, CUSTOMER),
        ]);
        expect(await store.status(tenant, 'alice')).toEqual(expect.objectContaining({ trustedDevices: [], revision: 6, status: 'Enabled' }));
        expect((await store.eventLog(tenant, 'alice'))[6]!.what).toBe('Remembered device dev-b revoked by the customer');
      });

      it('keeps accounts apart and moves only the checkpoint for a policy event', async () => {
        const alice = history('alice', 1).slice(0, 2);
        const policy = storedEvent(policyStream(tenant), 0, 3, 'PolicyUpdated', { tenantId: tenant, policy: {}, changed: ['maxAttempts'] }, { kind: 'admin', id: 'root' });
        const bob = history('bob', 4).slice(0, 1);
        await applyAll([...alice, policy, ...bob]);

        expect(await store.status(tenant, 'alice')).toEqual(fold(alice));
        expect(await store.status(tenant, 'bob')).toEqual(fold(bob));
        expect((await store.status(tenant, 'bob'))!.setupPending).toBe(true);
        expect(await store.status(tenant, 'carol')).toBeNull();
        expect(await store.status(`${tenant}-other`, 'alice')).toBeNull();
        expect(await store.eventLog(tenant, 'alice')).toEqual(alice.map(toLogEntry));
        expect(await store.eventLog(tenant, 'bob')).toEqual(bob.map(toLogEntry));
        expect(await store.eventLog(tenant, 'carol')).toEqual([]);
        expect(await store.checkpoint()).toBe(4);
      });

      it('changes nothing when an event is delivered again', async () => {
        const events = history('alice', 1);
        await applyAll(events);
        const before = await snapshot(['alice']);

        await applyAll(events); // a full replay
        await store.apply(events[3]!); // and one event out of the middle
        await store.apply(events[7]!);
        expect(await snapshot(['alice'])).toEqual(before);
        expect(before.logs[0]).toHaveLength(events.length);
      });

      it('never lets an older revision overwrite a newer view', async () => {
        const events = history('alice', 1);
        await applyAll(events.slice(0, 7)); // enabled, reset recommended, revision 6
        const view = await store.status(tenant, 'alice');

        // A different, stale event for a revision the view already contains (e.g. from a lagging instance).
        const stale = storedEvent(accountStream(tenant, 'alice'), 2, 3, 'TwoFactorDisabled', { by: 'customer', passwordConfirmed: true });
        await store.apply(stale);
        expect(await store.status(tenant, 'alice')).toEqual(view);
        expect((await store.eventLog(tenant, 'alice', { limit: 1000 })).map((e) => e.eventId)).toEqual(events.slice(0, 7).map((e) => e.eventId));

        // Out of order: a revision ahead of the view is a gap, reported, and the page is not kept.
        const bob = history('bob', 20);
        await expect(store.applyPage([bob[0]!, bob[2]!])).rejects.toThrow(ProjectionGapError);
        await expect(store.apply(bob[1]!)).rejects.toThrow('revision -1 and was handed revision 1');
        expect(await store.status(tenant, 'bob')).toBeNull();
        expect(await store.eventLog(tenant, 'bob')).toEqual([]);
        await applyAll(bob.slice(0, 2));
        expect(await store.status(tenant, 'bob')).toEqual(expect.objectContaining({ status: 'Enabled', setupPending: false, revision: 1 }));
        expect((await store.eventLog(tenant, 'bob')).map((e) => e.revision)).toEqual([0, 1]);
      });

      it('ends with the in-order view when two projector instances apply the same events at once', async () => {
        const stream = accountStream(tenant, 'alice');
        const events = [
          storedEvent(stream, 0, 1, 'TotpSetupStarted', { secret: { kid: 'k1' } }),
          storedEvent(stream, 1, 2, 'TwoFactorEnabled', { method: 'totp', recoveryCodeHashes: hashes(10), confirmedStep: 1 }),
          ...Array.from({ length: 38 }, (_, i) => storedEvent(stream, i + 2, i + 3, 'AttemptFailed', { challengeId: 'c', method: 'totp', reason: 'wrong_code', failedAttempts: i + 1, attemptsLeft: 2 })),
        ];
        await Promise.all([applyAll(events), applyAll(events), applyAll(events)]);
        expect(await store.status(tenant, 'alice')).toEqual(fold(events));
        expect((await store.eventLog(tenant, 'alice', { limit: 1000 })).map((e) => e.revision)).toEqual(events.map((e) => e.revision));
        expect(await store.checkpoint()).toBe(40);
      });
    });

    describe('checkpoint', () => {
      it('only moves forward', async () => {
        const events = history('alice', 10);
        await applyAll(events.slice(0, 6)); // up to position 15
        expect(await store.checkpoint()).toBe(15);
        await store.apply(events[2]!); // position 12: redelivered late
        expect(await store.checkpoint()).toBe(15);
        await store.apply(events[6]!);
        expect(await store.checkpoint()).toBe(16);
      });
    });

    describe('eventLog', () => {
      it('pages by revision with after and limit', async () => {
        const stream = accountStream(tenant, 'alice');
        const events = Array.from({ length: 12 }, (_, i) =>
          storedEvent(stream, i, i + 1, 'AttemptFailed', { challengeId: 'c', method: 'email', reason: 'wrong_code', failedAttempts: 1, attemptsLeft: 2 }),
        );
        await applyAll(events);
        const revisions = async (options?: { after?: number; limit?: number }) => (await store.eventLog(tenant, 'alice', options)).map((e) => e.revision);

        expect(await revisions()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
        expect(await revisions({ limit: 3 })).toEqual([0, 1, 2]);
        expect(await revisions({ after: 4 })).toEqual([5, 6, 7, 8, 9, 10, 11]);
        expect(await revisions({ after: 4, limit: 3 })).toEqual([5, 6, 7]);
        expect(await revisions({ after: 10, limit: 3 })).toEqual([11]);
        expect(await revisions({ after: 11 })).toEqual([]);

        // Walking the pages yields every entry exactly once.
        const walked: number[] = [];
        for (let page = await revisions({ limit: 5 }); page.length > 0; page = await revisions({ after: walked[walked.length - 1], limit: 5 })) walked.push(...page);
        expect(walked).toEqual(events.map((e) => e.revision));
      });

      it('returns at most 100 entries by default', async () => {
        const stream = accountStream(tenant, 'alice');
        for (let i = 0; i < 105; i++) await store.apply(storedEvent(stream, i, i + 1, 'PasswordResetRecorded'));
        const log = await store.eventLog(tenant, 'alice');
        expect(log.map((e) => e.revision)).toEqual(Array.from({ length: 100 }, (_, i) => i));
      });
    });

    describe('reset', () => {
      it("drops every view, log and checkpoint, so a replay rebuilds the same views", async () => {
        const alice = history('alice', 1);
        const bob = history('bob', 9).slice(0, 3);
        const all = [...alice, ...bob];
        await applyAll(all);
        const before = await snapshot(['alice', 'bob']);

        await store.reset();
        expect(await store.status(tenant, 'alice')).toBeNull();
        expect(await store.status(tenant, 'bob')).toBeNull();
        expect(await store.eventLog(tenant, 'alice')).toEqual([]);
        expect(await store.eventLog(tenant, 'bob')).toEqual([]);
        expect(await store.checkpoint()).toBe(0);

        await applyAll(all);
        expect(await snapshot(['alice', 'bob'])).toEqual(before);
      });

      it('is harmless on an empty store', async () => {
        await store.reset();
        expect(await store.checkpoint()).toBe(0);
      });
    });

    describe('KeyValueStore', () => {
      const key = () => `k-${randomUUID()}`;

      it('gets what was set, overwrites, and deletes', async () => {
        const k = key();
        expect(await kv.get(k)).toBeNull();
        await kv.set(k, 'one');
        expect(await kv.get(k)).toBe('one');
        await kv.set(k, 'two ü {"json":true}');
        expect(await kv.get(k)).toBe('two ü {"json":true}');
        await kv.delete(k);
        expect(await kv.get(k)).toBeNull();
        await kv.delete(k); // deleting a missing key is fine
        await kv.delete(key());
      });

      it('forgets a value after its TTL; a later set without TTL keeps it', async () => {
        const expiring = key();
        const kept = key();
        await kv.set(expiring, 'soon gone', 1);
        await kv.set(kept, 'first', 1);
        await kv.set(kept, 'forever'); // replaces the value and its TTL
        expect(await kv.get(expiring)).toBe('soon gone');
        await sleep(1300);
        expect(await kv.get(expiring)).toBeNull();
        expect(await kv.get(kept)).toBe('forever');
      });

      it('setIfAbsent sets only once, and again after the value expired', async () => {
        const k = key();
        expect(await kv.setIfAbsent(k, 'first', 1)).toBe(true);
        expect(await kv.setIfAbsent(k, 'second', 1)).toBe(false);
        expect(await kv.get(k)).toBe('first');
        await sleep(1300);
        expect(await kv.setIfAbsent(k, 'third')).toBe(true);
        expect(await kv.get(k)).toBe('third');
        await kv.delete(k);
        expect(await kv.setIfAbsent(k, 'fourth')).toBe(true);
      });

      it('lets exactly one of 10 parallel setIfAbsent calls win', async () => {
        const k = key();
        const results = await Promise.all(Array.from({ length: 10 }, (_, i) => kv.setIfAbsent(k, `caller-${i}`, 60)));
        expect(results.filter(Boolean)).toHaveLength(1);
        expect(await kv.get(k)).toBe(`caller-${results.indexOf(true)}`);
      });
    });
  });
}
