import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as os from 'node:os';
import { totpCodeAt } from '@twostep/crypto';
import { twostepClient, type TwostepClient } from '@twostep/client';
import { wrongTotpCode } from '../support/edge-helpers';
import { KEYS, startTestApp, type TestApp } from '../support/harness';

/** @twostep/client against a listening twostep: typed results, errors as values with their codes. */
const ROOT = path.resolve(__dirname, '../..');

describe('@twostep/client', () => {
  let t: TestApp;
  let baseUrl: string;
  let portal: TwostepClient;
  let operator: TwostepClient;
  let admin: TwostepClient;

  beforeAll(async () => {
    t = await startTestApp();
    await t.app.listen(0, '127.0.0.1');
    const { port } = t.app.getHttpServer().address() as { port: number };
    baseUrl = `http://127.0.0.1:${port}`;
    portal = twostepClient({ baseUrl, apiKey: KEYS.portal });
    operator = twostepClient({ baseUrl, apiKey: KEYS.operator });
    admin = twostepClient({ baseUrl, apiKey: KEYS.admin });
  });
  afterAll(() => t.close());

  it('walks the authenticator-app seed: set up, confirm, log in, reseller disable', async () => {
    const carol = { tenantId: 'store-1', userId: 'client-carol' };
    const setup = await portal.setupTotp(carol);
    if (!setup.ok) throw new Error(setup.error.message);
    expect(setup.data.otpauthUri).toMatch(/^otpauth:\/\/totp\//);
    const secret = setup.data.secret;

    const confirmed = await portal.confirmTotp(carol, { code: totpCodeAt(secret, t.clock.now().getTime()) });
    expect(confirmed).toMatchObject({ ok: true, status: 200, data: { status: 'Enabled', method: 'totp' } });
    t.clock.advance(30_000); // confirming used up this step

    const started = await portal.startChallenge(carol);
    if (!started.ok || !started.data.required) throw new Error('a challenge was expected');
    const challenge = { ...carol, challengeId: started.data.challengeId };
    const wrong = await portal.verifyChallenge(challenge, { code: wrongTotpCode(secret, t.clock.now().getTime()) });
    expect(wrong).toMatchObject({ ok: false, status: 422, error: { error: 'invalid_code', attemptsLeft: expect.any(Number), status: 422 } });
    const verified = await portal.verifyChallenge(challenge, { code: totpCodeAt(secret, t.clock.now().getTime()), rememberDevice: true });
    if (!verified.ok) throw new Error(verified.error.message);
    expect(verified.data.deviceToken).toEqual(expect.any(String));

    const disabled = await operator.resellerDisable(carol, { operatorId: 'reseller-ann', reason: 'lost phone' });
    expect(disabled).toMatchObject({ ok: true, data: { status: 'Disabled' } });
    const again = await operator.resellerDisable(carol, { operatorId: 'reseller-ann' });
    expect(again).toMatchObject({ ok: false, status: 409, error: { error: 'not_enabled' } });
    expect(await operator.getStatus(carol)).toMatchObject({ ok: true, data: { status: 'Disabled', lockedUntil: null } });
  });

  it('lists remembered devices and revokes one (listTrustedDevices, revokeTrustedDevice)', async () => {
    const dora = { tenantId: 'store-1', userId: 'client-dora' };
    const setup = await portal.setupTotp(dora);
    if (!setup.ok) throw new Error(setup.error.message);
    const secret = setup.data.secret;
    await portal.confirmTotp(dora, { code: totpCodeAt(secret, t.clock.now().getTime()) });
    const remembered: string[] = [];
    for (const deviceLabel of ['Firefox on Linux', 'Safari on iPhone']) {
      t.clock.advance(30_000);
      const started = await portal.startChallenge(dora);
      if (!started.ok || !started.data.required) throw new Error('a challenge was expected');
      const verified = await portal.verifyChallenge({ ...dora, challengeId: started.data.challengeId }, { code: totpCodeAt(secret, t.clock.now().getTime()), rememberDevice: true, deviceLabel });
      if (!verified.ok || !verified.data.deviceId) throw new Error('a remembered device was expected');
      remembered.push(verified.data.deviceId);
    }
    const listed = await operator.listTrustedDevices(dora);
    if (!listed.ok) throw new Error(listed.error.message);
    expect(listed.data.devices.map((device) => [device.deviceId, device.label])).toEqual([
      [remembered[0], 'Firefox on Linux'],
      [remembered[1], 'Safari on iPhone'],
    ]);

    expect(await portal.revokeTrustedDevice({ ...dora, deviceId: remembered[0]! })).toEqual({ ok: true, status: 200, data: { revoked: true, deviceId: remembered[0] } });
    expect(await operator.revokeTrustedDevice({ ...dora, deviceId: remembered[0]! }, { operatorId: 'reseller-ann' })).toMatchObject({ ok: false, status: 404, error: { error: 'device_not_found' } });
    expect(await operator.revokeTrustedDevice({ ...dora, deviceId: remembered[1]! }, { operatorId: 'reseller-ann' })).toMatchObject({ ok: true, data: { revoked: true } });
    expect(await portal.listTrustedDevices(dora)).toMatchObject({ ok: true, data: { devices: [] } });
  });

  it('answers refusals as values: a wrong role, an out-of-range setting, an unknown key', async () => {
    expect(await portal.getPolicy('store-1')).toMatchObject({ ok: false, status: 403, error: { error: 'forbidden_role' } });
    expect(await admin.updatePolicy('store-1', { codeTtlMinutes: 0 })).toMatchObject({ ok: false, status: 400, error: { error: 'invalid_policy', field: 'codeTtlMinutes' } });
    const stranger = twostepClient({ baseUrl, apiKey: 'ts_not_a_key_of_this_service_00' });
    expect(await stranger.getStatus({ tenantId: 'store-1', userId: 'x' })).toMatchObject({ ok: false, status: 401, error: { error: 'unauthorized' } });
    // An account twostep has never seen: Disabled, and no time of a last change.
    expect(await portal.getStatus({ tenantId: 'store-1', userId: 'client-nobody' })).toMatchObject({ ok: true, data: { status: 'Disabled', updatedAt: null } });
    const policy = await admin.getPolicy('store-1');
    expect(policy).toMatchObject({ ok: true, data: { tenantId: 'store-1', codeTtlMinutes: expect.any(Number) } });
  });

  it('its types are what openapi-typescript makes of the served document, and a strict consumer compiles against them', async () => {
    const served = (await t.http.get('/docs-json').expect(200)).text;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twostep-client-'));
    try {
      fs.writeFileSync(path.join(dir, 'served.json'), served);
      const cli = spawnSync(process.execPath, [path.join(ROOT, 'node_modules/openapi-typescript/bin/cli.js'), path.join(dir, 'served.json'), '-o', path.join(dir, 'schema.ts')], { encoding: 'utf8', timeout: 60_000 });
      expect(cli.status).toBe(0);
      // Run `npm run openapi` after changing a route: it regenerates openapi.json and these types.
      expect(fs.readFileSync(path.join(dir, 'schema.ts'), 'utf8')).toBe(fs.readFileSync(path.join(ROOT, 'libs/client/src/schema.ts'), 'utf8'));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }

    const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(ROOT, 'test/client/tsconfig.json')], { encoding: 'utf8', timeout: 120_000 });
    expect(tsc.stdout + tsc.stderr).toBe('');
    expect(tsc.status).toBe(0);
  });
});
