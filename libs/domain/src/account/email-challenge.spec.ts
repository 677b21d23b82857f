import { challengeRequirement, decideAccount } from '.';
import { CODE_EXPIRED_MESSAGE } from '../errors';
import type { AccountEvent } from '../events';
import { DEFAULT_POLICY } from '../policy';
import {
  STEP,
  T0,
  attemptFailed,
  codeIssuedEvent,
  contact,
  emailChallenge,
  given,
  iso,
  minutes,
  preparedCode,
  seconds,
  totpChallenge,
  totpEnabled,
} from '../testing/decider-spec';

const EMAIL = { policy: { emailOtpRequired: true } };
const ann = contact('ann@example.com');

const start = (challengeId: string, codeNumber = 1, to: typeof ann = ann) =>
  ({ type: 'StartChallenge', challengeId, contact: to, code: preparedCode(codeNumber) }) as const;
const verify = (challengeId: string, codeNumber: number) =>
  ({ type: 'VerifyChallenge', challengeId, proof: { kind: 'email', codeHash: preparedCode(codeNumber).codeHash } }) as const;
const resend = (challengeId: string, codeNumber: number) =>
  ({ type: 'ResendCode', challengeId, code: preparedCode(codeNumber) }) as const;
const passed = (challengeId: string): AccountEvent => ({ type: 'ChallengePassed', data: { challengeId, method: 'email' } });

describe('email challenge (seed 003: a 6-digit code is emailed when the tenant requires it)', () => {
  it('a tenant requiring email codes starts an email challenge and issues a code that expires after codeTtlMinutes', () => {
    given([])
      .when(start('ch-1'), { now: T0, ...EMAIL })
      .then([
        { type: 'ChallengeStarted', data: { challengeId: 'ch-1', method: 'email', expiresAt: iso(minutes(10)) } },
        {
          type: 'CodeIssued',
          data: {
            challengeId: 'ch-1',
            codeHash: 'code-hash-1',
            issuedAt: iso(T0),
            expiresAt: iso(minutes(10)),
            code: preparedCode(1).code,
            recipient: ann.recipient,
            maskedRecipient: ann.maskedRecipient,
            ttlMinutes: 10,
            issue: 1,
          },
        },
      ]);
    expect(challengeRequirement(given([]).state, { ...DEFAULT_POLICY, emailOtpRequired: true }, T0)).toEqual({
      required: true,
      method: 'email',
    });
  });

  it("the tenant's display name travels with the code (the mailer signs with it); without one the event has none", () => {
    const [, named] = given([]).when(start('ch-1'), { policy: { emailOtpRequired: true, displayName: 'Acme Outdoor' } }).events();
    expect(named).toMatchObject({ type: 'CodeIssued', data: { tenantName: 'Acme Outdoor' } });
    const [, plain] = given([]).when(start('ch-1'), EMAIL).events();
    expect(plain!.data).not.toHaveProperty('tenantName');
  });

  it('an email challenge without a prepared code is a programming error, never a challenge without a code', () => {
    expect(() => decideAccount({ type: 'StartChallenge', challengeId: 'ch-1', contact: ann }, given([]).state, { now: T0, policy: { ...DEFAULT_POLICY, emailOtpRequired: true } })).toThrow(
      'StartChallenge by email needs a prepared code',
    );
  });

  it('an email challenge without an address to send to is email_required', () => {
    given([]).when({ type: 'StartChallenge', challengeId: 'ch-1', code: preparedCode(1) }, EMAIL).thenThrows('email_required');
  });

  it('with the tenant setting off and no authenticator, no challenge is started and the requirement says not_enrolled', () => {
    given([]).when(start('ch-1')).then([]);
    expect(challengeRequirement(given([]).state, DEFAULT_POLICY, T0)).toEqual({ required: false, reason: 'not_enrolled' });
  });

  it('the right code passes the challenge and closes it, so it cannot be used twice', () => {
    given(emailChallenge('ch-1')).when(verify('ch-1', 1), { now: seconds(20) }).then([passed('ch-1')]);
    given([...emailChallenge('ch-1'), passed('ch-1')]).when(verify('ch-1', 1)).thenThrows('challenge_not_found');
  });

  it('a wrong code is a failed attempt with 2 attempts left', () => {
    given(emailChallenge('ch-1'))
      .when(verify('ch-1', 99), { now: seconds(20) })
      .then([attemptFailed('ch-1', 1, { method: 'email', reason: 'wrong_code' })]);
  });

  it('an unknown challenge id is challenge_not_found for verify, resend and recovery', () => {
    given(emailChallenge('ch-1')).when(verify('nope', 1)).thenThrows('challenge_not_found');
    given(emailChallenge('ch-1')).when(resend('nope', 2), { now: minutes(11) }).thenThrows('challenge_not_found');
    given([]).when({ type: 'UseRecoveryCode', challengeId: 'nope', recoveryCodeHash: 'x' }).thenThrows('challenge_not_found');
  });
});

describe('code expiry (seed 003: default 10 minutes, exact timed-out message)', () => {
  it('the expired message is word for word the seed text', () => {
    expect(CODE_EXPIRED_MESSAGE).toBe('Your authentication code timed out. Kindly generate a new code to continue.');
  });

  it('a code used after its expiry is code_expired with the seed message, and nothing is counted', () => {
    const error = given(emailChallenge('ch-1')).when(verify('ch-1', 1), { now: minutes(11) }).thenThrows('code_expired');
    expect(error.message).toBe(CODE_EXPIRED_MESSAGE);
  });

  it('a code is already expired at exactly expiresAt', () => {
    given(emailChallenge('ch-1')).when(verify('ch-1', 1), { now: minutes(10) }).thenThrows('code_expired');
  });

  it('a code is still accepted 1 ms before expiresAt', () => {
    given(emailChallenge('ch-1'))
      .when(verify('ch-1', 1), { now: new Date(minutes(10).getTime() - 1) })
      .then([passed('ch-1')]);
  });

  it('the expiry follows the tenant policy codeTtlMinutes', () => {
    const emitted = given([]).when(start('ch-1'), { policy: { emailOtpRequired: true, codeTtlMinutes: 360 } }).events();
    expect(emitted[1]).toMatchObject({ type: 'CodeIssued', data: { expiresAt: iso(minutes(360)), ttlMinutes: 360 } });
  });
});

describe('resend (seed 003: only after an attempt, not within the cooldown, old codes die)', () => {
  /** Code 1 issued at T0, one wrong attempt at it. */
  const failedOnce = (): AccountEvent[] => [...emailChallenge('ch-1'), attemptFailed('ch-1', 1)];

  it('a resend before any attempt to enter a code is resend_not_available', () => {
    given(emailChallenge('ch-1')).when(resend('ch-1', 2), { now: seconds(45) }).thenThrows('resend_not_available');
  });

  it('a resend after a wrong attempt but inside the cooldown is resend_cooldown with retryAfterSeconds', () => {
    const error = given(failedOnce())
      .when(resend('ch-1', 2), { now: seconds(10) })
      .thenThrows('resend_cooldown', { retryAfterSeconds: 20, resendAvailableAt: iso(seconds(30)) });
    expect(error.message).toMatch(/20 seconds/);
    given(failedOnce())
      .when(resend('ch-1', 2), { now: new Date(seconds(30).getTime() - 1) })
      .thenThrows('resend_cooldown', { retryAfterSeconds: 1 });
  });

  it('at exactly the cooldown a resend issues code number 2 to the same address with a fresh expiry', () => {
    given(failedOnce())
      .when(resend('ch-1', 2), { now: seconds(30) })
      .then([codeIssuedEvent('ch-1', seconds(30), 2, 2, ann)]);
  });

  it('after a resend the old code is refused as a failed attempt and the new one passes', () => {
    const resent = [...failedOnce(), codeIssuedEvent('ch-1', seconds(30), 2, 2, ann)];
    given(resent)
      .when(verify('ch-1', 1), { now: seconds(40) })
      .then([attemptFailed('ch-1', 2, { method: 'email', reason: 'wrong_code' })]);
    given(resent).when(verify('ch-1', 2), { now: seconds(40) }).then([passed('ch-1')]);
  });

  it('a resent code lives codeTtlMinutes from its own issue, not from the first code', () => {
    const resent = [...failedOnce(), codeIssuedEvent('ch-1', minutes(9), 2, 2, ann)];
    given(resent).when(verify('ch-1', 2), { now: minutes(15) }).then([passed('ch-1')]);
    given(resent).when(verify('ch-1', 2), { now: minutes(19) }).thenThrows('code_expired');
  });

  it('attempts stay counted across resends: fail, resend, fail, fail locks the account at the third', () => {
    const history = [...failedOnce(), codeIssuedEvent('ch-1', seconds(30), 2, 2, ann), attemptFailed('ch-1', 2)];
    given(history)
      .when(verify('ch-1', 99), { now: seconds(50) })
      .then([
        attemptFailed('ch-1', 3),
        { type: 'AccountLocked', data: { lockedUntil: iso(minutes(30, seconds(50))), failedAttempts: 3 } },
        { type: 'SecurityNotificationQueued', data: { kind: 'account_locked', ...ann } },
      ]);
  });

  it('a second resend needs an attempt on the resent code', () => {
    const history = [...failedOnce(), codeIssuedEvent('ch-1', seconds(30), 2, 2, ann)];
    given(history).when(resend('ch-1', 3), { now: seconds(90) }).thenThrows('resend_not_available');
  });

  it('a resend is allowed after the code expired even without an attempt', () => {
    given(emailChallenge('ch-1'))
      .when(resend('ch-1', 2), { now: minutes(10) })
      .then([codeIssuedEvent('ch-1', minutes(10), 2, 2, ann)]);
  });

  it('authenticator codes cannot be resent', () => {
    given([...totpEnabled(), totpChallenge('ch-1')]).when(resend('ch-1', 2), { now: minutes(1) }).thenThrows('resend_not_available');
  });
});

describe('new challenges (one open challenge per account)', () => {
  it('a new challenge within the cooldown of the last issued code is resend_cooldown (mail-bombing guard)', () => {
    given(emailChallenge('ch-1'))
      .when(start('ch-2', 2), { now: seconds(10), ...EMAIL })
      .thenThrows('resend_cooldown', { retryAfterSeconds: 20, challengeId: 'ch-1' });
  });

  it('after the cooldown a new challenge supersedes the old one: its id is challenge_not_found and its code is refused', () => {
    const emitted = given(emailChallenge('ch-1')).when(start('ch-2', 2), { now: seconds(30), ...EMAIL }).events();
    expect(emitted.map((event) => event.type)).toEqual(['ChallengeStarted', 'CodeIssued']);
    const history = [...emailChallenge('ch-1'), ...emitted];
    given(history).when(verify('ch-1', 1), { now: seconds(40) }).thenThrows('challenge_not_found');
    given(history)
      .when(verify('ch-2', 1), { now: seconds(40) })
      .then([attemptFailed('ch-2', 1, { method: 'email', reason: 'wrong_code' })]);
    given(history).when(verify('ch-2', 2), { now: seconds(40) }).then([passed('ch-2')]);
  });

  it('a new challenge sends to the address given with it', () => {
    const bob = contact('bob@example.org');
    const emitted = given(emailChallenge('ch-1', T0, { to: ann }))
      .when(start('ch-2', 2, bob), { now: minutes(1), ...EMAIL })
      .events();
    expect(emitted[1]).toMatchObject({ type: 'CodeIssued', data: { recipient: bob.recipient, maskedRecipient: bob.maskedRecipient } });
  });

  it('only an email challenge holds a code: a TOTP challenge has none to count attempts on or resend', () => {
    expect(given([...totpEnabled(), totpChallenge('ch-1')]).state.challenge).toEqual({ id: 'ch-1', method: 'totp', expiresAt: expect.any(String) });
    expect(given(emailChallenge('ch-1')).state.challenge).toMatchObject({ id: 'ch-1', method: 'email', code: { attempts: 0, issue: 1 } });
    given([...totpEnabled(), totpChallenge('ch-1')]).when(resend('ch-1', 2)).thenThrows('resend_not_available');
  });

  it('a new totp challenge supersedes the old one too', () => {
    given([...totpEnabled(), totpChallenge('ch-1'), totpChallenge('ch-2', seconds(5))])
      .when({ type: 'VerifyChallenge', challengeId: 'ch-1', proof: { kind: 'email', codeHash: 'x' } })
      .thenThrows('challenge_not_found');
  });
});

describe('email challenge: the known address and expired codes', () => {
  it('without an address in the request, the code goes to the address the account used last', () => {
    given(emailChallenge('ch-1', T0, { to: ann, ttlMinutes: 10 }))
      .when({ type: 'StartChallenge', challengeId: 'ch-2', code: preparedCode(2) }, { now: minutes(11), ...EMAIL })
      .then([
        { type: 'ChallengeStarted', data: { challengeId: 'ch-2', method: 'email', expiresAt: iso(minutes(21)) } },
        codeIssuedEvent('ch-2', minutes(11), 2, 1, ann, 10),
      ]);
  });

  it('an expired code never makes the user wait out a cooldown longer than its lifetime', () => {
    const policy = { emailOtpRequired: true, codeTtlMinutes: 1, resendCooldownSeconds: 600 };
    // Inside the lifetime the cooldown holds...
    given(emailChallenge('ch-1', T0, { ttlMinutes: 1 })).when(start('ch-2', 2), { now: seconds(30), policy }).thenThrows('resend_cooldown');
    // ...once the code has expired, a new code is available at once.
    given(emailChallenge('ch-1', T0, { ttlMinutes: 1 }))
      .when(resend('ch-1', 2), { now: seconds(61), policy })
      .then([codeIssuedEvent('ch-1', seconds(61), 2, 2, contact(), 1)]);
  });
});

describe('a code proof of the other kind than the challenge (the caller builds the one its method asks for)', () => {
  it('a TOTP proof on an email challenge, and an email proof on a TOTP challenge, are wrong codes', () => {
    given(emailChallenge('ch-1'))
      .when({ type: 'VerifyChallenge', challengeId: 'ch-1', proof: { kind: 'totp', matchedStep: STEP + 1 } })
      .then([attemptFailed('ch-1', 1, { method: 'email' })]);
    given([...totpEnabled(), totpChallenge('ch-1')])
      .when({ type: 'VerifyChallenge', challengeId: 'ch-1', proof: { kind: 'email', codeHash: preparedCode(1).codeHash } })
      .then([attemptFailed('ch-1', 1, { method: 'totp' })]);
  });
});
