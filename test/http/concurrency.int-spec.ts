import type { Response } from 'supertest';
import { totpCodeAt } from '@twostep/crypto';
import { accountStream } from '@twostep/domain';
import type { StoredEvent } from '@twostep/eventstore';
import { accountUrl, startTestApp, type TestApp } from '../support/harness';
import { codeFrom, sentTo, startSmtpServer, type TestSmtpServer } from '../support/smtp';

/**
 * "Concurrent commands on one account never double-spend a code or lose an attempt":
 * many identical requests at once, over real HTTP, on the embedded runtime.
 */
describe('concurrent commands on one account', () => {
  let t: TestApp;
  let smtp: TestSmtpServer;
  const PARALLEL = 20;

  beforeAll(async () => {
    smtp = await startSmtpServer();
    t = await startTestApp({ SMTP_URL: smtp.url });
    // Listen once, so parallel supertest requests share one server instead of each starting it.
    await t.app.listen(0, '127.0.0.1');
    await t.as('admin').put('/v1/tenants/store-1/policy', { emailOtpRequired: true, maxFailedAttempts: 3 }).expect(200);
  });
  afterAll(async () => {
    await t.close();
    await smtp.close();
  });

  const events = (tenantId: string, userId: string): Promise<StoredEvent[]> => t.runtime.eventStore.readStream(accountStream(tenantId, userId));
  const ofChallenge = (list: StoredEvent[], type: string, challengeId: string) =>
    list.filter((e) => e.type === type && (e.data as { challengeId?: string }).challengeId === challengeId);
  const statuses = (responses: Response[]) => responses.map((r) => r.status).sort((a, b) => a - b);
  const describeAll = (responses: Response[]) => responses.map((r) => `${r.status} ${JSON.stringify(r.body)}`).join('\n');

  /**
   * Runs `burst` with every stream read of the event store held back a few random milliseconds
   * after it was made, so that parallel commands decide on the same (stale) revision and must
   * go through the append conflict and retry path. Without this, the embedded store answers so
   * fast that parallel requests mostly run one after another.
   */
  async function withSlowReads<T>(slow: boolean, burst: () => Promise<T>): Promise<{ result: T; appends: number; conflicts: number }> {
    const store = t.runtime.eventStore;
    const readStream = store.readStream;
    const append = store.append;
    let appends = 0;
    let conflicts = 0;
    store.append = async function (this: typeof store, ...args: Parameters<typeof append>) {
      appends++;
      try {
        return await append.apply(this, args);
      } catch (error) {
        if ((error as { code?: string }).code === 'wrong_expected_revision') conflicts++;
        throw error;
      }
    } as typeof append;
    if (slow) {
      store.readStream = async function (this: typeof store, ...args: Parameters<typeof readStream>) {
        const read = await readStream.apply(this, args);
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 8));
        return read;
      } as typeof readStream;
    }
    try {
      return { result: await burst(), appends, conflicts };
    } finally {
      store.readStream = readStream;
      store.append = append;
    }
  }

  async function emailChallenge(userId: string, email: string) {
    const started = await t.as('portal').post(`${accountUrl('store-1', userId)}/challenges`, { email }).expect(200);
    expect(started.body).toMatchObject({ required: true, method: 'email' });
    const mail = await smtp.waitForMail(sentTo(email), 5000);
    return { id: started.body.challengeId as string, code: codeFrom(mail) };
  }

  describe.each([
    ['as they come', 'fast', false],
    ['with slow reads forcing interleaved decisions', 'slow', true],
  ] as const)('%s', (_title, mode, slow) => {
    it(`${PARALLEL} parallel verifies of one valid email code: exactly one login`, async () => {
      const { id, code } = await emailChallenge(`race-ok-${mode}`, `race.ok.${mode}@example.com`);
      const url = `${accountUrl('store-1', `race-ok-${mode}`)}/challenges/${id}/verify`;
      const { result: responses, conflicts } = await withSlowReads(slow, () => Promise.all(Array.from({ length: PARALLEL }, () => t.as('portal').post(url, { code }))));
      // With slow reads the race is real: some appends met a newer revision and were decided again.
      if (slow) expect(conflicts).toBeGreaterThan(0);

      const ok = responses.filter((r) => r.status === 200);
      expect({ ok: ok.length, all: describeAll(responses) }).toMatchObject({ ok: 1 });
      expect(ok[0]!.body.verified).toBe(true);
      for (const refused of responses.filter((r) => r.status !== 200)) {
        expect([404, 409, 422]).toContain(refused.status);
        expect(typeof refused.body.error).toBe('string');
      }

      const stream = await events('store-1', `race-ok-${mode}`);
      expect(ofChallenge(stream, 'ChallengePassed', id)).toHaveLength(1);
      // The right code is never counted as a failure, however many times it is raced.
      expect(ofChallenge(stream, 'AttemptFailed', id)).toHaveLength(0);
      expect(stream.filter((e) => e.type === 'AccountLocked')).toHaveLength(0);
    });

    it(`${PARALLEL} parallel wrong codes: 3 failed attempts recorded, then one lock, and no 5xx`, async () => {
      const email = `race.lock.${mode}@example.com`;
      const { id, code } = await emailChallenge(`race-lock-${mode}`, email);
      const wrong = code === '000000' ? '111111' : '000000';
      const url = `${accountUrl('store-1', `race-lock-${mode}`)}/challenges/${id}/verify`;
      const { result: responses, conflicts } = await withSlowReads(slow, () => Promise.all(Array.from({ length: PARALLEL }, () => t.as('portal').post(url, { code: wrong }))));
      // With slow reads the race is real: some appends met a newer revision and were decided again.
      if (slow) expect(conflicts).toBeGreaterThan(0);

      const unexpected = responses.filter((r) => ![409, 422, 423].includes(r.status));
      expect(describeAll(unexpected)).toBe('');
      for (const response of responses) {
        if (response.status === 409) expect(response.body.error).toBe('concurrent_update');
        if (response.status === 422) expect(response.body.error).toBe('invalid_code');
        if (response.status === 423) expect(response.body.error).toBe('account_locked');
      }

      const stream = await events('store-1', `race-lock-${mode}`);
      const lockAt = stream.findIndex((e) => e.type === 'AccountLocked');
      expect(lockAt).toBeGreaterThanOrEqual(0);
      const failedBeforeLock = stream.slice(0, lockAt).filter((e) => e.type === 'AttemptFailed');
      expect(failedBeforeLock.length).toBeLessThanOrEqual(3);
      expect(failedBeforeLock).toHaveLength(3);
      // Counted one by one, never lost or doubled: 1, 2, 3.
      expect(failedBeforeLock.map((e) => (e.data as { failedAttempts: number }).failedAttempts)).toEqual([1, 2, 3]);
      expect(stream.filter((e) => e.type === 'AttemptFailed')).toHaveLength(3);
      expect(stream.filter((e) => e.type === 'AccountLocked')).toHaveLength(1);
      // Each 422 answers one recorded failure that did not lock; the locking one answers 423.
      expect(statuses(responses).filter((s) => s === 422)).toHaveLength(2);

      // The account ends locked.
      const status = await t.as('portal').get(`${accountUrl('store-1', `race-lock-${mode}`)}/two-factor`).expect(200);
      expect(status.body.lockedUntil).toBe((stream[lockAt]!.data as { lockedUntil: string }).lockedUntil);
      await t.as('portal').post(`${accountUrl('store-1', `race-lock-${mode}`)}/challenges`, { email }).expect(423);
      await t.as('portal').post(url, { code }).expect(423);
    });

    it(`${PARALLEL} parallel TOTP verifies of the same valid code on one challenge: exactly one login`, async () => {
      // store-2 has no email policy, so the authenticator app is the only second step.
      const url = accountUrl('store-2', `race-totp-${mode}`);
      const setup = await t.as('portal2').post(`${url}/two-factor/totp/setup`, {}).expect(200);
      const secret = setup.body.secret as string;
      await t.as('portal2').post(`${url}/two-factor/totp/confirm`, { code: totpCodeAt(secret, t.clock.now().getTime()) }).expect(200);
      t.clock.advance(31_000);

      const challenge = await t.as('portal2').post(`${url}/challenges`, {}).expect(200);
      expect(challenge.body).toMatchObject({ required: true, method: 'totp' });
      const id = challenge.body.challengeId as string;
      const code = totpCodeAt(secret, t.clock.now().getTime());
      const { result: responses, conflicts } = await withSlowReads(slow, () => Promise.all(Array.from({ length: PARALLEL }, () => t.as('portal2').post(`${url}/challenges/${id}/verify`, { code }))));
      // With slow reads the race is real: some appends met a newer revision and were decided again.
      if (slow) expect(conflicts).toBeGreaterThan(0);

      const ok = responses.filter((r) => r.status === 200);
      expect({ ok: ok.length, all: describeAll(responses) }).toMatchObject({ ok: 1 });
      for (const refused of responses.filter((r) => r.status !== 200)) expect([404, 409, 422]).toContain(refused.status);

      const stream = await events('store-2', `race-totp-${mode}`);
      expect(ofChallenge(stream, 'ChallengePassed', id)).toHaveLength(1);
      expect(ofChallenge(stream, 'AttemptFailed', id)).toHaveLength(0);

      // And the step is spent: a new challenge refuses the same code as a replay.
      const next = await t.as('portal2').post(`${url}/challenges`, {}).expect(200);
      const replay = await t.as('portal2').post(`${url}/challenges/${next.body.challengeId}/verify`, { code }).expect(422);
      expect(replay.body.reason).toBe('code_already_used');
    });
  });
});
