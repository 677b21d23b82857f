import { generateKeyPairSync } from 'node:crypto';
import type { TwostepClient } from '@twostep/client';
import { accountStream } from '@twostep/domain';
import { expectOk, type Answer, type ErrorOf } from '../support/client-answers';
import { enableTotp, expectRefused, head, midStep } from '../support/edge-helpers';
import { accountUrl, readAllFiles, startTestApp, type TestApp } from '../support/harness';
import { SoftAuthenticator } from '../support/soft-authenticator';

/**
 * Passkeys over HTTP on the embedded runtime, with a software authenticator (the browser suite,
 * test/web/passkeys, does the same with Chromium's): the relying party in the policy, the
 * refusals before and after the ceremony, the sign counter, the shared lock, removal and
 * disable. Driven through @twostep/client; each test has its own account.
 */
describe('passkeys over HTTP', () => {
  let t: TestApp;
  let portal: TwostepClient;
  let operator: TwostepClient;
  let admin: TwostepClient;
  const ORIGIN = 'https://shop.example.com';
  const RP_ID = 'shop.example.com';

  beforeAll(async () => {
    t = await startTestApp();
    portal = await t.client('portal');
    operator = await t.client('operator');
    admin = await t.client('admin');
    midStep(t);
    expectOk(await admin.updatePolicy('store-1', { passkeyRpId: RP_ID, passkeyOrigins: [ORIGIN] }));
  });
  afterAll(() => t.close());

  /** A refused call: the status and code, and nothing appended. */
  async function refused<R extends Answer>(send: () => Promise<R>, status: number, error: string): Promise<ErrorOf<R>> {
    const before = await head(t);
    const answer = await send();
    expect({ status: answer.status, error: (answer.error as { error?: string } | undefined)?.error }).toEqual({ status, error });
    expect(await head(t)).toBe(before);
    return answer.error as ErrorOf<R>;
  }

  /** An account with the app confirmed and one passkey from `authenticator`. */
  async function withPasskey(userId: string, authenticator = new SoftAuthenticator(ORIGIN, RP_ID), name = 'Laptop') {
    const account = { tenantId: 'store-1', userId };
    const { secret, recoveryCodes } = await enableTotp(t, 'portal', 'store-1', userId);
    const { registrationId, options } = expectOk(await portal.passkeyRegistrationOptions(account));
    const added = expectOk(await portal.registerPasskey(account, { registrationId, name, response: authenticator.create(options) }));
    return { account, authenticator, secret, recoveryCodes, passkeyId: added.passkeyId };
  }

  async function challenge(account: { tenantId: string; userId: string }) {
    const started = expectOk(await portal.startChallenge(account, {}));
    if (!started.required) throw new Error('a challenge was expected');
    const ref = { ...account, challengeId: started.challengeId };
    return { ref, started, options: expectOk(await portal.passkeyAssertionOptions(ref)).options };
  }

  it('registration: options name the tenant relying party, the answer adds a named passkey listed without its key', async () => {
    const { account, passkeyId } = await withPasskey('pk-alice');
    const list = expectOk(await portal.listPasskeys(account));
    expect(list.passkeys).toEqual([{ passkeyId, name: 'Laptop', createdAt: expect.any(String), lastUsedAt: null }]);
    const status = expectOk(await portal.getStatus(account));
    expect(status).toMatchObject({ status: 'Enabled', method: 'totp', methods: ['totp', 'webauthn'] });
    const { options } = expectOk(await portal.passkeyRegistrationOptions(account));
    expect(options).toMatchObject({ rp: { id: RP_ID, name: 'store-1' }, attestation: 'none', excludeCredentials: [expect.objectContaining({ type: 'public-key' })] });
    const events = await t.runtime.eventStore.readStream(accountStream('store-1', 'pk-alice'));
    expect(events.map((event) => event.type)).toContain('PasskeyRegistered');
  });

  it('a login answered with the passkey: method webauthn, the counter stored, the challenge closed after', async () => {
    const { account, authenticator, passkeyId } = await withPasskey('pk-bob');
    const { ref, started, options } = await challenge(account);
    expect(started).toMatchObject({ method: 'totp', methods: ['totp', 'webauthn'] });
    expect(options).toMatchObject({ rpId: RP_ID, allowCredentials: [expect.objectContaining({ type: 'public-key' })] });
    const assertion = authenticator.get(options);
    expect(expectOk(await portal.verifyPasskey(ref, { response: assertion }))).toEqual({ verified: true, passkeyId });
    // The same assertion again: the challenge is gone (single-use).
    await refused(() => portal.verifyPasskey(ref, { response: assertion }), 404, 'challenge_not_found');
    const [listed] = expectOk(await portal.listPasskeys(account)).passkeys;
    expect(listed!.lastUsedAt).not.toBeNull();
  });

  it('remember my device with a passkey: the device token skips the next second step', async () => {
    const { account, authenticator } = await withPasskey('pk-cara');
    const { ref, options } = await challenge(account);
    const verified = expectOk(await portal.verifyPasskey(ref, { response: authenticator.get(options), rememberDevice: true, deviceLabel: 'Firefox on Linux' }));
    expect(verified.deviceToken).toMatch(/^dt_/);
    expect(expectOk(await portal.startChallenge(account, { deviceToken: verified.deviceToken! }))).toEqual({ required: false, reason: 'trusted_device' });
  });

  it('a cloned authenticator (an old counter) and a wrong key are failed attempts; with a wrong code they lock the account', async () => {
    const { account, authenticator } = await withPasskey('pk-dan');
    const first = await challenge(account);
    expectOk(await portal.verifyPasskey(first.ref, { response: authenticator.get(first.options) })); // counter 1

    const { ref, options } = await challenge(account);
    const cloned = expectOk(await portal.passkeyAssertionOptions(ref)).options;
    expect(cloned.challenge).toBe(options.challenge); // bound to the login challenge
    const replay = await portal.verifyPasskey(ref, { response: authenticator.get(options, { counter: 1 }) });
    expect(replay).toMatchObject({ ok: false, status: 422, error: { error: 'invalid_passkey', attemptsLeft: 2 } });
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const forged = await portal.verifyPasskey(ref, { response: authenticator.get(options, { signWith: privateKey }) });
    expect(forged).toMatchObject({ ok: false, status: 422, error: { error: 'invalid_passkey', message: 'The passkey could not be verified, 1 attempts left to login.', attemptsLeft: 1 } });
    const locked = await portal.verifyChallenge(ref, { code: '000000' });
    expect(locked).toMatchObject({ ok: false, status: 423, error: { error: 'account_locked' } });
    await refused(() => portal.passkeyAssertionOptions(ref), 423, 'account_locked');

    const reasons = (await t.runtime.eventStore.readStream(accountStream('store-1', 'pk-dan')))
      .filter((event) => event.type === 'AttemptFailed')
      .map((event) => (event.data as { method: string; reason: string }).method + '/' + (event.data as { reason: string }).reason);
    expect(reasons).toEqual(['webauthn/counter_regressed', 'webauthn/wrong_signature', 'totp/wrong_code']);
  });

  it('an assertion from another origin or for a credential the account lacks is a failed attempt too', async () => {
    const { account, authenticator } = await withPasskey('pk-eve');
    const stranger = new SoftAuthenticator(ORIGIN, RP_ID);
    stranger.create({ challenge: 'unused' });
    const { ref, options } = await challenge(account);
    const unknown = await portal.verifyPasskey(ref, { response: stranger.get(options) });
    expect(unknown).toMatchObject({ ok: false, status: 422, error: { error: 'invalid_passkey', attemptsLeft: 2 } });
    const phishing = new SoftAuthenticator('https://shop.example.com.evil.test', RP_ID);
    phishing.credentials.push(authenticator.credentials[0]!);
    const elsewhere = await portal.verifyPasskey(ref, { response: phishing.get(options) });
    expect(elsewhere).toMatchObject({ ok: false, status: 422, error: { error: 'invalid_passkey', attemptsLeft: 1 } });
  });

  it('refusals before any ceremony: 2FA off, passkeys not configured, no passkey on the account, an unknown challenge', async () => {
    const fresh = { tenantId: 'store-1', userId: 'pk-fred' };
    await refused(() => portal.passkeyRegistrationOptions(fresh), 409, 'not_enabled');
    const store2 = await t.client('portal2');
    await enableTotp(t, 'portal2', 'store-2', 'pk-gina');
    await refused(() => store2.passkeyRegistrationOptions({ tenantId: 'store-2', userId: 'pk-gina' }), 409, 'passkeys_not_configured');
    await enableTotp(t, 'portal', 'store-1', 'pk-fred');
    const started = expectOk(await portal.startChallenge(fresh, {}));
    if (!started.required) throw new Error('a challenge was expected');
    expect(started.methods).toEqual(['totp']);
    await refused(() => portal.passkeyAssertionOptions({ ...fresh, challengeId: started.challengeId }), 409, 'passkey_not_available');
    await refused(() => portal.passkeyAssertionOptions({ ...fresh, challengeId: 'no-such-challenge' }), 404, 'challenge_not_found');
  });

  it('registration refusals: another origin, a stale registration, the same credential twice, a taken name, bad names', async () => {
    const { account, authenticator } = await withPasskey('pk-hal', undefined, 'Phone');
    const { registrationId, options } = expectOk(await portal.passkeyRegistrationOptions(account));
    const wrongOrigin = await refused(
      () => portal.registerPasskey(account, { registrationId, name: 'Other', response: authenticator.create(options, 'https://evil.test') }),
      400,
      'passkey_rejected',
    );
    expect(wrongOrigin.message).toMatch(/origin/i);
    await refused(() => portal.registerPasskey(account, { registrationId, name: 'phone', response: authenticator.create(options) }), 409, 'passkey_name_taken');
    const again = authenticator.create(options);
    expectOk(await portal.registerPasskey(account, { registrationId, name: 'Tablet', response: again }));
    await refused(() => portal.registerPasskey(account, { registrationId, name: 'Tablet 2', response: again }), 409, 'passkey_already_registered');
    t.clock.advance(6 * 60_000);
    await refused(() => portal.registerPasskey(account, { registrationId, name: 'Late', response: authenticator.create(options) }), 410, 'registration_expired');
    const url = `${accountUrl('store-1', 'pk-hal')}/passkeys`;
    for (const name of ['', ' padded', 'line\nbreak', 'x'.repeat(65)]) {
      await expectRefused(t, () => t.as('portal').post(url, { registrationId, name, response: again }), 400, 'validation_failed');
    }
    await expectRefused(t, () => t.as('portal').post(url, { registrationId: 'forged', name: 'X', response: again }), 400, 'validation_failed');
  });

  it('removal by the customer and by a reseller (named), 404 after; disable removes the rest', async () => {
    const { account, passkeyId } = await withPasskey('pk-ivy');
    const { registrationId, options } = expectOk(await portal.passkeyRegistrationOptions(account));
    const second = expectOk(await portal.registerPasskey(account, { registrationId, name: 'Key 2', response: new SoftAuthenticator(ORIGIN, RP_ID).create(options) }));
    await refused(() => operator.removePasskey({ ...account, passkeyId }), 400, 'validation_failed'); // an operator names itself
    expectOk(await operator.removePasskey({ ...account, passkeyId }, { operatorId: 'reseller-ann' }));
    await refused(() => portal.removePasskey({ ...account, passkeyId }), 404, 'passkey_not_found');
    const third = await withPasskeyAgain(account);
    expect(expectOk(await portal.listPasskeys(account)).passkeys.map((passkey) => passkey.passkeyId)).toEqual([second.passkeyId, third]);

    expectOk(await portal.disableTwoFactor(account));
    expect(expectOk(await portal.listPasskeys(account)).passkeys).toEqual([]);
    const log = expectOk(await admin.getAccountEventLog(account)).entries.map((entry) => entry.what);
    expect(log).toContain(`Passkey ${passkeyId} removed by reseller reseller-ann`);
    expect(log).toContain('2 passkey(s) removed (disabled)');
  });

  async function withPasskeyAgain(account: { tenantId: string; userId: string }) {
    const { registrationId, options } = expectOk(await portal.passkeyRegistrationOptions(account));
    return expectOk(await portal.registerPasskey(account, { registrationId, name: 'Key 3', response: new SoftAuthenticator(ORIGIN, RP_ID).create(options) })).passkeyId;
  }

  it('recovery codes still answer the challenge of an account with a passkey', async () => {
    const { account, recoveryCodes } = await withPasskey('pk-jon');
    const { ref } = await challenge(account);
    expectOk(await portal.useRecoveryCode(ref, { recoveryCode: recoveryCodes[0]! }));
  });

  it('the public key is in the event store only: the status view and the event log never show it', async () => {
    const { account } = await withPasskey('pk-kim');
    const events = await t.runtime.eventStore.readStream(accountStream('store-1', 'pk-kim'));
    const registered = events.find((event) => event.type === 'PasskeyRegistered')!.data as { publicKey: string };
    const views = JSON.stringify([expectOk(await portal.getStatus(account)), expectOk(await admin.getAccountEventLog(account))]);
    expect(views).not.toContain(registered.publicKey);
    expect(readAllFiles(t.dataDir).includes(Buffer.from(registered.publicKey))).toBe(true); // it is in the event store, as it should be
  });
});
