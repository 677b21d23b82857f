import jsQR from 'jsqr';
import { PNG } from 'pngjs';
import { totpCodeAt } from '@twostep/crypto';
import type { TwostepClient } from '@twostep/client';
import { expectOk, expectRefusal } from '../support/client-answers';
import { readAllFiles, startTestApp, type TestApp } from '../support/harness';

/** The authenticator-app seed end to end over HTTP on the embedded runtime, driven through @twostep/client. */
describe('authenticator app 2FA over HTTP', () => {
  let t: TestApp;
  let portal: TwostepClient;
  let operator: TwostepClient;
  const alice = { tenantId: 'store-1', userId: 'alice' };

  beforeAll(async () => {
    t = await startTestApp();
    portal = await t.client('portal');
    operator = await t.client('operator');
    // Start in the middle of a TOTP step so "next code" is unambiguous.
    t.clock.set(new Date(Math.floor(Date.now() / 30_000) * 30_000 + 15_000));
  });
  afterAll(() => t.close());

  const codeNow = (secret: string) => totpCodeAt(secret, t.clock.now().getTime());
  /** A new login for alice that must ask for the second step; returns the challenge to verify. */
  async function challenge() {
    const started = expectOk(await portal.startChallenge(alice, {}));
    expect(started).toMatchObject({ required: true, method: 'totp' });
    if (!started.required) throw new Error('a challenge was expected');
    return { ...alice, challengeId: started.challengeId };
  }
  let secret = '';
  let recoveryCodes: string[] = [];

  it('setup shows a QR code that decodes to the otpauth URI and a grouped manual key', async () => {
    const { otpauthUri, manualKey, qrCode, ...rest } = expectOk(await portal.setupTotp(alice));
    secret = rest.secret;
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
    expect(expectOk(await portal.getStatus(alice))).toMatchObject({ status: 'Disabled', setupPending: true });
    const wrong = expectRefusal(await portal.confirmTotp(alice, { code: '000000' === codeNow(secret) ? '111111' : '000000' }), 422);
    expect(wrong.error).toBe('invalid_code');
  });

  it('confirm enables 2FA and shows exactly 10 single-use recovery codes', async () => {
    recoveryCodes = expectOk(await portal.confirmTotp(alice, { code: codeNow(secret) })).recoveryCodes;
    expect(recoveryCodes).toHaveLength(10);
    expect(new Set(recoveryCodes).size).toBe(10);
    expect(expectOk(await portal.getStatus(alice))).toMatchObject({ status: 'Enabled', method: 'totp', recoveryCodesRemaining: 10, resetRecommended: false });
  });

  it('a login refuses the code already used and accepts the next one', async () => {
    const login = await challenge();
    const reused = expectRefusal(await portal.verifyChallenge(login, { code: codeNow(secret) }), 422);
    expect(reused).toMatchObject({ error: 'invalid_code', attemptsLeft: 2, message: 'Invalid authentication code, 2 attempts left to login.', reason: 'code_already_used' });
    expect(reused.hint).toBe('This code was already used (confirming setup uses up the current one): wait for the next code from your authenticator app.');
    t.clock.advance(30_000);
    expect(expectOk(await portal.verifyChallenge(login, { code: codeNow(secret) })).verified).toBe(true);
    // The same step again, on a new challenge: a replay.
    const again = await challenge();
    const replay = expectRefusal(await portal.verifyChallenge(again, { code: codeNow(secret) }), 422);
    expect(replay.reason).toBe('code_already_used');
    expect(replay.hint).toMatch(/wait for the next code/);
  });

  it('accepts a code from the previous step (clock drift) but not from two steps back', async () => {
    t.clock.advance(90_000);
    const previous = totpCodeAt(secret, t.clock.now().getTime() - 30_000);
    expectOk(await portal.verifyChallenge(await challenge(), { code: previous }));
    t.clock.advance(90_000);
    const tooOld = totpCodeAt(secret, t.clock.now().getTime() - 60_000);
    const next = await challenge();
    // (A 2-steps-old code equals a current one about 3 times in a million; that would fail here.)
    expectRefusal(await portal.verifyChallenge(next, { code: tooOld }), 422);
  });

  it('a recovery code logs in once, keeps 2FA on and recommends a reset', async () => {
    const used = expectOk(await portal.useRecoveryCode(await challenge(), { recoveryCode: recoveryCodes[0]!.toUpperCase() }));
    expect(used).toEqual({ verified: true, recoveryCodesRemaining: 9, resetRecommended: true });
    expect(expectOk(await portal.getStatus(alice))).toMatchObject({ status: 'Enabled', recoveryCodesRemaining: 9, resetRecommended: true });
    const next = await challenge(); // still required
    const reuse = expectRefusal(await portal.useRecoveryCode(next, { recoveryCode: recoveryCodes[0]! }), 422);
    expect(reuse.error).toBe('invalid_code');
  });

  it('regenerating codes clears "reset recommended" and invalidates the old codes', async () => {
    const fresh = expectOk(await portal.regenerateRecoveryCodes(alice)).recoveryCodes;
    expect(fresh).toHaveLength(10);
    expect(expectOk(await portal.getStatus(alice))).toMatchObject({ recoveryCodesRemaining: 10, resetRecommended: false });
    const login = await challenge();
    expectRefusal(await portal.useRecoveryCode(login, { recoveryCode: recoveryCodes[1]! }), 422);
    expectOk(await portal.useRecoveryCode(login, { recoveryCode: fresh[0]! }));
    recoveryCodes = fresh;
  });

  it('a reseller disables 2FA once, sees Enabled/Disabled only, and the event log names them', async () => {
    expect(expectOk(await operator.getStatus(alice))).toEqual({ tenantId: 'store-1', userId: 'alice', status: 'Enabled', lockedUntil: null });
    expectOk(await operator.resellerDisable(alice, { operatorId: 'reseller-ann', reason: 'lost phone' }));
    const again = expectRefusal(await operator.resellerDisable(alice, { operatorId: 'reseller-ann' }), 409);
    expect(again.error).toBe('not_enabled');
    const log = expectOk(await operator.getAccountEventLog(alice));
    const entry = log.entries.find((e) => e.what.includes('disabled by reseller'));
    expect(entry).toMatchObject({ what: '2FA disabled by reseller reseller-ann (reason: lost phone)', actor: { kind: 'operator', id: 'reseller-ann' } });
    expect(expectOk(await portal.startChallenge(alice, {}))).toEqual({ required: false, reason: 'not_enrolled' });
    // With no second step left, a password reset says so rather than promising 2FA.
    expect(expectOk(await portal.recordPasswordReset(alice))).toEqual({ recorded: true, twoFactorRequiredAtNextLogin: false });
  });

  it('re-enabling starts from scratch with a new secret', async () => {
    const setup = expectOk(await portal.setupTotp(alice));
    expect(setup.secret).not.toBe(secret);
    t.clock.advance(30_000);
    expectRefusal(await portal.confirmTotp(alice, { code: codeNow(secret) === codeNow(setup.secret) ? '999999' : codeNow(secret) }), 422);
    expectOk(await portal.confirmTotp(alice, { code: codeNow(setup.secret) }));
    expectOk(await portal.disableTwoFactor(alice));
    expect(expectOk(await portal.getStatus(alice))).toMatchObject({ status: 'Disabled', recoveryCodesRemaining: 0 });
    secret = setup.secret;
  });

  it('no secret or recovery code is stored in the clear in the data directory', async () => {
    const everything = readAllFiles(t.dataDir).toString('latin1');
    expect(everything.length).toBeGreaterThan(0);
    expect(everything).not.toContain(secret);
    for (const code of recoveryCodes) expect(everything).not.toContain(code);
  });
});
