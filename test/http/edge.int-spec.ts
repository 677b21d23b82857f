import { totpCodeAt } from '@twostep/crypto';
import { accountUrl, KEYS, startTestApp, type TestApp } from '../support/harness';
import { bare, enableTotp, expectRefused, head, midStep, wrongTotpCode } from '../support/edge-helpers';

/**
 * Quality bar: bad input gets a clear 4xx with a stable `error` code and appends nothing.
 * Every refused request below is also checked against the event store's head position.
 */
describe('bad input over HTTP', () => {
  let t: TestApp;
  const alice = accountUrl('store-1', 'edge-alice'); // 2FA on, one login challenge open
  const fresh = accountUrl('store-1', 'edge-nobody'); // no history at all
  let secret = '';
  let challengeId = '';
  /** Every error body of this suite: none may hold a secret. */
  const errors: unknown[] = [];

  beforeAll(async () => {
    t = await startTestApp();
    midStep(t);
    ({ secret } = await enableTotp(t, 'portal', 'store-1', 'edge-alice'));
    const challenge = await t.as('portal').post(`${alice}/challenges`, {}).expect(200);
    expect(challenge.body).toMatchObject({ required: true, method: 'totp' });
    challengeId = challenge.body.challengeId;
  });
  afterAll(() => t.close());

  const aliceStatus = async () => (await t.as('portal').get(`${alice}/two-factor`).expect(200)).body;

  describe('request bodies', () => {
    it('malformed JSON is a 400 malformed_json', async () => {
      const targets: [string, 'post' | 'put', 'portal' | 'admin'][] = [
        [`${alice}/two-factor/totp/confirm`, 'post', 'portal'],
        [`${alice}/challenges/${challengeId}/verify`, 'post', 'portal'],
        [`${alice}/challenges`, 'post', 'portal'],
        ['/v1/tenants/store-1/policy', 'put', 'admin'],
      ];
      for (const [url, method, role] of targets) {
        for (const text of ['{"code":', '{code: "123456"}', "{'code':'123456'}", '{"code":"123456",}', '"123456"']) {
          const body = await expectRefused(t, () => bare(t, method, url, role).set('Content-Type', 'application/json').send(text), 400, 'malformed_json', errors);
          expect(body.message).toMatch(/JSON/);
        }
      }
      // The open challenge is untouched: no attempt was counted.
      const log = await t.as('auditor').get(`${alice}/events`).expect(200);
      expect((log.body.events as { type: string }[]).some((e) => e.type === 'AttemptFailed')).toBe(false);
    });

    it('wrong types are a 400 validation_failed naming the field', async () => {
      const cases: [string, 'post' | 'put', 'portal' | 'operator' | 'admin', object, string][] = [
        [`${alice}/two-factor/totp/confirm`, 'post', 'portal', { code: 123456 }, 'code'],
        [`${alice}/challenges/${challengeId}/verify`, 'post', 'portal', { code: 123456 }, 'code'],
        [`${alice}/challenges/${challengeId}/verify`, 'post', 'portal', { code: null }, 'code'],
        [`${alice}/challenges/${challengeId}/verify`, 'post', 'portal', { code: ['123456'] }, 'code'],
        [`${alice}/challenges/${challengeId}/verify`, 'post', 'portal', { code: '123456', rememberDevice: 'yes' }, 'rememberDevice'],
        [`${alice}/challenges/${challengeId}/recovery`, 'post', 'portal', { recoveryCode: 1234567890 }, 'recoveryCode'],
        [`${alice}/challenges`, 'post', 'portal', { deviceToken: 5 }, 'deviceToken'],
        [`${alice}/challenges`, 'post', 'portal', { email: 'not-an-address' }, 'email'],
        [`${alice}/two-factor/reseller-disable`, 'post', 'operator', { operatorId: 42 }, 'operatorId'],
        [`${alice}/two-factor/reseller-disable`, 'post', 'operator', { operatorId: 'ann', reason: 7 }, 'reason'],
        [`${alice}/unlock`, 'post', 'operator', { operatorId: false }, 'operatorId'],
      ];
      for (const [url, method, role, payload, field] of cases) {
        const body = await expectRefused(t, () => t.as(role)[method](url, payload), 400, 'validation_failed', errors);
        expect((body.problems as { field: string }[]).map((p) => p.field)).toContain(field);
        expect(body.message).toContain(field);
      }
      // A JSON array where an object belongs.
      await expectRefused(t, () => t.as('portal').post(`${alice}/challenges/${challengeId}/verify`, ['123456']), 400, 'validation_failed', errors);
      expect(await aliceStatus()).toMatchObject({ status: 'Enabled', recoveryCodesRemaining: 10 });
    });

    it('unknown fields are a 400 validation_failed naming them', async () => {
      const cases: [string, 'portal' | 'operator', object][] = [
        [`${alice}/two-factor/totp/confirm`, 'portal', { code: '123456', extra: 1 }],
        [`${alice}/challenges/${challengeId}/verify`, 'portal', { code: '123456', extra: 1 }],
        [`${alice}/challenges/${challengeId}/recovery`, 'portal', { recoveryCode: 'abcde-fghij', extra: 1 }],
        [`${alice}/challenges/${challengeId}/resend`, 'portal', { extra: 1 }],
        [`${alice}/challenges`, 'portal', { extra: 1 }],
        [`${alice}/two-factor/totp/setup`, 'portal', { extra: 1 }],
        [`${alice}/two-factor/recovery-codes`, 'portal', { extra: 1 }],
        [`${alice}/two-factor/disable`, 'portal', { confirmation: 'password', extra: 1 }],
        [`${alice}/password-reset`, 'portal', { extra: 1 }],
        [`${alice}/two-factor/reseller-disable`, 'operator', { operatorId: 'ann', extra: 1 }],
        [`${alice}/unlock`, 'operator', { operatorId: 'ann', extra: 1 }],
      ];
      for (const [url, role, payload] of cases) {
        const body = await expectRefused(t, () => t.as(role).post(url, payload), 400, 'validation_failed', errors);
        expect(body.message).toContain('extra');
      }
      expect(await aliceStatus()).toMatchObject({ status: 'Enabled', recoveryCodesRemaining: 10, resetRecommended: false });
    });

    it('codes that are not exactly six ASCII digits are a 400 and cost no attempt', async () => {
      const bad = ['12ab56', '12345', '1234567', '', ' 123456', '123 456', '123456\n', '١٢٣٤٥٦', '+12345', '1e5000'];
      for (const code of bad) {
        await expectRefused(t, () => t.as('portal').post(`${alice}/challenges/${challengeId}/verify`, { code }), 400, 'validation_failed', errors);
        await expectRefused(t, () => t.as('portal').post(`${alice}/two-factor/totp/confirm`, { code }), 400, 'validation_failed', errors);
      }
      // Still three attempts: a real wrong code now costs exactly one.
      const wrong = await t.as('portal').post(`${alice}/challenges/${challengeId}/verify`, { code: wrongTotpCode(secret, t.clock.now().getTime()) }).expect(422);
      expect(wrong.body).toMatchObject({ error: 'invalid_code', attemptsLeft: 2 });
    });

    it('a body that is not JSON is a 415 and appends nothing, even where the body is optional', async () => {
      // "JSON in": a body the JSON parser skips must not be read as "no body" and acted on.
      // (Its own account, so that if this fails the other tests' account is not disturbed.)
      await enableTotp(t, 'portal', 'store-1', 'edge-dave');
      const dave = accountUrl('store-1', 'edge-dave');
      const cases: [string, string, string][] = [
        [`${dave}/two-factor/totp/setup`, 'text/plain', '{"extra":1}'],
        [`${dave}/challenges`, 'text/plain', '{"deviceToken":"x"}'],
        [`${dave}/password-reset`, 'application/x-www-form-urlencoded', 'extra=1'],
        [`${dave}/two-factor/totp/confirm`, 'application/x-www-form-urlencoded', 'code=123456'],
      ];
      const seen: unknown[] = [];
      for (const [url, type, text] of cases) {
        const before = await head(t);
        const response = await bare(t, 'post', url, 'portal').set('Content-Type', type).send(text);
        seen.push({ url: url.slice(dave.length), type, status: response.status, error: response.body.error, appended: (await head(t)) - before });
      }
      expect(seen).toEqual(cases.map(([url, type]) => ({ url: url.slice(dave.length), type, status: 415, error: expect.any(String), appended: 0 })));
    });

    it('an oversized body (> 16kb) is a 413 payload_too_large', async () => {
      const huge = 'x'.repeat(20_000);
      await expectRefused(t, () => t.as('portal').post(`${alice}/two-factor/totp/confirm`, { code: huge }), 413, 'payload_too_large', errors);
      await expectRefused(t, () => t.as('portal').post(`${alice}/challenges/${challengeId}/verify`, { code: '123456', padding: huge }), 413, 'payload_too_large', errors);
      await expectRefused(t, () => t.as('admin').put('/v1/tenants/store-1/policy', { codeTtlMinutes: 15, note: huge }), 413, 'payload_too_large', errors);
      await expectRefused(t, () => t.as('operator').post(`${alice}/two-factor/reseller-disable`, { operatorId: 'ann', reason: huge }), 413, 'payload_too_large', errors);
      // Just under the limit it is an ordinary validation error, so the limit is the documented one.
      await expectRefused(t, () => t.as('portal').post(`${alice}/two-factor/totp/confirm`, { code: 'x'.repeat(15_000) }), 400, 'validation_failed', errors);
      expect(await aliceStatus()).toMatchObject({ status: 'Enabled' });
    });
  });

  describe('ids in paths', () => {
    const long = 'u'.repeat(65);

    it('ids longer than 64 characters are a 400 invalid_id naming the parameter', async () => {
      const cases: [string, 'get' | 'post' | 'put', 'portal' | 'admin', string][] = [
        [`${accountUrl('store-1', long)}/two-factor`, 'get', 'portal', 'userId'],
        [`${accountUrl('store-1', long)}/two-factor/totp/setup`, 'post', 'portal', 'userId'],
        [`${accountUrl('store-1', long)}/challenges`, 'post', 'portal', 'userId'],
        [`${accountUrl('t'.repeat(65), 'edge-alice')}/two-factor/totp/setup`, 'post', 'admin', 'tenantId'],
        [`/v1/tenants/${'t'.repeat(65)}/policy`, 'put', 'admin', 'tenantId'],
        [`${alice}/challenges/${'c'.repeat(65)}/verify`, 'post', 'portal', 'challengeId'],
        [`${alice}/challenges/${'c'.repeat(65)}/recovery`, 'post', 'portal', 'challengeId'],
        [`${alice}/challenges/${'c'.repeat(65)}/resend`, 'post', 'portal', 'challengeId'],
      ];
      for (const [url, method, role, param] of cases) {
        const payload = url.endsWith('/verify') ? { code: '123456' } : url.endsWith('/recovery') ? { recoveryCode: 'abcde-fghij' } : url.endsWith('/policy') ? { codeTtlMinutes: 15 } : {};
        const send = () => (method === 'get' ? t.as(role).get(url) : t.as(role)[method](url, payload));
        const body = await expectRefused(t, send, 400, 'invalid_id', errors);
        expect(body.message).toContain(param);
      }
    });

    it('64 characters is still a valid id', async () => {
      const url = accountUrl('store-1', 'u'.repeat(64));
      const status = await t.as('portal').get(`${url}/two-factor`).expect(200);
      expect(status.body).toMatchObject({ userId: 'u'.repeat(64), status: 'Disabled' });
    });

    it('ids with characters outside [A-Za-z0-9_@.+-] are a 400 invalid_id', async () => {
      for (const id of ['a%20b', 'a|b', 'a%7Cb', 'a%2Fb', 'a%00b', '%C3%A9t%C3%A9', 'a%3Bb', 'a*b', 'a~b', "a'b", 'a%22b']) {
        await expectRefused(t, () => t.as('portal').post(`${accountUrl('store-1', id)}/two-factor/totp/setup`), 400, 'invalid_id', errors);
        await expectRefused(t, () => t.as('portal').get(`${accountUrl('store-1', id)}/two-factor`), 400, 'invalid_id', errors);
        await expectRefused(t, () => t.as('admin').post(`${accountUrl(id, 'edge-alice')}/two-factor/totp/setup`), 400, 'invalid_id', errors);
        await expectRefused(t, () => t.as('portal').post(`${alice}/challenges/${id}/verify`, { code: '123456' }), 400, 'invalid_id', errors);
        await expectRefused(t, () => t.as('admin').put(`/v1/tenants/${id}/policy`, { codeTtlMinutes: 15 }), 400, 'invalid_id', errors);
      }
    });

    it('an id that is not even valid percent-encoding is a 400 invalid_id too', async () => {
      for (const id of ['a%ZZb', '%E0%A4%A', 'a%']) {
        const body = await expectRefused(t, () => t.as('portal').post(`${accountUrl('store-1', id)}/two-factor/totp/setup`), 400, 'invalid_id', errors);
        expect(body.message).toContain('userId');
      }
    });
  });

  describe('challenges', () => {
    it('an unknown challenge id on verify, recovery and resend is a 404 challenge_not_found', async () => {
      for (const account of [alice, fresh]) {
        for (const id of ['no-such-challenge', challengeId.slice(0, -1) + (challengeId.endsWith('A') ? 'B' : 'A')]) {
          await expectRefused(t, () => t.as('portal').post(`${account}/challenges/${id}/verify`, { code: '123456' }), 404, 'challenge_not_found', errors);
          await expectRefused(t, () => t.as('portal').post(`${account}/challenges/${id}/recovery`, { recoveryCode: 'abcde-fghij' }), 404, 'challenge_not_found', errors);
          await expectRefused(t, () => t.as('portal').post(`${account}/challenges/${id}/resend`), 404, 'challenge_not_found', errors);
        }
      }
      // Another account's challenge id is unknown here too.
      await expectRefused(t, () => t.as('portal').post(`${fresh}/challenges/${challengeId}/verify`, { code: '123456' }), 404, 'challenge_not_found', errors);
    });
  });

  describe('account commands', () => {
    it('reseller-disable without a valid operatorId is a 400 and 2FA stays on', async () => {
      for (const payload of [{}, { reason: 'lost phone' }, { operatorId: '' }, { operatorId: 'a b' }, { operatorId: 'o'.repeat(65) }, { operatorId: 'ann', reason: '' }]) {
        await expectRefused(t, () => t.as('operator').post(`${alice}/two-factor/reseller-disable`, payload), 400, 'validation_failed', errors);
      }
      expect(await aliceStatus()).toMatchObject({ status: 'Enabled' });
    });

    it('unlock without an operatorId is a 400', async () => {
      for (const payload of [{}, { operatorId: '' }]) {
        await expectRefused(t, () => t.as('operator').post(`${alice}/unlock`, payload), 400, 'validation_failed', errors);
      }
    });

    it('disable without confirmation:"password" is a 400 and 2FA stays on', async () => {
      for (const payload of [{}, { confirmation: 'yes' }, { confirmation: true }, { confirmation: 'PASSWORD' }, { confirmation: null }]) {
        const body = await expectRefused(t, () => t.as('portal').post(`${alice}/two-factor/disable`, payload), 400, 'validation_failed', errors);
        expect(body.message).toContain('confirmation');
      }
      expect(await aliceStatus()).toMatchObject({ status: 'Enabled', recoveryCodesRemaining: 10 });
    });
  });

  describe('tenant policy', () => {
    const policyUrl = '/v1/tenants/store-3/policy';
    const baseline = { emailOtpRequired: false, codeTtlMinutes: 15, trustedDeviceDays: 7, maxFailedAttempts: 5, lockoutMinutes: 60, resendCooldownSeconds: 45, displayName: 'Store Three', passkeyRpId: null, passkeyOrigins: [] };
    const current = async () => (await t.as('admin').get(policyUrl).expect(200)).body;

    beforeAll(async () => {
      const put = await t.as('admin').put(policyUrl, baseline).expect(200);
      expect(put.body).toMatchObject(baseline);
    });

    it.each([
      ['codeTtlMinutes', 0, 361],
      ['trustedDeviceDays', 0, 366],
      ['maxFailedAttempts', 0, 11],
      ['lockoutMinutes', 0, 1441],
      ['resendCooldownSeconds', -1, 3601],
    ])('%s out of range (%d, %d) is a 400 invalid_policy naming it, and nothing is stored', async (field, low, high) => {
      for (const value of [low, high, low - 1000, high * 1000]) {
        const body = await expectRefused(t, () => t.as('admin').put(policyUrl, { [field]: value }), 400, 'invalid_policy', errors);
        expect(body.field).toBe(field);
        expect(body.message).toContain(field);
      }
      // Out of range next to a valid change: the whole request is refused.
      const other = field === 'codeTtlMinutes' ? { trustedDeviceDays: 9 } : { codeTtlMinutes: 20 };
      const body = await expectRefused(t, () => t.as('admin').put(policyUrl, { ...other, [field]: high }), 400, 'invalid_policy', errors);
      expect(body.field).toBe(field);
      expect(await current()).toEqual({ tenantId: 'store-3', ...baseline });
    });

    it('displayName: empty, padded, too long or with a line break is a 400 invalid_policy naming it, and nothing is stored', async () => {
      for (const value of ['', ' Store ', 'x'.repeat(65), 'Store\nBcc: x@example.com']) {
        const body = await expectRefused(t, () => t.as('admin').put(policyUrl, { displayName: value, codeTtlMinutes: 20 }), 400, 'invalid_policy', errors);
        expect(body.field).toBe('displayName');
      }
      const wrongType = await expectRefused(t, () => t.as('admin').put(policyUrl, { displayName: 7 }), 400, 'validation_failed', errors);
      expect(wrongType.problems).toEqual([expect.objectContaining({ field: 'displayName' })]);
      expect(await current()).toEqual({ tenantId: 'store-3', ...baseline });
    });

    it('the bounds themselves are accepted', async () => {
      const low = { codeTtlMinutes: 1, trustedDeviceDays: 1, maxFailedAttempts: 1, lockoutMinutes: 1, resendCooldownSeconds: 0 };
      const high = { codeTtlMinutes: 360, trustedDeviceDays: 365, maxFailedAttempts: 10, lockoutMinutes: 1440, resendCooldownSeconds: 3600 };
      await t.as('admin').put(policyUrl, low).expect(200);
      expect(await current()).toMatchObject(low);
      await t.as('admin').put(policyUrl, high).expect(200);
      expect(await current()).toMatchObject(high);
      await t.as('admin').put(policyUrl, baseline).expect(200);
      expect(await current()).toEqual({ tenantId: 'store-3', ...baseline });
    });

    it('unknown policy fields are a 400 and nothing is stored', async () => {
      for (const payload of [{ codeTTL: 5 }, { codeTtlMinutes: 20, unknown: 1 }, { tenantId: 'store-1' }, { constructor: 1 }, { policy: { codeTtlMinutes: 20 } }]) {
        const body = await expectRefused(t, () => t.as('admin').put(policyUrl, payload), 400, 'validation_failed', errors);
        expect(body.problems).toBeDefined();
      }
      // `__proto__` cannot be written as an object literal key through supertest; send it raw.
      await expectRefused(t, () => bare(t, 'put', policyUrl, 'admin').set('Content-Type', 'application/json').send('{"__proto__":{"codeTtlMinutes":20}}'), 400, 'validation_failed', errors);
      expect(await current()).toEqual({ tenantId: 'store-3', ...baseline });
    });

    it('wrong types are a 400 naming the field and nothing is stored', async () => {
      const cases: [object, string][] = [
        [{ codeTtlMinutes: '10' }, 'codeTtlMinutes'],
        [{ codeTtlMinutes: 10.5 }, 'codeTtlMinutes'],
        [{ codeTtlMinutes: null }, 'codeTtlMinutes'],
        [{ trustedDeviceDays: [3] }, 'trustedDeviceDays'],
        [{ maxFailedAttempts: true }, 'maxFailedAttempts'],
        [{ lockoutMinutes: { value: 5 } }, 'lockoutMinutes'],
        [{ resendCooldownSeconds: '30' }, 'resendCooldownSeconds'],
        [{ emailOtpRequired: 'true' }, 'emailOtpRequired'],
        [{ emailOtpRequired: 1 }, 'emailOtpRequired'],
      ];
      for (const [payload, field] of cases) {
        const body = await expectRefused(t, () => t.as('admin').put(policyUrl, payload), 400, 'validation_failed', errors);
        expect((body.problems as { field: string }[]).map((p) => p.field)).toContain(field);
      }
      expect(await current()).toEqual({ tenantId: 'store-3', ...baseline });
    });
  });

  describe('query strings', () => {
    it('bad paging parameters on /v1/events and /events are a 400 validation_failed', async () => {
      for (const query of ['limit=0', 'limit=1001', 'limit=abc', 'after=-1', 'after=1.5', 'foo=1']) {
        await expectRefused(t, () => t.as('auditor').get(`/v1/events?${query}`), 400, 'validation_failed', errors);
      }
      for (const query of ['limit=0', 'limit=abc', 'after=-2', 'foo=1']) {
        await expectRefused(t, () => t.as('auditor').get(`${alice}/events?${query}`), 400, 'validation_failed', errors);
        await expectRefused(t, () => t.as('auditor').get(`${alice}/event-log?${query}`), 400, 'validation_failed', errors);
      }
    });
  });

  describe('secrets in errors', () => {
    it('no error body holds a TOTP secret, even when the secret is sent back as input', async () => {
      const carol = accountUrl('store-1', 'edge-carol');
      const setup = await t.as('portal').post(`${carol}/two-factor/totp/setup`).expect(200);
      const pending: string = setup.body.secret;
      const manualKey: string = setup.body.manualKey;
      const mine: unknown[] = [];
      await expectRefused(t, () => t.as('portal').post(`${carol}/two-factor/totp/confirm`, { code: wrongTotpCode(pending, t.clock.now().getTime()) }), 422, 'invalid_code', mine);
      await expectRefused(t, () => t.as('portal').post(`${carol}/two-factor/totp/confirm`, { code: pending }), 400, 'validation_failed', mine);
      await expectRefused(t, () => t.as('portal').post(`${carol}/two-factor/totp/confirm`, { code: '123456', secret: pending }), 400, 'validation_failed', mine);
      await expectRefused(t, () => t.as('portal').post(`${carol}/two-factor/totp/setup`, { email: pending }), 400, 'validation_failed', mine);
      await expectRefused(t, () => t.as('portal').post(`${carol}/challenges/${pending}/verify`, { code: '123456' }), 404, 'challenge_not_found', mine);
      await expectRefused(t, () => t.as('portal').post(`${carol}/challenges/${pending}/recovery`, { recoveryCode: pending.slice(0, 20) }), 404, 'challenge_not_found', mine);
      await expectRefused(t, () => t.as('portal').post(`${carol}/challenges`, { deviceToken: pending, extra: pending }), 400, 'validation_failed', mine);
      await expectRefused(t, () => bare(t, 'post', `${carol}/two-factor/totp/confirm`, 'portal').set('Content-Type', 'application/json').send(`{"code":"${pending}`), 400, 'malformed_json', mine);
      await expectRefused(t, () => t.as('portal').post(`${carol}/two-factor/totp/confirm`, { code: `${pending}${'x'.repeat(20_000)}` }), 413, 'payload_too_large', mine);
      await expectRefused(t, () => t.as('portal').post(`${accountUrl('store-1', `${pending}${pending}x`)}/two-factor/totp/confirm`, { code: '123456' }), 400, 'invalid_id', mine);
      for (const body of [...mine, ...errors]) {
        const text = JSON.stringify(body);
        for (const needle of [pending, manualKey, secret]) {
          expect(text).not.toContain(needle);
          expect(text.toLowerCase()).not.toContain(needle.toLowerCase());
        }
      }
      expect(errors.length).toBeGreaterThan(50);
    });
  });

  describe('operations', () => {
    it('GET /health/live is 200', async () => {
      const live = await t.http.get('/health/live').expect(200);
      expect(live.body).toMatchObject({ status: 'ok' });
    });

    it('GET /health/ready is 200 with status ok', async () => {
      const ready = await t.http.get('/health/ready').expect(200);
      expect(ready.body.status).toBe('ok');
    });

    it('a 401 says how to authenticate (WWW-Authenticate: Bearer)', async () => {
      const unauthorised = await bare(t, 'get', `${alice}/two-factor`).expect(401);
      expect(unauthorised.headers['www-authenticate']).toBe('Bearer');
      const unknownKey = await t.http.get(`${alice}/two-factor`).set('Authorization', 'Bearer not-a-key-of-ours-00000000000000').expect(401);
      expect(unknownKey.headers['www-authenticate']).toBe('Bearer');
    });

    it('API answers are never cached: setup, confirm, recovery codes, verify and refusals carry Cache-Control: no-store', async () => {
      const url = accountUrl('store-1', 'edge-cache-carol');
      const setup = await t.as('portal').post(`${url}/two-factor/totp/setup`).expect(200);
      expect(setup.headers['cache-control']).toBe('no-store');
      const confirm = await t.as('portal').post(`${url}/two-factor/totp/confirm`, { code: totpCodeAt(setup.body.secret as string, t.clock.now().getTime()) }).expect(200);
      expect(confirm.headers['cache-control']).toBe('no-store');
      expect((await t.as('portal').post(`${url}/two-factor/recovery-codes`).expect(200)).headers['cache-control']).toBe('no-store');
      expect((await bare(t, 'get', `${url}/two-factor`).expect(401)).headers['cache-control']).toBe('no-store');
      expect((await t.http.get('/health/live').expect(200)).headers['cache-control']).toBeUndefined();
    });

    it('a wrong method on a known route is a 405 with Allow; an unknown route stays a 404', async () => {
      const put = await t.as('portal').put(`${alice}/challenges`, {}).expect(405);
      expect(put.body).toMatchObject({ error: 'method_not_allowed' });
      expect(put.headers.allow).toBe('POST');
      expect((await t.http.delete('/health/live').expect(405)).headers.allow).toBe('GET, HEAD');
      expect((await t.http.get('/v1/nothing-here').expect(404)).body).toMatchObject({ error: 'not_found' });
    });

    it('a 423 says when to come back (Retry-After: seconds until the lock ends)', async () => {
      const { secret: daveSecret } = await enableTotp(t, 'portal', 'store-1', 'edge-locked-dave');
      const dave = accountUrl('store-1', 'edge-locked-dave');
      const challenge = await t.as('portal').post(`${dave}/challenges`, {}).expect(200);
      let last = await t.as('portal').post(`${dave}/challenges/${challenge.body.challengeId as string}/verify`, { code: wrongTotpCode(daveSecret, t.clock.now().getTime()) });
      for (let i = 0; i < 10 && last.status === 422; i++) {
        last = await t.as('portal').post(`${dave}/challenges/${challenge.body.challengeId as string}/verify`, { code: wrongTotpCode(daveSecret, t.clock.now().getTime()) });
      }
      const locked = await t.as('portal').post(`${dave}/challenges`, {}).expect(423);
      const lockedFor = (Date.parse(locked.body.lockedUntil as string) - t.clock.now().getTime()) / 1000;
      expect(Number(locked.headers['retry-after'])).toBe(Math.ceil(lockedFor));
      expect(lockedFor).toBeGreaterThan(60);
    });

    it('/metrics counts 2FA itself: challenges by method and outcome, verifications by outcome, locks, recovery codes, policy changes', async () => {
      const { secret: erinSecret, recoveryCodes } = await enableTotp(t, 'portal', 'store-1', 'edge-metrics-erin');
      const erin = accountUrl('store-1', 'edge-metrics-erin');
      const login = await t.as('portal').post(`${erin}/challenges`, {}).expect(200);
      await t.as('portal').post(`${erin}/challenges/${login.body.challengeId as string}/verify`, { code: wrongTotpCode(erinSecret, t.clock.now().getTime()) }).expect(422);
      await t.as('portal').post(`${erin}/challenges/${login.body.challengeId as string}/verify`, { code: totpCodeAt(erinSecret, t.clock.now().getTime()) }).expect(200);
      const again = await t.as('portal').post(`${erin}/challenges`, {}).expect(200);
      await t.as('portal').post(`${erin}/challenges/${again.body.challengeId as string}/recovery`, { recoveryCode: recoveryCodes[0] }).expect(200);
      await t.as('portal').post(`${accountUrl('store-1', 'edge-metrics-nobody')}/challenges`, {}).expect(200); // not enrolled
      await t.as('admin').put('/v1/tenants/store-metrics/policy', { lockoutMinutes: 30 }).expect(200);

      const { text } = await t.http.get('/metrics').expect(200);
      const value = (line: string) => Number(new RegExp(`^${line.replace(/[{}]/g, '\\$&')} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
      expect(value('twostep_challenges_started_total{method="totp",outcome="required"}')).toBeGreaterThanOrEqual(2);
      expect(value('twostep_challenges_started_total{method="none",outcome="not_enrolled"}')).toBeGreaterThanOrEqual(1);
      expect(value('twostep_verifications_total{method="totp",outcome="passed"}')).toBeGreaterThanOrEqual(1);
      expect(value('twostep_verifications_total{method="totp",outcome="invalid"}')).toBeGreaterThanOrEqual(1);
      expect(value('twostep_verifications_total{method="recovery",outcome="passed"}')).toBeGreaterThanOrEqual(1);
      expect(value('twostep_recovery_codes_used_total')).toBeGreaterThanOrEqual(1);
      expect(value('twostep_account_locks_total')).toBeGreaterThanOrEqual(1); // dave, above
      expect(value('twostep_verifications_total{method="totp",outcome="locked"}') + value('twostep_challenges_started_total{method="none",outcome="locked"}')).toBeGreaterThanOrEqual(1);
      expect(value('twostep_policy_changes_total')).toBeGreaterThanOrEqual(1);
    });

    it('GET /metrics is Prometheus text with the request-duration histogram', async () => {
      await t.http.get('/health/live').expect(200);
      const metrics = await t.http.get('/metrics').expect(200);
      expect(metrics.headers['content-type']).toMatch(/^text\/plain/);
      expect(metrics.text).toContain('# TYPE twostep_http_request_duration_seconds histogram');
      expect(metrics.text).toMatch(/^twostep_http_request_duration_seconds_bucket\{/m);
      expect(metrics.text).toMatch(/^twostep_http_request_duration_seconds_count\{[^}]*\} [1-9]/m);
    });

    it('labels a refusal from a handler with the status it sent and its route, and counts it under its code', async () => {
      const bob = accountUrl('store-1', 'edge-metrics-bob');
      await t.as('portal').post(`${bob}/two-factor/totp/setup`, {}).expect(200);
      await t.as('portal').post(`${bob}/two-factor/totp/confirm`, { code: '000000' }).expect(422);
      const { text } = await t.http.get('/metrics').expect(200);
      const route = '/v1/tenants/:tenantId/accounts/:userId/two-factor/totp/confirm';
      expect(text).toMatch(new RegExp(`^twostep_http_request_duration_seconds_count\\{method="POST",route="${route}",status="422"\\} [1-9]`, 'm'));
      expect(text).not.toMatch(new RegExp(`route="${route}",status="500"`));
      expect(text).toMatch(/^twostep_http_errors_total\{error="invalid_code"\} [1-9]/m);
    });

    it('GET /docs-json is an OpenAPI document with the routes', async () => {
      const docs = await t.http.get('/docs-json').expect(200);
      expect(docs.body.openapi).toMatch(/^3\./);
      const paths = Object.keys(docs.body.paths as Record<string, unknown>);
      expect(paths).toEqual(
        expect.arrayContaining([
          '/v1/tenants/{tenantId}/accounts/{userId}/challenges/{challengeId}/verify',
          '/v1/events',
          '/v1/tenants/{tenantId}/policy',
          '/v1/tenants/{tenantId}/accounts/{userId}/two-factor/totp/setup',
        ]),
      );
    });

    it('an unknown route is a 404 JSON error', async () => {
      await expectRefused(t, () => t.http.get('/v1/nope'), 404, 'not_found', errors);
      await expectRefused(t, () => t.as('admin').get('/v1/tenants/store-1/nope'), 404, 'not_found', errors);
      await expectRefused(t, () => t.as('portal').post(`${alice}/two-factor/totp/enable`, {}), 404, 'not_found', errors);
      await expectRefused(t, () => t.as('admin').get('/'), 404, 'not_found', errors);
      // A known path with a method it does not have: 405 (below).
      await expectRefused(t, () => t.http.delete('/v1/tenants/store-1/policy').set('Authorization', `Bearer ${KEYS.admin}`), 405, 'method_not_allowed', errors);
    });
  });

  it('none of the refused requests appended anything (head check is meaningful)', async () => {
    // Sanity check of the head check itself: an accepted command does move the head.
    const before = await head(t);
    await t.as('portal').post(`${alice}/password-reset`, {}).expect(200);
    expect(await head(t)).toBeGreaterThan(before);
  });
});
