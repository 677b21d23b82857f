import type { AccountCommand } from '.';
import { passkeysOf } from './state';
import type { AccountEvent } from '../events';
import { answerMethods, MAX_PASSKEYS, type PasskeyProof, type VerifiedRegistration } from './passkeys';
import { DEFAULT_POLICY, decidePolicy, initialPolicy } from '../policy';
import { DomainError } from '../errors';
import { T0, contact, given, iso, lockedAt, minutes, totpChallenge, totpEnabled } from '../testing/decider-spec';

const credential = (n: number): VerifiedRegistration => ({
  passkeyId: `pk-${n}`,
  credentialId: `cred-${n}`,
  publicKey: `cose-key-${n}`,
  counter: 0,
  transports: ['internal'],
});
const register = (n: number, name = `Key ${n}`): AccountCommand => ({ type: 'RegisterPasskey', name, credential: credential(n) });
const registered = (n: number, name = `Key ${n}`, counter = 0): AccountEvent => ({
  type: 'PasskeyRegistered',
  data: { ...credential(n), name, counter },
});
const valid = (n: number, newCounter: number): PasskeyProof => ({ credentialId: `cred-${n}`, known: true, signatureValid: true, newCounter });
const verify = (proof: PasskeyProof, challengeId = 'ch-1'): AccountCommand => ({ type: 'VerifyPasskey', challengeId, proof });
const ann = contact('ann@example.com');

describe('passkeys: registration (2FA on with the app first, names, limits)', () => {
  it('an account with 2FA on adds a passkey; the state holds its credential and public key', () => {
    given(totpEnabled())
      .when(register(1, 'MacBook Touch ID'))
      .thenState((state) => {
        expect(passkeysOf(state)).toEqual([{ ...credential(1), name: 'MacBook Touch ID' }]);
      });
    given(totpEnabled()).when(register(1, 'MacBook Touch ID')).then([registered(1, 'MacBook Touch ID')]);
  });

  it('the customer is told by email (security notification passkey_added) when the account has an address', () => {
    const events = given(totpEnabled({ contact: ann })).when(register(1)).events();
    expect(events.map((event) => event.type)).toEqual(['PasskeyRegistered', 'SecurityNotificationQueued']);
    expect(events[1]).toMatchObject({ data: { kind: 'passkey_added', maskedRecipient: 'a***@example.com' } });
  });

  it('without 2FA on (no confirmed authenticator app) a passkey is refused: not_enabled', () => {
    given([]).when(register(1)).thenThrows('not_enabled');
    given([totpEnabled()[0]!]).when(register(1)).thenThrows('not_enabled'); // set up but not confirmed
  });

  it('the same credential twice is passkey_already_registered; a name already used (any case) is passkey_name_taken', () => {
    given([...totpEnabled(), registered(1)]).when(register(1, 'Other name')).thenThrows('passkey_already_registered');
    given([...totpEnabled(), registered(1, 'Phone')]).when(register(2, 'phone')).thenThrows('passkey_name_taken');
  });

  it(`at most ${MAX_PASSKEYS} passkeys per account: the next is passkey_limit until one is removed`, () => {
    const ten = Array.from({ length: MAX_PASSKEYS }, (_, i) => registered(i + 1));
    given([...totpEnabled(), ...ten]).when(register(99)).thenThrows('passkey_limit');
    const removed: AccountEvent = { type: 'PasskeyRemoved', data: { passkeyId: 'pk-3', by: 'customer' } };
    expect(given([...totpEnabled(), ...ten, removed]).when(register(99)).events()[0]).toMatchObject({ type: 'PasskeyRegistered' });
  });

  it('a name with control characters or outer spaces never reaches an event (the edge validates; the decider insists)', () => {
    expect(() => given(totpEnabled()).when(register(1, 'bad\nname')).events()).toThrow(/printable/);
    expect(() => given(totpEnabled()).when(register(1, ' padded')).events()).toThrow(/printable/);
  });
});

describe('passkeys: removal', () => {
  const two = [...totpEnabled(), registered(1), registered(2)];

  it('the customer removes one; the other and the authenticator app stay', () => {
    given(two)
      .when({ type: 'RemovePasskey', passkeyId: 'pk-1', by: 'customer' })
      .thenState((state) => {
        expect(passkeysOf(state).map((passkey) => passkey.passkeyId)).toEqual(['pk-2']);
        expect(state.factor.status).toBe('on');
      });
  });

  it('an operator or admin removes one and is named in the event', () => {
    given(two)
      .when({ type: 'RemovePasskey', passkeyId: 'pk-2', by: 'operator', operatorId: 'reseller-ann' })
      .then([{ type: 'PasskeyRemoved', data: { passkeyId: 'pk-2', by: 'operator', operatorId: 'reseller-ann' } }]);
  });

  it('an unknown or already removed passkey is passkey_not_found', () => {
    given(two).when({ type: 'RemovePasskey', passkeyId: 'pk-9', by: 'customer' }).thenThrows('passkey_not_found');
    const removed: AccountEvent = { type: 'PasskeyRemoved', data: { passkeyId: 'pk-1', by: 'customer' } };
    given([...two, removed]).when({ type: 'RemovePasskey', passkeyId: 'pk-1', by: 'customer' }).thenThrows('passkey_not_found');
  });

  it('the customer turning 2FA off removes every passkey, logged as one PasskeysRemoved', () => {
    const events = given(two).when({ type: 'DisableTwoFactor', passwordConfirmed: true }).events();
    expect(events).toContainEqual({ type: 'PasskeysRemoved', data: { reason: 'disabled', count: 2 } });
    given(two)
      .when({ type: 'DisableTwoFactor', passwordConfirmed: true })
      .thenState((state) => expect(passkeysOf(state)).toEqual([]));
  });

  it('a reseller disable removes them too', () => {
    const events = given(two).when({ type: 'ResellerDisable', operatorId: 'reseller-ann' }).events();
    expect(events).toContainEqual({ type: 'PasskeysRemoved', data: { reason: 'reseller_disabled', count: 2 } });
    given(two)
      .when({ type: 'ResellerDisable', operatorId: 'reseller-ann' })
      .thenState((state) => expect(passkeysOf(state)).toEqual([]));
  });

  it('turning 2FA off without passkeys logs no PasskeysRemoved', () => {
    const events = given(totpEnabled()).when({ type: 'DisableTwoFactor', passwordConfirmed: true }).events();
    expect(events.map((event) => event.type)).not.toContain('PasskeysRemoved');
  });
});

describe('passkeys: answering a login', () => {
  it('a TOTP challenge of an account with a passkey is answered either way; email and no challenge stay as they are', () => {
    expect(answerMethods('totp', 1)).toEqual(['totp', 'webauthn']);
    expect(answerMethods('totp', 0)).toEqual(['totp']);
    expect(answerMethods('email', 2)).toEqual(['email']);
    expect(answerMethods(null, 0)).toEqual([]);
  });

  const withKey = (counter = 0) => [...totpEnabled(), registered(1, 'Key 1', counter), totpChallenge('ch-1')];

  it('a verified assertion passes the TOTP challenge (method webauthn) and stores the new counter', () => {
    given(withKey(4))
      .when(verify(valid(1, 5)))
      .then([{ type: 'ChallengePassed', data: { challengeId: 'ch-1', method: 'webauthn', passkey: { passkeyId: 'pk-1', counter: 5 } } }]);
    given(withKey(4))
      .when(verify(valid(1, 5)))
      .thenState((state) => {
        expect(state.challenge).toBeNull();
        expect(passkeysOf(state)[0]!.counter).toBe(5);
      });
  });

  it('an authenticator that does not count (0 before, 0 now) is accepted', () => {
    expect(given(withKey(0)).when(verify(valid(1, 0))).events()[0]).toMatchObject({ type: 'ChallengePassed' });
  });

  it.each([
    ['a counter that went back', 4, 3],
    ['a counter that stood still', 4, 4],
    ['a counter that dropped to 0', 4, 0],
  ])('%s is a failed attempt (counter_regressed: possibly a cloned authenticator)', (_name, stored, sent) => {
    given(withKey(stored))
      .when(verify(valid(1, sent)))
      .then([{ type: 'AttemptFailed', data: { challengeId: 'ch-1', method: 'webauthn', reason: 'counter_regressed', failedAttempts: 1, attemptsLeft: 2 } }]);
  });

  it('a wrong signature and a credential the account does not have are failed attempts', () => {
    given(withKey())
      .when(verify({ credentialId: 'cred-1', known: true, signatureValid: false, newCounter: 1 }))
      .then([{ type: 'AttemptFailed', data: { challengeId: 'ch-1', method: 'webauthn', reason: 'wrong_signature', failedAttempts: 1, attemptsLeft: 2 } }]);
    given(withKey())
      .when(verify({ credentialId: 'someone-elses', known: false }))
      .then([{ type: 'AttemptFailed', data: { challengeId: 'ch-1', method: 'webauthn', reason: 'unknown_passkey', failedAttempts: 1, attemptsLeft: 2 } }]);
  });

  it('failed passkey attempts and wrong codes count toward the same lock', () => {
    const wrongCode: AccountEvent = { type: 'AttemptFailed', data: { challengeId: 'ch-1', method: 'totp', reason: 'wrong_code', failedAttempts: 1, attemptsLeft: 2 } };
    const wrongKey: AccountEvent = { type: 'AttemptFailed', data: { challengeId: 'ch-1', method: 'webauthn', reason: 'wrong_signature', failedAttempts: 2, attemptsLeft: 1 } };
    const events = given([...withKey(), wrongCode, wrongKey]).when(verify({ credentialId: 'x', known: false }), { now: minutes(1) }).events();
    expect(events.map((event) => event.type)).toEqual(['AttemptFailed', 'AccountLocked']);
    expect(events[1]).toEqual(lockedAt(minutes(1)));
    // …and a locked account hears "locked", even with a good passkey.
    given([...withKey(), lockedAt(T0)]).when(verify(valid(1, 1)), { now: minutes(1) }).thenThrows('account_locked');
  });

  it('remember my device works with a passkey as with a code', () => {
    const events = given(withKey())
      .when({ type: 'VerifyPasskey', challengeId: 'ch-1', proof: valid(1, 1), rememberDevice: { deviceId: 'dev-a', tokenHash: 'hash-a' } })
      .events();
    expect(events.map((event) => event.type)).toEqual(['ChallengePassed', 'DeviceTrusted']);
  });

  it('the WebAuthn challenge is single-use: once passed, the login challenge is closed (challenge_not_found)', () => {
    const passed: AccountEvent = { type: 'ChallengePassed', data: { challengeId: 'ch-1', method: 'webauthn', passkey: { passkeyId: 'pk-1', counter: 1 } } };
    given([...withKey(), passed]).when(verify(valid(1, 2))).thenThrows('challenge_not_found');
  });

  it('it expires with the login challenge (challenge_expired)', () => {
    given(withKey())
      .when(verify(valid(1, 1)), { now: minutes(DEFAULT_POLICY.codeTtlMinutes + 1) })
      .thenThrows('challenge_expired');
  });

  it('an account without passkeys, or an email challenge, cannot be answered with one: passkey_not_available (nothing counted)', () => {
    given([...totpEnabled(), totpChallenge('ch-1')]).when(verify(valid(1, 1))).thenThrows('passkey_not_available');
    const email: AccountEvent[] = [
      ...totpEnabled(),
      registered(1),
      { type: 'ChallengeStarted', data: { challengeId: 'ch-1', method: 'email', expiresAt: iso(minutes(10)) } },
    ];
    given(email).when(verify(valid(1, 1))).thenThrows('passkey_not_available');
  });

  it('recovery codes keep answering a challenge of an account with passkeys', () => {
    const events = given(withKey()).when({ type: 'UseRecoveryCode', challengeId: 'ch-1', recoveryCodeHash: 'rc-3' }).events();
    expect(events[0]).toMatchObject({ type: 'RecoveryCodeUsed', data: { recoveryCodeHash: 'rc-3' } });
  });
});

describe('passkeys: the relying party in the tenant policy', () => {
  const update = (changes: Parameters<typeof decidePolicy>[0]['changes'], current = initialPolicy()) =>
    decidePolicy({ type: 'UpdatePolicy', tenantId: 'store-1', changes }, current);
  const refusal = (run: () => unknown): DomainError => {
    try {
      run();
    } catch (error) {
      if (error instanceof DomainError) return error;
      throw error;
    }
    throw new Error('expected a refusal');
  };

  it('an rp id and origins on it (https, or http on localhost) are accepted', () => {
    const [event] = update({ passkeyRpId: 'shop.example.com', passkeyOrigins: ['https://shop.example.com', 'https://eu.shop.example.com:8443'] });
    expect(event!.data.policy).toMatchObject({ passkeyRpId: 'shop.example.com', passkeyOrigins: ['https://shop.example.com', 'https://eu.shop.example.com:8443'] });
    expect(update({ passkeyRpId: 'localhost', passkeyOrigins: ['http://localhost:3001'] })).toHaveLength(1);
  });

  it.each([
    [{ passkeyRpId: '127.0.0.1' }, 'passkeyRpId'],
    [{ passkeyRpId: 'Shop.Example.com' }, 'passkeyRpId'],
    [{ passkeyRpId: 'https://shop.example.com' }, 'passkeyRpId'],
    [{ passkeyRpId: 'shop.example.com', passkeyOrigins: ['http://shop.example.com'] }, 'passkeyOrigins'],
    [{ passkeyRpId: 'shop.example.com', passkeyOrigins: ['https://evil.example.net'] }, 'passkeyOrigins'],
    [{ passkeyRpId: 'shop.example.com', passkeyOrigins: ['https://shop.example.com/login'] }, 'passkeyOrigins'],
    [{ passkeyRpId: 'shop.example.com', passkeyOrigins: ['not a url'] }, 'passkeyOrigins'],
    [{ passkeyOrigins: ['https://shop.example.com'] }, 'passkeyOrigins'],
    [{ passkeyRpId: 'shop.example.com', passkeyOrigins: Array.from({ length: 11 }, (_, i) => `https://s${i}.shop.example.com`) }, 'passkeyOrigins'],
  ])('%j is invalid_policy naming %s', (changes, field) => {
    const error = refusal(() => update(changes as never));
    expect(error.code).toBe('invalid_policy');
    expect(error.details.field).toBe(field);
  });

  it('the same origins sent again change nothing (arrays compared by value)', () => {
    const current = { ...initialPolicy(), passkeyRpId: 'localhost', passkeyOrigins: ['http://localhost:3001'] };
    expect(update({ passkeyOrigins: ['http://localhost:3001'] }, current)).toEqual([]);
  });
});
