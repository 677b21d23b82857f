import { createHash } from 'node:crypto';
import { normalizeRecoveryCode, totpCodeAt } from '@twostep/crypto';
import { accountUrl, KEYS, startTestApp, type TestApp } from '../support/harness';
import { bare, call, enableTotp, expectRefused, head, midStep, walkAllEvents, wrongTotpCode, type Method, type Role } from '../support/edge-helpers';

type Route = { method: Method; url: string; body?: object };

/** Authentication, roles and tenant scoping: a key never reaches what it may not. */
describe('access control over HTTP', () => {
  let t: TestApp;
  const alice = accountUrl('store-1', 'access-alice'); // store-1, 2FA on, a challenge open
  const bob = accountUrl('store-2', 'access-bob'); // store-2, 2FA on, locked
  let aliceSecret = '';
  let aliceCodes: string[] = [];
  let aliceChallenge = '';
  let bobChallenge = '';

  beforeAll(async () => {
    t = await startTestApp();
    midStep(t);
    ({ secret: aliceSecret, recoveryCodes: aliceCodes } = await enableTotp(t, 'portal', 'store-1', 'access-alice'));
    aliceChallenge = (await t.as('portal').post(`${alice}/challenges`, {}).expect(200)).body.challengeId;

    const bobTotp = await enableTotp(t, 'portal2', 'store-2', 'access-bob');
    bobChallenge = (await t.as('portal2').post(`${bob}/challenges`, {}).expect(200)).body.challengeId;
    const wrong = wrongTotpCode(bobTotp.secret, t.clock.now().getTime());
    await t.as('portal2').post(`${bob}/challenges/${bobChallenge}/verify`, { code: wrong }).expect(422);
    await t.as('portal2').post(`${bob}/challenges/${bobChallenge}/verify`, { code: wrong }).expect(422);
    await t.as('portal2').post(`${bob}/challenges/${bobChallenge}/verify`, { code: wrong }).expect(423);
  });
  afterAll(() => t.close());

  /** Every route of one account, with a body that would be accepted by the right caller. */
  const accountRoutes = (url: string, challengeId: string): Record<string, Route> => ({
    status: { method: 'get', url: `${url}/two-factor` },
    setup: { method: 'post', url: `${url}/two-factor/totp/setup` },
    confirm: { method: 'post', url: `${url}/two-factor/totp/confirm`, body: { code: '123456' } },
    recoveryCodes: { method: 'post', url: `${url}/two-factor/recovery-codes` },
    disable: { method: 'post', url: `${url}/two-factor/disable`, body: { confirmation: 'password' } },
    resellerDisable: { method: 'post', url: `${url}/two-factor/reseller-disable`, body: { operatorId: 'intruder' } },
    unlock: { method: 'post', url: `${url}/unlock`, body: { operatorId: 'intruder' } },
    passwordReset: { method: 'post', url: `${url}/password-reset` },
    challenges: { method: 'post', url: `${url}/challenges` },
    verify: { method: 'post', url: `${url}/challenges/${challengeId}/verify`, body: { code: '123456' } },
    recovery: { method: 'post', url: `${url}/challenges/${challengeId}/recovery`, body: { recoveryCode: 'abcde-fghij' } },
    resend: { method: 'post', url: `${url}/challenges/${challengeId}/resend` },
    eventLog: { method: 'get', url: `${url}/event-log` },
    events: { method: 'get', url: `${url}/events` },
  });
  const policyRoutes = (tenantId: string): Record<string, Route> => ({
    policyGet: { method: 'get', url: `/v1/tenants/${tenantId}/policy` },
    policyPut: { method: 'put', url: `/v1/tenants/${tenantId}/policy`, body: { codeTtlMinutes: 42 } },
  });

  const refuse = (role: Role, route: Route, status: number, error: string) => expectRefused(t, () => call(t, role, route.method, route.url, route.body), status, error);
  const aliceView = async () => (await t.as('portal').get(`${alice}/two-factor`).expect(200)).body;
  const bobView = async () => (await t.as('portal2').get(`${bob}/two-factor`).expect(200)).body;

  it('the fixtures are what the tests below assume', async () => {
    expect(await aliceView()).toMatchObject({ status: 'Enabled', recoveryCodesRemaining: 10, lockedUntil: null });
    expect((await bobView()).lockedUntil).toEqual(expect.any(String));
    expect(await bobView()).toMatchObject({ status: 'Enabled', recoveryCodesRemaining: 10 });
  });

  describe('authentication', () => {
    const everything = (): Route[] => [
      ...Object.values(accountRoutes(alice, aliceChallenge)),
      ...Object.values(policyRoutes('store-1')),
      { method: 'get', url: '/v1/events' },
    ];

    it('no Authorization header is a 401 unauthorized on every route, and nothing is appended', async () => {
      for (const route of everything()) {
        const send = () => {
          const test = bare(t, route.method, route.url);
          return route.method === 'get' ? test : test.send(route.body ?? {});
        };
        await expectRefused(t, send, 401, 'unauthorized');
      }
    });

    it('a wrong or malformed key is a 401 unauthorized', async () => {
      const headers = [
        'Bearer not-a-key',
        `Bearer ${KEYS.admin}x`,
        `Bearer ${KEYS.admin.slice(0, -1)}`,
        `Bearer ${KEYS.admin.toUpperCase()}`,
        `Basic ${Buffer.from(`admin:${KEYS.admin}`).toString('base64')}`,
        KEYS.admin,
        'Bearer ',
        `Bearer ${KEYS.admin} ${KEYS.admin}`,
      ];
      for (const header of headers) {
        for (const route of everything()) {
          const send = () => {
            const test = bare(t, route.method, route.url).set('Authorization', header);
            return route.method === 'get' ? test : test.send(route.body ?? {});
          };
          await expectRefused(t, send, 401, 'unauthorized');
        }
      }
    });

    it('the 401 does not echo the presented key', async () => {
      const presented = 'Bearer sk_live_this-should-not-come-back-0000';
      const response = await bare(t, 'get', `${alice}/two-factor`).set('Authorization', presented).expect(401);
      expect(response.text).not.toContain('this-should-not-come-back');
    });
  });

  describe('tenant scoping', () => {
    it("an operator of store-1 gets 403 on every account and policy route of store-2, and nothing changes", async () => {
      const routes = { ...accountRoutes(bob, bobChallenge), ...policyRoutes('store-2') };
      for (const name of ['status', 'eventLog', 'resellerDisable', 'unlock', 'policyGet'] as const) {
        await refuse('operator', routes[name], 403, 'forbidden_tenant');
      }
      // Bob is still enabled and still locked; the same calls by store-2's operator do work.
      expect(await bobView()).toMatchObject({ status: 'Enabled', lockedUntil: expect.any(String) });
      await t.as('operator2').get(`${bob}/two-factor`).expect(200);
      await t.as('operator2').get(`${bob}/event-log`).expect(200);
      await t.as('operator2').get('/v1/tenants/store-2/policy').expect(200);
    });

    it('an operator of store-2 gets 403 on store-1 the same way', async () => {
      const routes = { ...accountRoutes(alice, aliceChallenge), ...policyRoutes('store-1') };
      for (const name of ['status', 'eventLog', 'resellerDisable', 'unlock', 'policyGet'] as const) {
        await refuse('operator2', routes[name], 403, 'forbidden_tenant');
      }
      expect(await aliceView()).toMatchObject({ status: 'Enabled' });
    });

    it('a portal key of store-2 cannot touch store-1 accounts', async () => {
      const routes = accountRoutes(alice, aliceChallenge);
      for (const name of ['status', 'setup', 'confirm', 'recoveryCodes', 'disable', 'passwordReset', 'challenges', 'verify', 'recovery', 'resend'] as const) {
        await refuse('portal2', routes[name], 403, 'forbidden_tenant');
      }
      // A real code, the real challenge, a real recovery code: still refused, and not consumed.
      await refuse('portal2', { method: 'post', url: `${alice}/challenges/${aliceChallenge}/verify`, body: { code: totpCodeAt(aliceSecret, t.clock.now().getTime()) } }, 403, 'forbidden_tenant');
      await refuse('portal2', { method: 'post', url: `${alice}/challenges/${aliceChallenge}/recovery`, body: { recoveryCode: aliceCodes[0] } }, 403, 'forbidden_tenant');
      expect(await aliceView()).toMatchObject({ status: 'Enabled', recoveryCodesRemaining: 10, resetRecommended: false, failedAttempts: 0 });
      expect((await aliceView()).setupPending ?? false).toBe(false);
    });

    it('a portal key of store-1 cannot touch store-2, but reaches its other tenant (admin)', async () => {
      const routes = accountRoutes(bob, bobChallenge);
      for (const name of ['status', 'setup', 'disable', 'challenges', 'verify'] as const) {
        await refuse('portal', routes[name], 403, 'forbidden_tenant');
      }
      const status = await t.as('portal').get(`${accountUrl('admin', 'back-office-1')}/two-factor`).expect(200);
      expect(status.body).toMatchObject({ tenantId: 'admin', userId: 'back-office-1', status: 'Disabled' });
    });
  });

  describe('roles', () => {
    it.each(['operator', 'admin'] as const)('%s can never set up, confirm, regenerate, disable or log in for a customer', async (role) => {
      const routes = accountRoutes(alice, aliceChallenge);
      for (const name of ['setup', 'confirm', 'recoveryCodes', 'disable', 'challenges', 'verify', 'recovery', 'resend', 'passwordReset'] as const) {
        await refuse(role, routes[name], 403, 'forbidden_role');
      }
      // Not even for an account that has no 2FA yet.
      const carol = accountRoutes(accountUrl('store-1', 'access-carol'), 'x');
      await refuse(role, carol.setup!, 403, 'forbidden_role');
      await refuse(role, carol.confirm!, 403, 'forbidden_role');
      expect(await aliceView()).toMatchObject({ status: 'Enabled', recoveryCodesRemaining: 10 });
    });

    it('an auditor gets 403 on every command route', async () => {
      const routes = { ...accountRoutes(alice, aliceChallenge), ...policyRoutes('store-1') };
      for (const name of ['setup', 'confirm', 'recoveryCodes', 'disable', 'resellerDisable', 'unlock', 'passwordReset', 'challenges', 'verify', 'recovery', 'resend', 'policyPut'] as const) {
        await refuse('auditor', routes[name], 403, 'forbidden_role');
      }
      // bob's unlock as auditor (tenant '*'): still a role refusal; bob stays locked.
      await refuse('auditor', accountRoutes(bob, bobChallenge).unlock!, 403, 'forbidden_role');
      expect(await bobView()).toMatchObject({ lockedUntil: expect.any(String) });
      // The status view belongs to portal, operator and admin.
      await refuse('auditor', routes.status!, 403, 'forbidden_role');
    });

    it('portal keys cannot read the audit feeds', async () => {
      await refuse('portal', { method: 'get', url: '/v1/events' }, 403, 'forbidden_role');
      await refuse('portal', { method: 'get', url: `${alice}/events` }, 403, 'forbidden_role');
      await refuse('portal', { method: 'get', url: `${alice}/event-log` }, 403, 'forbidden_role');
      await refuse('portal2', { method: 'get', url: '/v1/events' }, 403, 'forbidden_role');
    });

    it('operators cannot read raw events (only the people-readable event log)', async () => {
      await refuse('operator', { method: 'get', url: '/v1/events' }, 403, 'forbidden_role');
      await refuse('operator', { method: 'get', url: `${alice}/events` }, 403, 'forbidden_role');
      const log = await t.as('operator').get(`${alice}/event-log`).expect(200);
      expect(log.body.entries.length).toBeGreaterThan(0);
    });
  });

  describe('policy', () => {
    it('an operator can read its own tenant policy but not change it', async () => {
      const before = (await t.as('operator').get('/v1/tenants/store-1/policy').expect(200)).body;
      expect(before).toMatchObject({ tenantId: 'store-1', codeTtlMinutes: expect.any(Number), maxFailedAttempts: expect.any(Number) });
      await refuse('operator', policyRoutes('store-1').policyPut!, 403, 'forbidden_role');
      await refuse('operator', { method: 'put', url: '/v1/tenants/store-1/policy', body: {} }, 403, 'forbidden_role');
      await refuse('operator', policyRoutes('store-2').policyGet!, 403, 'forbidden_tenant');
      await refuse('operator', policyRoutes('store-2').policyPut!, 403, 'forbidden_role');
      expect((await t.as('operator').get('/v1/tenants/store-1/policy').expect(200)).body).toEqual(before);
    });

    it('portal keys can neither read nor change a policy', async () => {
      await refuse('portal', policyRoutes('store-1').policyGet!, 403, 'forbidden_role');
      await refuse('portal', policyRoutes('store-1').policyPut!, 403, 'forbidden_role');
      await refuse('portal', policyRoutes('admin').policyPut!, 403, 'forbidden_role');
    });

    it.each(['store-1', 'store-2', 'admin', 'store-99'])('an admin can change the policy of %s', async (tenantId) => {
      const before = await head(t);
      const put = await t.as('admin').put(`/v1/tenants/${tenantId}/policy`, { codeTtlMinutes: 42, trustedDeviceDays: 9 }).expect(200);
      expect(put.body).toMatchObject({ tenantId, codeTtlMinutes: 42, trustedDeviceDays: 9 });
      expect(await head(t)).toBeGreaterThan(before);
      const got = await t.as('admin').get(`/v1/tenants/${tenantId}/policy`).expect(200);
      expect(got.body).toMatchObject({ tenantId, codeTtlMinutes: 42, trustedDeviceDays: 9 });
    });

    it("the admin's change is what the tenant's operator reads, and other tenants are untouched", async () => {
      await t.as('admin').put('/v1/tenants/store-2/policy', { lockoutMinutes: 77 }).expect(200);
      expect((await t.as('operator2').get('/v1/tenants/store-2/policy').expect(200)).body).toMatchObject({ lockoutMinutes: 77 });
      expect((await t.as('operator').get('/v1/tenants/store-1/policy').expect(200)).body.lockoutMinutes).not.toBe(77);
    });
  });

  describe('auditors', () => {
    it('read every event exactly once, in increasing position, by walking the next cursor', async () => {
      const total = await head(t);
      expect(total).toBeGreaterThan(10);
      const everything = (await t.as('auditor').get('/v1/events?limit=1000').expect(200)).body.events as { position: number }[];
      expect(everything.length).toBeGreaterThan(10);
      expect(everything[everything.length - 1]!.position).toBe(total);
      for (const limit of [1, 3, 7, everything.length, everything.length + 1]) {
        const walk = await walkAllEvents(t, 'auditor', limit);
        const positions = walk.events.map((e) => e.position);
        expect(positions).toEqual(everything.map((e) => e.position));
        expect(positions.every((p, i) => i === 0 || p > positions[i - 1]!)).toBe(true);
        expect(new Set(positions).size).toBe(positions.length);
        expect(walk.pages).toBeGreaterThanOrEqual(Math.ceil(everything.length / limit));
        expect(walk.pages).toBeLessThanOrEqual(Math.ceil(everything.length / limit) + 1);
      }
      // The events are the store's events, not a copy that could drift.
      expect(everything).toEqual(JSON.parse(JSON.stringify(await t.runtime.eventStore.readAll({ limit: 1000 }))));
    });

    it("a tenant-scoped auditor key pages through its tenants' events only, with a cursor that still ends", async () => {
      const everything = (await t.as('auditor').get('/v1/events?limit=1000').expect(200)).body.events as { position: number; stream: string }[];
      const store2 = everything.filter((e) => /^TwoFactor(Account|Policy)-store-2(\||$)/.test(e.stream));
      expect(store2.length).toBeGreaterThan(3);
      expect(store2.length).toBeLessThan(everything.length);
      for (const limit of [1, 4, 1000]) {
        const walk = await walkAllEvents(t, 'auditor2', limit);
        expect(walk.events.map((e) => e.position)).toEqual(store2.map((e) => e.position));
      }
      await refuse('auditor2', { method: 'get', url: `${alice}/events` }, 403, 'forbidden_tenant');
      await refuse('auditor2', { method: 'get', url: `${alice}/event-log` }, 403, 'forbidden_tenant');
    });

    it('get a log anchor over HTTP that anyone can recompute from the events, as the CLI verifies it', async () => {
      const everything = (await t.as('auditor').get('/v1/events?limit=1000').expect(200)).body.events as { position: number; hash: string; metadata: { at: string } }[];
      const digestOf = (events: { hash: string }[]) => events.reduce((d, e) => createHash('sha256').update(`${d}\n${e.hash}`).digest('hex'), '0'.repeat(64));
      const all = (await t.as('auditor').get('/v1/events/anchor').expect(200)).body;
      const last = everything[everything.length - 1]!;
      expect(all).toEqual({ anchor: `${everything.length}:${digestOf(everything)}`, count: everything.length, digest: digestOf(everything), position: last.position, at: last.metadata.at });
      const three = (await t.as('admin').get('/v1/events/anchor?count=3').expect(200)).body;
      expect(three).toMatchObject({ anchor: `3:${digestOf(everything.slice(0, 3))}`, position: everything[2]!.position });
      expect((await t.as('auditor').get('/v1/events/anchor?count=0').expect(200)).body).toMatchObject({ anchor: `0:${'0'.repeat(64)}`, position: 0, at: null });

      const beyond = await t.as('auditor').get(`/v1/events/anchor?count=${everything.length + 1}`).expect(409);
      expect(beyond.body).toMatchObject({ error: 'log_shorter_than_anchor', count: everything.length });
      await refuse('auditor2', { method: 'get', url: '/v1/events/anchor' }, 403, 'forbidden_tenant');
      await refuse('portal', { method: 'get', url: '/v1/events/anchor' }, 403, 'forbidden_role');
      expect((await t.as('auditor').get('/v1/events/anchor?count=many').expect(400)).body.error).toBe('validation_failed');
    });

    it('`after` continues strictly after the given position', async () => {
      const everything = (await t.as('auditor').get('/v1/events?limit=1000').expect(200)).body.events as { position: number }[];
      const middle = everything[Math.floor(everything.length / 2)]!.position;
      const rest = (await t.as('auditor').get(`/v1/events?after=${middle}&limit=1000`).expect(200)).body;
      expect(rest.events.map((e: { position: number }) => e.position)).toEqual(everything.filter((e) => e.position > middle).map((e) => e.position));
      expect(rest.next).toBeNull();
      const past = (await t.as('auditor').get(`/v1/events?after=${everything[everything.length - 1]!.position}`).expect(200)).body;
      expect(past).toEqual({ events: [], next: null });
    });

    it("read one account's raw events (in order, with paging) and its event log", async () => {
      const all = (await t.as('auditor').get(`${alice}/events?limit=1000`).expect(200)).body;
      const revisions = (all.events as { revision: number; stream: string }[]).map((e) => e.revision);
      expect(revisions).toEqual(revisions.map((_, i) => i));
      expect(new Set((all.events as { stream: string }[]).map((e) => e.stream)).size).toBe(1);
      expect(all.next).toBeNull();
      const paged: number[] = [];
      let after: number | null = null;
      do {
        const query: string = after === null ? 'limit=2' : `after=${after}&limit=2`;
        const page = (await t.as('auditor').get(`${alice}/events?${query}`).expect(200)).body;
        paged.push(...(page.events as { revision: number }[]).map((e) => e.revision));
        after = page.next;
      } while (after !== null && paged.length < 1000);
      expect(paged).toEqual(revisions);

      const log = await t.as('auditor').get(`${alice}/event-log`).expect(200);
      expect(log.body).toMatchObject({ tenantId: 'store-1', userId: 'access-alice' });
      expect(log.body.entries.length).toBeGreaterThan(0);
      // An account of another tenant: auditors have every tenant.
      await t.as('auditor').get(`${bob}/events`).expect(200);
      await t.as('auditor').get(`${bob}/event-log`).expect(200);
    });

    it('see no clear TOTP secret or recovery code in the raw events', async () => {
      const events = (await t.as('auditor').get(`${alice}/events?limit=1000`).expect(200)).body.events as { type: string; data: Record<string, unknown> }[];
      const setup = events.find((e) => e.type === 'TotpSetupStarted')!;
      expect(setup).toBeDefined();
      expect(setup.data.secret).toMatchObject({ kid: expect.any(String), ct: expect.any(String) });
      const enabled = events.find((e) => e.type === 'TwoFactorEnabled')!;
      expect(enabled).toBeDefined();
      const hashes = enabled.data.recoveryCodeHashes as string[];
      expect(hashes).toHaveLength(10);
      for (const hash of hashes) expect(hash).toMatch(/^[0-9a-f]{64}$/);

      const account = JSON.stringify(events);
      const global = JSON.stringify((await t.as('auditor').get('/v1/events?limit=1000').expect(200)).body);
      for (const text of [account, global]) {
        expect(text).not.toContain(aliceSecret);
        expect(text.toLowerCase()).not.toContain(aliceSecret.toLowerCase());
        for (const code of aliceCodes) {
          expect(text).not.toContain(code);
          expect(text.toLowerCase()).not.toContain(normalizeRecoveryCode(code));
        }
      }
    });
  });
});
