import jsQR from 'jsqr';
import { PNG } from 'pngjs';
import { totpCodeAt } from '@twostep/crypto';
import { accountUrl, readAllFiles, startTestApp, type TestApp } from '../support/harness';

/** The authenticator-app seed end to end over HTTP on the embedded runtime. */
describe('authenticator app 2FA over HTTP', () => {
  let t: TestApp;
  const url = accountUrl('store-1', 'alice');

  beforeAll(async () => {
    t = await startTestApp();
    // Start in the middle of a TOTP step so "next code" is unambiguous.
    t.clock.set(new Date(Math.floor(Date.now() / 30_000) * 30_000 + 15_000));
  });
  afterAll(() => t.close());

  const codeNow = (secret: string) => totpCodeAt(secret, t.clock.now().getTime());
  let secret = '';
  let recoveryCodes: string[] = [];

  it('setup shows a QR code that decodes to the otpauth URI and a grouped manual key', async () => {
    const response = await t.as('portal').post(`${url}/two-factor/totp/setup`).expect(200);
    const { otpauthUri, manualKey, qrCode } = response.body as { otpauthUri: string; manualKey: string; qrCode: string };
    secret = response.body.secret;
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(manualKey.replace(/ /g, '')).toBe(secret);
    expect(manualKey).toMatch(/^([A-Z2-7]{4} )+[A-Z2-7]{1,4}$/);
    const uri = new URL(otpauthUri);
    expect(uri.protocol).toBe('otpauth:');
    expect(uri.searchParams.get('secret')).toBe(secret);
    expect(uri.searchParams.get('period')).toBe('30');
    const png = PNG.sync.read(Buffer.from(qrCode.replace(/^data:image\/png;base64,/, ''), 'base64'));
    expect(jsQR(new Uint8ClampedArray(png.data), png.width, png.height)?.data).toBe(otpauthUri);
  });

  it('2FA is not active until a code confirms it', async () => {
    const status = await t.as('portal').get(`${url}/two-factor`).expect(200);
    expect(status.body).toMatchObject({ status: 'Disabled', setupPending: true });
    const wrong = await t.as('portal').post(`${url}/two-factor/totp/confirm`, { code: '000000' === codeNow(secret) ? '111111' : '000000' }).expect(422);
    expect(wrong.body.error).toBe('invalid_code');
  });

  it('confirm enables 2FA and shows exactly 10 single-use recovery codes', async () => {
    const response = await t.as('portal').post(`${url}/two-factor/totp/confirm`, { code: codeNow(secret) }).expect(200);
    recoveryCodes = response.body.recoveryCodes;
    expect(recoveryCodes).toHaveLength(10);
    expect(new Set(recoveryCodes).size).toBe(10);
    const status = await t.as('portal').get(`${url}/two-factor`).expect(200);
    expect(status.body).toMatchObject({ status: 'Enabled', method: 'totp', recoveryCodesRemaining: 10, resetRecommended: false });
  });

  it('a login refuses the code already used and accepts the next one', async () => {
    const challenge = await t.as('portal').post(`${url}/challenges`, {}).expect(200);
    expect(challenge.body).toMatchObject({ required: true, method: 'totp' });
    const id = challenge.body.challengeId as string;
    const reused = await t.as('portal').post(`${url}/challenges/${id}/verify`, { code: codeNow(secret) }).expect(422);
    expect(reused.body).toMatchObject({ error: 'invalid_code', attemptsLeft: 2, message: 'Invalid authentication code, 2 attempts left to login.', reason: 'code_already_used' });
    expect(reused.body.hint).toBe('This code was already used (confirming setup uses up the current one): wait for the next code from your authenticator app.');
    t.clock.advance(30_000);
    const ok = await t.as('portal').post(`${url}/challenges/${id}/verify`, { code: codeNow(secret) }).expect(200);
    expect(ok.body.verified).toBe(true);
    // The same step again, on a new challenge: a replay.
    const again = await t.as('portal').post(`${url}/challenges`, {}).expect(200);
    const replay = await t.as('portal').post(`${url}/challenges/${again.body.challengeId}/verify`, { code: codeNow(secret) }).expect(422);
    expect(replay.body.reason).toBe('code_already_used');
    expect(replay.body.hint).toMatch(/wait for the next code/);
  });

  it('accepts a code from the previous step (clock drift) but not from two steps back', async () => {
    t.clock.advance(90_000);
    const previous = totpCodeAt(secret, t.clock.now().getTime() - 30_000);
    const challenge = await t.as('portal').post(`${url}/challenges`, {}).expect(200);
    await t.as('portal').post(`${url}/challenges/${challenge.body.challengeId}/verify`, { code: previous }).expect(200);
    t.clock.advance(90_000);
    const tooOld = totpCodeAt(secret, t.clock.now().getTime() - 60_000);
    const next = await t.as('portal').post(`${url}/challenges`, {}).expect(200);
    // (A 2-steps-old code equals a current one about 3 times in a million; that would fail here.)
    await t.as('portal').post(`${url}/challenges/${next.body.challengeId}/verify`, { code: tooOld }).expect(422);
  });

  it('a recovery code logs in once, keeps 2FA on and recommends a reset', async () => {
    const challenge = await t.as('portal').post(`${url}/challenges`, {}).expect(200);
    const used = await t.as('portal').post(`${url}/challenges/${challenge.body.challengeId}/recovery`, { recoveryCode: recoveryCodes[0]!.toUpperCase() }).expect(200);
    expect(used.body).toEqual({ verified: true, recoveryCodesRemaining: 9, resetRecommended: true });
    const status = await t.as('portal').get(`${url}/two-factor`).expect(200);
    expect(status.body).toMatchObject({ status: 'Enabled', recoveryCodesRemaining: 9, resetRecommended: true });
    const next = await t.as('portal').post(`${url}/challenges`, {}).expect(200);
    expect(next.body.required).toBe(true);
    const reuse = await t.as('portal').post(`${url}/challenges/${next.body.challengeId}/recovery`, { recoveryCode: recoveryCodes[0] }).expect(422);
    expect(reuse.body.error).toBe('invalid_code');
  });

  it('regenerating codes clears "reset recommended" and invalidates the old codes', async () => {
    const fresh = await t.as('portal').post(`${url}/two-factor/recovery-codes`, {}).expect(200);
    expect(fresh.body.recoveryCodes).toHaveLength(10);
    const status = await t.as('portal').get(`${url}/two-factor`).expect(200);
    expect(status.body).toMatchObject({ recoveryCodesRemaining: 10, resetRecommended: false });
    const challenge = await t.as('portal').post(`${url}/challenges`, {}).expect(200);
    await t.as('portal').post(`${url}/challenges/${challenge.body.challengeId}/recovery`, { recoveryCode: recoveryCodes[1] }).expect(422);
    await t.as('portal').post(`${url}/challenges/${challenge.body.challengeId}/recovery`, { recoveryCode: fresh.body.recoveryCodes[0] }).expect(200);
    recoveryCodes = fresh.body.recoveryCodes;
  });

  it('a reseller disables 2FA once, sees Enabled/Disabled only, and the event log names them', async () => {
    const seen = await t.as('operator').get(`${url}/two-factor`).expect(200);
    expect(seen.body).toEqual({ tenantId: 'store-1', userId: 'alice', status: 'Enabled', lockedUntil: null });
    await t.as('operator').post(`${url}/two-factor/reseller-disable`, { operatorId: 'reseller-ann', reason: 'lost phone' }).expect(200);
    const again = await t.as('operator').post(`${url}/two-factor/reseller-disable`, { operatorId: 'reseller-ann' }).expect(409);
    expect(again.body.error).toBe('not_enabled');
    const log = await t.as('operator').get(`${url}/event-log`).expect(200);
    const entry = (log.body.entries as { what: string; actor: { kind: string; id?: string } }[]).find((e) => e.what.includes('disabled by reseller'));
    expect(entry).toMatchObject({ what: '2FA disabled by reseller reseller-ann (reason: lost phone)', actor: { kind: 'operator', id: 'reseller-ann' } });
    const challenge = await t.as('portal').post(`${url}/challenges`, {}).expect(200);
    expect(challenge.body).toEqual({ required: false, reason: 'not_enrolled' });
    // With no second step left, a password reset says so rather than promising 2FA.
    const reset = await t.as('portal').post(`${url}/password-reset`, {}).expect(200);
    expect(reset.body).toEqual({ recorded: true, twoFactorRequiredAtNextLogin: false });
  });

  it('re-enabling starts from scratch with a new secret', async () => {
    const setup = await t.as('portal').post(`${url}/two-factor/totp/setup`).expect(200);
    expect(setup.body.secret).not.toBe(secret);
    t.clock.advance(30_000);
    await t.as('portal').post(`${url}/two-factor/totp/confirm`, { code: codeNow(secret) === codeNow(setup.body.secret) ? '999999' : codeNow(secret) }).expect(422);
    await t.as('portal').post(`${url}/two-factor/totp/confirm`, { code: codeNow(setup.body.secret) }).expect(200);
    await t.as('portal').post(`${url}/two-factor/disable`, { confirmation: 'password' }).expect(200);
    const status = await t.as('portal').get(`${url}/two-factor`).expect(200);
    expect(status.body).toMatchObject({ status: 'Disabled', recoveryCodesRemaining: 0 });
    secret = setup.body.secret;
  });

  it('no secret or recovery code is stored in the clear in the data directory', async () => {
    const everything = readAllFiles(t.dataDir).toString('latin1');
    expect(everything.length).toBeGreaterThan(0);
    expect(everything).not.toContain(secret);
    for (const code of recoveryCodes) expect(everything).not.toContain(code);
  });
});
