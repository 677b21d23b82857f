import { isLocked } from '.';
import { invalidCodeMessage } from '../errors';
import type { AccountEvent } from '../events';
import {
  STEP,
  T0,
  attemptFailed,
  contact,
  deviceTrusted,
  emailChallenge,
  given,
  iso,
  lockedAt,
  minutes,
  preparedCode,
  seconds,
  totpChallenge,
  totpEnabled,
} from '../testing/decider-spec';

const EMAIL = { policy: { emailOtpRequired: true } };
const ann = contact('ann@example.com');
/** Email-code accounts know their address from the codes, so a lock also queues a notice. */
const lockNotice: AccountEvent = { type: 'SecurityNotificationQueued', data: { kind: 'account_locked', ...ann } };
const start = (challengeId: string, codeNumber = 1, deviceTokenHash?: string) =>
  ({ type: 'StartChallenge', challengeId, contact: ann, code: preparedCode(codeNumber), deviceTokenHash }) as const;
const verify = (challengeId: string, codeNumber: number) =>
  ({ type: 'VerifyChallenge', challengeId, proof: { kind: 'email', codeHash: preparedCode(codeNumber).codeHash } }) as const;

/** The account failed its 3rd attempt at T0+1 min and was locked until T0+31 min. */
const LOCKED_AT = minutes(1);
const LOCKED_UNTIL = minutes(31);
const lockedHistory = (): AccountEvent[] => [
  ...emailChallenge('ch-1'),
  attemptFailed('ch-1', 1),
  attemptFailed('ch-1', 2),
  attemptFailed('ch-1', 3),
  lockedAt(LOCKED_AT),
];

describe('failed attempts (seed 003: "Invalid authentication code, X attempts left to login.")', () => {
  it('the invalid code message is word for word the seed text', () => {
    expect(invalidCodeMessage(2)).toBe('Invalid authentication code, 2 attempts left to login.');
    expect(invalidCodeMessage(1)).toBe('Invalid authentication code, 1 attempts left to login.');
  });

  it('each wrong code counts down the attempts left: 2, then 1', () => {
    const first = given(emailChallenge('ch-1')).when(verify('ch-1', 9), { now: seconds(10) }).events();
    expect(first).toEqual([attemptFailed('ch-1', 1)]);
    const second = given([...emailChallenge('ch-1'), ...first]).when(verify('ch-1', 9), { now: seconds(20) }).events();
    expect(second).toEqual([attemptFailed('ch-1', 2)]);
    const left = [...first, ...second].map((event) => (event.type === 'AttemptFailed' ? event.data.attemptsLeft : -1));
    expect(left.map(invalidCodeMessage)).toEqual([
      'Invalid authentication code, 2 attempts left to login.',
      'Invalid authentication code, 1 attempts left to login.',
    ]);
  });

  it('the 3rd wrong code (default policy) fails and locks the account for 30 minutes from now', () => {
    const now = seconds(40);
    given([...emailChallenge('ch-1'), attemptFailed('ch-1', 1), attemptFailed('ch-1', 2)])
      .when(verify('ch-1', 9), { now })
      .thenState((state) => {
        expect(state.lockout).toEqual({ status: 'locked', until: iso(minutes(30, now)) }); // no count beside the lock
        expect(isLocked(state, now)).toBe(true);
        expect(state.challenge).toBeNull();
      });
    // No contact is known for this account, so nothing but the two events.
    given([
      ...totpEnabled(),
      totpChallenge('ch-1'),
      attemptFailed('ch-1', 1, { method: 'totp' }),
      attemptFailed('ch-1', 2, { method: 'totp' }),
    ])
      .when({ type: 'VerifyChallenge', challengeId: 'ch-1', proof: { kind: 'email', codeHash: 'x' } }, { now })
      .then([
        attemptFailed('ch-1', 3, { method: 'totp' }),
        { type: 'AccountLocked', data: { lockedUntil: iso(minutes(30, now)), failedAttempts: 3 } },
      ]);
  });

  it('failures count across methods: a wrong code, a replayed step and a wrong recovery code lock together', () => {
    const history = [
      ...totpEnabled({ step: STEP }),
      totpChallenge('ch-1'),
      attemptFailed('ch-1', 1, { method: 'totp', reason: 'wrong_code' }),
      attemptFailed('ch-1', 2, { method: 'totp', reason: 'code_reused' }),
    ];
    given(history)
      .when({ type: 'UseRecoveryCode', challengeId: 'ch-1', recoveryCodeHash: 'nope' })
      .then([attemptFailed('ch-1', 3, { method: 'recovery_code' }), lockedAt(T0)]);
  });

  it('failures count across challenges: starting a new login does not reset the counter', () => {
    given([...emailChallenge('ch-1'), attemptFailed('ch-1', 1), attemptFailed('ch-1', 2), ...emailChallenge('ch-2', minutes(1), { codeNumber: 2 })])
      .when(verify('ch-2', 9), { now: minutes(2) })
      .then([attemptFailed('ch-2', 3), lockedAt(minutes(2)), lockNotice]);
  });

  it('a successful login resets the counter', () => {
    const history = [
      ...emailChallenge('ch-1'),
      attemptFailed('ch-1', 1),
      attemptFailed('ch-1', 2),
      { type: 'ChallengePassed', data: { challengeId: 'ch-1', method: 'email' } } as AccountEvent,
      ...emailChallenge('ch-2', minutes(5), { codeNumber: 2 }),
    ];
    given(history).when(verify('ch-2', 9), { now: minutes(6) }).then([attemptFailed('ch-2', 1)]);
  });

  it('disabling (by the customer or a reseller) and enabling again start the count afresh: the old factor is gone', () => {
    const failedTwice = [...totpEnabled(), totpChallenge('ch-1'), attemptFailed('ch-1', 1, { method: 'totp' }), attemptFailed('ch-1', 2, { method: 'totp' })];
    for (const disabled of [
      { type: 'TwoFactorDisabled', data: { by: 'customer', passwordConfirmed: true } },
      { type: 'ResellerDisabled', data: { operatorId: 'op-7' } },
    ] as AccountEvent[]) {
      given([...failedTwice, disabled]).when({ type: 'RecordPasswordReset' }).thenState({ lockout: { status: 'counting', failedAttempts: 0 } });
      // Enabled again, the first wrong code leaves 2 attempts, not 0.
      given([...failedTwice, disabled, ...totpEnabled({ step: STEP + 100 }), totpChallenge('ch-2')])
        .when({ type: 'VerifyChallenge', challengeId: 'ch-2', proof: { kind: 'email', codeHash: 'x' } })
        .then([attemptFailed('ch-2', 1, { method: 'totp' })]);
    }
  });
});

describe('temporary lockout (seed 003: no login attempt while locked; an admin may unlock early)', () => {
  it.each([
    ['StartChallenge', start('ch-2', 2)],
    ['VerifyChallenge', verify('ch-1', 1)],
    ['UseRecoveryCode', { type: 'UseRecoveryCode', challengeId: 'ch-1', recoveryCodeHash: 'rc-1' } as const],
    ['ResendCode', { type: 'ResendCode', challengeId: 'ch-1', code: preparedCode(2) } as const],
  ])('while locked, %s is account_locked with lockedUntil', (_name, command) => {
    const error = given(lockedHistory())
      .when(command, { now: minutes(10), ...EMAIL })
      .thenThrows('account_locked', { lockedUntil: iso(LOCKED_UNTIL) });
    expect(error.message).toContain(iso(LOCKED_UNTIL));
  });

  it('while locked, a recovery code on the locked challenge is account_locked too (TOTP account)', () => {
    const history = [
      ...totpEnabled(),
      totpChallenge('ch-1'),
      attemptFailed('ch-1', 1, { method: 'totp' }),
      attemptFailed('ch-1', 2, { method: 'totp' }),
      attemptFailed('ch-1', 3, { method: 'totp' }),
      lockedAt(LOCKED_AT),
    ];
    given(history)
      .when({ type: 'UseRecoveryCode', challengeId: 'ch-1', recoveryCodeHash: 'rc-1' }, { now: minutes(2) })
      .thenThrows('account_locked', { lockedUntil: iso(LOCKED_UNTIL) });
    given(history)
      .when({ type: 'VerifyChallenge', challengeId: 'ch-1', proof: { kind: 'totp', matchedStep: STEP + 4 } }, { now: minutes(2) })
      .thenThrows('account_locked', { lockedUntil: iso(LOCKED_UNTIL) });
  });

  it('a trusted device does not get around a lock', () => {
    given([deviceTrusted(T0, 'dev-a'), ...lockedHistory()])
      .when(start('ch-2', 2, 'dev-a'), { now: minutes(10), ...EMAIL })
      .thenThrows('account_locked');
  });

  it('1 ms before lockedUntil the account is still locked; at lockedUntil a challenge starts and the counter is fresh', () => {
    given(lockedHistory())
      .when(start('ch-2', 2), { now: new Date(LOCKED_UNTIL.getTime() - 1), ...EMAIL })
      .thenThrows('account_locked');
    const emitted = given(lockedHistory()).when(start('ch-2', 2), { now: LOCKED_UNTIL, ...EMAIL }).events();
    expect(emitted.map((event) => event.type)).toEqual(['ChallengeStarted', 'CodeIssued']);
    given([...lockedHistory(), ...emitted])
      .when(verify('ch-2', 9), { now: minutes(1, LOCKED_UNTIL) })
      .then([attemptFailed('ch-2', 1)]);
  });

  it('a customer locked out of their authenticator logs in with the password alone once the reseller disables 2FA (seed 000)', () => {
    const lockedTotp = [
      ...totpEnabled(),
      totpChallenge('ch-1'),
      attemptFailed('ch-1', 1, { method: 'recovery_code' }),
      attemptFailed('ch-1', 2, { method: 'recovery_code' }),
      attemptFailed('ch-1', 3, { method: 'recovery_code' }),
      lockedAt(LOCKED_AT),
    ];
    given(lockedTotp).when(start('ch-2'), { now: minutes(5) }).thenThrows('account_locked');
    const disabled: AccountEvent = { type: 'ResellerDisabled', data: { operatorId: 'op-1' } };
    given([...lockedTotp, disabled]).when(start('ch-2'), { now: minutes(5) }).then([]);
    // Where the tenant still requires email codes, the lock keeps guarding that step.
    given([...lockedTotp, disabled]).when(start('ch-2'), { now: minutes(5), ...EMAIL }).thenThrows('account_locked');
  });

  it('an operator unlock emits AccountUnlocked only while locked', () => {
    given(lockedHistory())
      .when({ type: 'UnlockAccount', operatorId: 'op-1' }, { now: minutes(5) })
      .then([{ type: 'AccountUnlocked', data: { operatorId: 'op-1' } }]);
    given([]).when({ type: 'UnlockAccount', operatorId: 'op-1' }).thenThrows('not_locked');
    given(lockedHistory()).when({ type: 'UnlockAccount', operatorId: 'op-1' }, { now: LOCKED_UNTIL }).thenThrows('not_locked');
  });

  it('after an unlock challenges work again and the attempt counter starts over', () => {
    const unlocked = [...lockedHistory(), { type: 'AccountUnlocked', data: { operatorId: 'op-1' } } as AccountEvent];
    const now = minutes(5);
    const emitted = given(unlocked).when(start('ch-2', 2), { now, ...EMAIL }).events();
    expect(emitted.map((event) => event.type)).toEqual(['ChallengeStarted', 'CodeIssued']);
    given([...unlocked, ...emitted]).when(verify('ch-2', 9), { now }).then([attemptFailed('ch-2', 1)]);
  });
});

describe('custom tenant policy is honoured', () => {
  const policy = { emailOtpRequired: true, maxFailedAttempts: 5, lockoutMinutes: 10, codeTtlMinutes: 1 };

  it('codeTtlMinutes 1: the code expires after one minute', () => {
    const emitted = given([]).when(start('ch-1'), { policy }).events();
    expect(emitted[1]).toMatchObject({ type: 'CodeIssued', data: { expiresAt: iso(minutes(1)), ttlMinutes: 1 } });
    const history = [...emitted];
    given(history).when(verify('ch-1', 1), { now: seconds(59), policy }).then([{ type: 'ChallengePassed', data: { challengeId: 'ch-1', method: 'email' } }]);
    given(history).when(verify('ch-1', 1), { now: seconds(60), policy }).thenThrows('code_expired');
  });

  it('maxFailedAttempts 5 and lockoutMinutes 10: 4 attempts left after the first, the 5th locks for 10 minutes', () => {
    let history: AccountEvent[] = given([]).when(start('ch-1'), { policy }).events();
    for (let i = 1; i <= 4; i++) {
      const emitted = given(history).when(verify('ch-1', 9), { now: seconds(i), policy }).events();
      expect(emitted).toEqual([attemptFailed('ch-1', i, { max: 5 })]);
      history = [...history, ...emitted];
    }
    given(history)
      .when(verify('ch-1', 9), { now: seconds(5), policy })
      .then([attemptFailed('ch-1', 5, { max: 5 }), lockedAt(seconds(5), 10, 5), lockNotice]);
  });
});
