import { challengeRequirement, isEnabled, RECOVERY_CODE_COUNT, recoveryCodesOf } from '.';
import type { AccountEvent } from '../events';
import { DEFAULT_POLICY } from '../policy';
import {
  STEP,
  T0,
  attemptFailed,
  days,
  deviceTrusted,
  given,
  iso,
  minutes,
  recoveryHashes,
  seconds,
  secret,
  totpChallenge,
  totpEnabled,
} from '../testing/decider-spec';

const confirm = (matchedStep: number | null, codes: string[] = recoveryHashes()) =>
  ({ type: 'ConfirmTotpSetup', matchedStep, recoveryCodeHashes: codes }) as const;
const verify = (challengeId: string, matchedStep: number | null) =>
  ({ type: 'VerifyChallenge', challengeId, proof: { kind: 'totp', matchedStep } }) as const;
const useRecovery = (challengeId: string, recoveryCodeHash: string) =>
  ({ type: 'UseRecoveryCode', challengeId, recoveryCodeHash }) as const;

describe('TOTP setup (seed 000: scan, confirm with a code, then 10 recovery codes)', () => {
  it('setup records the fresh secret as pending and 2FA is not enabled until it is confirmed', () => {
    const fresh = secret('k1', 'fresh');
    given([])
      .when({ type: 'BeginTotpSetup', secret: fresh })
      .then([{ type: 'TotpSetupStarted', data: { secret: fresh } }]);
    given([])
      .when({ type: 'BeginTotpSetup', secret: fresh })
      .thenState((state) => {
        expect(state.pendingTotp).toEqual({ secret: fresh });
        expect(state.factor).toEqual({ status: 'off' });
        expect(isEnabled(state)).toBe(false);
        expect(challengeRequirement(state, DEFAULT_POLICY, T0)).toEqual({ required: false, reason: 'not_enrolled' });
      });
  });

  it('setting up twice keeps only the newest pending secret, and confirming enables that one', () => {
    const first = secret('k1', 'first');
    const second = secret('k1', 'second');
    given([
      { type: 'TotpSetupStarted', data: { secret: first } },
      { type: 'TotpSetupStarted', data: { secret: second } },
    ])
      .when(confirm(STEP))
      .thenState((state) => expect(state.factor).toMatchObject({ status: 'on', secret: second }));
  });

  it('confirming with a code that matched no time step is invalid_code and emits nothing', () => {
    const error = given([{ type: 'TotpSetupStarted', data: { secret: secret() } }])
      .when(confirm(null))
      .thenThrows('invalid_code');
    expect(error.message).toMatch(/invalid authentication code/i);
  });

  it('confirming without a setup in progress is setup_not_started', () => {
    given([]).when(confirm(STEP)).thenThrows('setup_not_started');
  });

  it('a correct confirmation emits TwoFactorEnabled with exactly the 10 distinct recovery code hashes and enables 2FA', () => {
    const codes = recoveryHashes('fresh');
    expect(RECOVERY_CODE_COUNT).toBe(10);
    given([{ type: 'TotpSetupStarted', data: { secret: secret() } }])
      .when(confirm(STEP, codes))
      .then([{ type: 'TwoFactorEnabled', data: { method: 'totp', recoveryCodeHashes: codes, confirmedStep: STEP } }]);
    given([{ type: 'TotpSetupStarted', data: { secret: secret() } }])
      .when(confirm(STEP, codes))
      .thenState((state) => {
        expect(isEnabled(state)).toBe(true);
        expect(state.factor).toMatchObject({ status: 'on', secret: secret() });
        expect(state.pendingTotp).toBeNull();
        expect(recoveryCodesOf(state)).toEqual(codes);
      });
  });

  it.each([
    ['9 codes', recoveryHashes().slice(0, 9)],
    ['11 codes', [...recoveryHashes(), 'rc-11']],
    ['a duplicate among 10', [...recoveryHashes().slice(0, 9), 'rc-1']],
    ['no codes', []],
  ])('confirming with %s is refused', (_label, codes) => {
    const decide = () => given([{ type: 'TotpSetupStarted', data: { secret: secret() } }]).when(confirm(STEP, codes)).events();
    expect(decide).toThrow(/10 distinct recovery codes/);
  });

  it('the time step that confirmed the setup counts as used: logging in with the same step is refused as code_reused', () => {
    given([...totpEnabled({ step: STEP }), totpChallenge('ch-1')])
      .when(verify('ch-1', STEP))
      .then([attemptFailed('ch-1', 1, { method: 'totp', reason: 'code_reused' })]);
  });
});

describe('TOTP login (seed 000: a 2FA prompt asks for the current authenticator code)', () => {
  it('a login of an enabled account starts a totp challenge that sends no email (and needs no prepared code)', () => {
    given(totpEnabled())
      .when({ type: 'StartChallenge', challengeId: 'ch-1' })
      .then([{ type: 'ChallengeStarted', data: { challengeId: 'ch-1', method: 'totp', expiresAt: iso(minutes(10)) } }]);
    expect(challengeRequirement(given(totpEnabled()).state, DEFAULT_POLICY, T0)).toEqual({ required: true, method: 'totp' });
  });

  it('an authenticator-enrolled account answers with its app even where the store requires email codes', () => {
    const state = given(totpEnabled()).state;
    expect(challengeRequirement(state, { ...DEFAULT_POLICY, emailOtpRequired: true }, T0)).toEqual({
      required: true,
      method: 'totp',
    });
  });

  it('a code that matched no step in the window is a failed attempt with 2 attempts left', () => {
    given([...totpEnabled(), totpChallenge('ch-1')])
      .when(verify('ch-1', null))
      .then([attemptFailed('ch-1', 1, { method: 'totp', reason: 'wrong_code' })]);
  });

  it('a step older than the last accepted one is refused as code_reused and counts as a failed attempt', () => {
    given([...totpEnabled({ step: STEP }), totpChallenge('ch-1')])
      .when(verify('ch-1', STEP - 1))
      .thenState((state) => {
        expect(state.lockout).toEqual({ status: 'counting', failedAttempts: 1 });
        expect(state.challenge?.id).toBe('ch-1');
      });
    given([...totpEnabled({ step: STEP }), totpChallenge('ch-1')])
      .when(verify('ch-1', STEP - 1))
      .then([attemptFailed('ch-1', 1, { method: 'totp', reason: 'code_reused' })]);
  });

  it('a later step passes with ChallengePassed carrying the step, which then counts as used', () => {
    given([...totpEnabled({ step: STEP }), totpChallenge('ch-1', seconds(30))])
      .when(verify('ch-1', STEP + 1), { now: seconds(30) })
      .then([{ type: 'ChallengePassed', data: { challengeId: 'ch-1', method: 'totp', totpStep: STEP + 1 } }]);

    const passed: AccountEvent = { type: 'ChallengePassed', data: { challengeId: 'ch-1', method: 'totp', totpStep: STEP + 1 } };
    given([...totpEnabled({ step: STEP }), totpChallenge('ch-1'), passed, totpChallenge('ch-2', seconds(30))])
      .when(verify('ch-2', STEP + 1), { now: seconds(30) })
      .then([attemptFailed('ch-2', 1, { method: 'totp', reason: 'code_reused' })]);
  });

  it('a passed challenge is closed: verifying it again is challenge_not_found', () => {
    const passed: AccountEvent = { type: 'ChallengePassed', data: { challengeId: 'ch-1', method: 'totp', totpStep: STEP + 1 } };
    given([...totpEnabled(), totpChallenge('ch-1'), passed])
      .when(verify('ch-1', STEP + 2))
      .thenThrows('challenge_not_found');
  });

  it('a totp challenge can be answered until it expires, not at or after its expiry', () => {
    given([...totpEnabled(), totpChallenge('ch-1')])
      .when(verify('ch-1', STEP + 20), { now: new Date(minutes(10).getTime() - 1) })
      .then([{ type: 'ChallengePassed', data: { challengeId: 'ch-1', method: 'totp', totpStep: STEP + 20 } }]);
    given([...totpEnabled(), totpChallenge('ch-1')])
      .when(verify('ch-1', STEP + 20), { now: minutes(10) })
      .thenThrows('challenge_expired');
  });
});

describe('recovery codes (seed 000: each works once, 2FA stays on, a reset is recommended)', () => {
  const enabled = () => [...totpEnabled({ codes: recoveryHashes('old') }), totpChallenge('ch-1')];

  it('a recovery code logs in once: RecoveryCodeUsed, 2FA stays enabled and a reset is recommended', () => {
    given(enabled())
      .when(useRecovery('ch-1', 'old-3'))
      .then([
        { type: 'RecoveryCodeUsed', data: { challengeId: 'ch-1', recoveryCodeHash: 'old-3', recoveryCodesRemaining: 9 } },
      ]);
    given(enabled())
      .when(useRecovery('ch-1', 'old-3'))
      .thenState((state) => {
        expect(isEnabled(state)).toBe(true);
        expect(state.factor).toMatchObject({ resetRecommended: true });
        expect(recoveryCodesOf(state)).toHaveLength(9);
        expect(recoveryCodesOf(state)).not.toContain('old-3');
        expect(state.challenge).toBeNull();
        expect(challengeRequirement(state, DEFAULT_POLICY, T0)).toEqual({ required: true, method: 'totp' });
      });
  });

  it('the same recovery code a second time is a failed attempt', () => {
    const used: AccountEvent = {
      type: 'RecoveryCodeUsed',
      data: { challengeId: 'ch-1', recoveryCodeHash: 'old-3', recoveryCodesRemaining: 9 },
    };
    given([...enabled(), used, totpChallenge('ch-2')])
      .when(useRecovery('ch-2', 'old-3'))
      .then([attemptFailed('ch-2', 1, { method: 'recovery_code', reason: 'wrong_code' })]);
  });

  it('an unknown recovery code is a failed attempt', () => {
    given(enabled())
      .when(useRecovery('ch-1', 'nope'))
      .then([attemptFailed('ch-1', 1, { method: 'recovery_code', reason: 'wrong_code' })]);
  });

  it('each of the 10 codes works exactly once, counting down to 0 remaining', () => {
    let events: AccountEvent[] = totpEnabled({ codes: recoveryHashes('old') });
    recoveryHashes('old').forEach((hash, i) => {
      const challengeId = `ch-${i}`;
      events = [...events, totpChallenge(challengeId)];
      const emitted = given(events).when(useRecovery(challengeId, hash)).events();
      expect(emitted[0]).toEqual({
        type: 'RecoveryCodeUsed',
        data: { challengeId, recoveryCodeHash: hash, recoveryCodesRemaining: 9 - i },
      });
      events = [...events, ...emitted];
    });
    expect(recoveryCodesOf(given(events).state)).toEqual([]);
    expect(isEnabled(given(events).state)).toBe(true);
  });

  it('recovery codes only stand in for an authenticator code, not for an email code', () => {
    given([
      { type: 'ChallengeStarted', data: { challengeId: 'ch-1', method: 'email', expiresAt: iso(minutes(10)) } },
    ])
      .when(useRecovery('ch-1', 'old-1'))
      .thenThrows('recovery_not_available');
  });

  it('regenerating codes replaces them, invalidates the old ones and clears the reset recommendation', () => {
    const used: AccountEvent = {
      type: 'RecoveryCodeUsed',
      data: { challengeId: 'ch-1', recoveryCodeHash: 'old-3', recoveryCodesRemaining: 9 },
    };
    const fresh = recoveryHashes('new');
    given([...enabled(), used])
      .when({ type: 'RegenerateRecoveryCodes', recoveryCodeHashes: fresh })
      .then([{ type: 'RecoveryCodesRegenerated', data: { recoveryCodeHashes: fresh } }]);
    const regenerated: AccountEvent = { type: 'RecoveryCodesRegenerated', data: { recoveryCodeHashes: fresh } };
    const after = given([...enabled(), used, regenerated]).state;
    expect(after.factor).toMatchObject({ resetRecommended: false });
    expect(recoveryCodesOf(after)).toEqual(fresh);

    given([...enabled(), used, regenerated, totpChallenge('ch-2')])
      .when(useRecovery('ch-2', 'old-4'))
      .then([attemptFailed('ch-2', 1, { method: 'recovery_code' })]);
    given([...enabled(), used, regenerated, totpChallenge('ch-2')])
      .when(useRecovery('ch-2', 'new-4'))
      .then([{ type: 'RecoveryCodeUsed', data: { challengeId: 'ch-2', recoveryCodeHash: 'new-4', recoveryCodesRemaining: 9 } }]);
  });

  it('regenerating needs exactly 10 distinct codes and an enabled account', () => {
    expect(() =>
      given(enabled()).when({ type: 'RegenerateRecoveryCodes', recoveryCodeHashes: recoveryHashes().slice(1) }).events(),
    ).toThrow(/10 distinct/);
    given([]).when({ type: 'RegenerateRecoveryCodes', recoveryCodeHashes: recoveryHashes() }).thenThrows('not_enabled');
  });

  it('setting 2FA up again and confirming also clears the reset recommendation and replaces the codes', () => {
    const used: AccountEvent = {
      type: 'RecoveryCodeUsed',
      data: { challengeId: 'ch-1', recoveryCodeHash: 'old-3', recoveryCodesRemaining: 9 },
    };
    const newSecret = secret('k1', 'new-phone');
    given([...enabled(), used, { type: 'TotpSetupStarted', data: { secret: newSecret } }])
      .when(confirm(STEP + 4, recoveryHashes('new')), { now: seconds(120) })
      .thenState((state) => {
        expect(state.factor).toMatchObject({ resetRecommended: false });
        expect(state.factor).toMatchObject({ status: 'on', secret: newSecret });
        expect(recoveryCodesOf(state)).toEqual(recoveryHashes('new'));
      });
  });

  it('while a new setup is pending, the old authenticator still guards the login', () => {
    const state = given([...totpEnabled(), { type: 'TotpSetupStarted', data: { secret: secret('k1', 'pending') } }]).state;
    expect(state.factor).toMatchObject({ status: 'on', secret: secret() });
    expect(challengeRequirement(state, DEFAULT_POLICY, T0)).toEqual({ required: true, method: 'totp' });
  });
});

describe('customer disable (seed 000: password confirmed, everything invalidated, re-enable from scratch)', () => {
  const disable = { type: 'DisableTwoFactor', passwordConfirmed: true } as const;

  it('disabling emits TwoFactorDisabled and invalidates the secret, the recovery codes and any open challenge', () => {
    given([...totpEnabled(), totpChallenge('ch-1')])
      .when(disable)
      .then([{ type: 'TwoFactorDisabled', data: { by: 'customer', passwordConfirmed: true } }]);
    given([...totpEnabled(), totpChallenge('ch-1')])
      .when(disable)
      .thenState((state) => {
        expect(isEnabled(state)).toBe(false);
        expect(state.factor).toEqual({ status: 'off' });
        expect(state.pendingTotp).toBeNull();
        expect(recoveryCodesOf(state)).toEqual([]); // with the factor off there is nothing to recommend resetting
        expect(state.challenge).toBeNull();
        expect(challengeRequirement(state, DEFAULT_POLICY, T0)).toEqual({ required: false, reason: 'not_enrolled' });
      });
  });

  it('disabling revokes trusted devices', () => {
    given([...totpEnabled(), deviceTrusted(T0)])
      .when(disable)
      .then([
        { type: 'TwoFactorDisabled', data: { by: 'customer', passwordConfirmed: true } },
        { type: 'TrustedDevicesRevoked', data: { reason: 'disabled', count: 1 } },
      ]);
  });

  it('re-enabling after a disable starts from scratch: confirm alone is setup_not_started', () => {
    const disabled: AccountEvent = { type: 'TwoFactorDisabled', data: { by: 'customer', passwordConfirmed: true } };
    given([...totpEnabled(), disabled]).when(confirm(STEP + 10)).thenThrows('setup_not_started');
    // A setup that was pending when 2FA was disabled is gone too.
    given([...totpEnabled(), { type: 'TotpSetupStarted', data: { secret: secret('k1', 'p') } }, disabled])
      .when(confirm(STEP + 10))
      .thenThrows('setup_not_started');
  });

  it('after re-enabling, the old recovery codes do not work and the new ones do', () => {
    const disabled: AccountEvent = { type: 'TwoFactorDisabled', data: { by: 'customer', passwordConfirmed: true } };
    const history = [
      ...totpEnabled({ codes: recoveryHashes('old') }),
      disabled,
      ...totpEnabled({ codes: recoveryHashes('new'), secret: secret('k1', 'again'), step: STEP + 100 }),
      totpChallenge('ch-9'),
    ];
    given(history).when(useRecovery('ch-9', 'old-1')).then([attemptFailed('ch-9', 1, { method: 'recovery_code' })]);
    given(history)
      .when(useRecovery('ch-9', 'new-1'))
      .then([{ type: 'RecoveryCodeUsed', data: { challengeId: 'ch-9', recoveryCodeHash: 'new-1', recoveryCodesRemaining: 9 } }]);
  });

  it('disabling when 2FA is not enabled is not_enabled (a pending setup is not enabled)', () => {
    given([]).when(disable).thenThrows('not_enabled');
    given([{ type: 'TotpSetupStarted', data: { secret: secret() } }]).when(disable).thenThrows('not_enabled');
  });
});

describe('reseller disable (seed 000: only when enabled, logged in the event log)', () => {
  it('an operator disabling an enabled account emits ResellerDisabled with the operator and reason', () => {
    given(totpEnabled())
      .when({ type: 'ResellerDisable', operatorId: 'op-7', reason: 'lost phone and codes' })
      .then([{ type: 'ResellerDisabled', data: { operatorId: 'op-7', reason: 'lost phone and codes' } }]);
    given(totpEnabled())
      .when({ type: 'ResellerDisable', operatorId: 'op-7' })
      .then([{ type: 'ResellerDisabled', data: { operatorId: 'op-7' } }]);
  });

  it('the customer can then log in without 2FA and must set it up from the beginning', () => {
    given([...totpEnabled(), deviceTrusted(T0)])
      .when({ type: 'ResellerDisable', operatorId: 'op-7' })
      .thenState((state) => {
        expect(state.factor).toEqual({ status: 'off' });
        expect(recoveryCodesOf(state)).toEqual([]);
        expect(state.trustedDevices).toEqual([]);
        expect(challengeRequirement(state, DEFAULT_POLICY, T0)).toEqual({ required: false, reason: 'not_enrolled' });
      });
    const disabled: AccountEvent = { type: 'ResellerDisabled', data: { operatorId: 'op-7' } };
    given([...totpEnabled(), disabled]).when(confirm(STEP + 10)).thenThrows('setup_not_started');
  });

  it('an operator cannot disable an account whose 2FA is off: not_enabled, nothing emitted', () => {
    given([]).when({ type: 'ResellerDisable', operatorId: 'op-7' }).thenThrows('not_enabled');
    const disabled: AccountEvent = { type: 'TwoFactorDisabled', data: { by: 'customer', passwordConfirmed: true } };
    given([...totpEnabled(), disabled]).when({ type: 'ResellerDisable', operatorId: 'op-7' }).thenThrows('not_enabled');
  });

  it("where the tenant requires email codes, an account without TOTP cannot be disabled alone: enforced_by_policy", () => {
    const emailRequired = { policy: { emailOtpRequired: true } };
    given([]).when({ type: 'ResellerDisable', operatorId: 'op-7' }, emailRequired).thenThrows('enforced_by_policy');
    given([]).when({ type: 'DisableTwoFactor', passwordConfirmed: true }, emailRequired).thenThrows('enforced_by_policy');
    // With TOTP on, the disable turns TOTP off; the tenant's email codes then apply.
    given(totpEnabled())
      .when({ type: 'ResellerDisable', operatorId: 'op-7' }, emailRequired)
      .thenState((state) => expect(challengeRequirement(state, { ...DEFAULT_POLICY, emailOtpRequired: true }, T0)).toMatchObject({ required: true, method: 'email' }));
  });
});

describe('password reset (both seeds: 2FA stays and is required on the next login)', () => {
  it('a reset is recorded and 2FA stays enabled', () => {
    given(totpEnabled()).when({ type: 'RecordPasswordReset' }).then([{ type: 'PasswordResetRecorded', data: {} }]);
    given(totpEnabled())
      .when({ type: 'RecordPasswordReset' })
      .thenState((state) => {
        expect(isEnabled(state)).toBe(true);
        expect(challengeRequirement(state, DEFAULT_POLICY, T0)).toEqual({ required: true, method: 'totp' });
      });
  });

  it('a reset revokes trusted devices so the next login needs the code', () => {
    given([...totpEnabled(), deviceTrusted(T0, 'dev-a'), deviceTrusted(T0, 'dev-b')])
      .when({ type: 'RecordPasswordReset' }, { now: days(1) })
      .then([
        { type: 'PasswordResetRecorded', data: {} },
        { type: 'TrustedDevicesRevoked', data: { reason: 'password_reset', count: 2 } },
      ]);
    given([...totpEnabled(), deviceTrusted(T0, 'dev-a')])
      .when({ type: 'RecordPasswordReset' }, { now: days(1) })
      .thenState((state) => {
        expect(challengeRequirement(state, DEFAULT_POLICY, days(1), 'dev-a')).toEqual({ required: true, method: 'totp' });
      });
  });
});
