import { challengeRequirement, MAX_TRUSTED_DEVICES, type AccountCommand } from './account';
import type { AccountEvent } from './events';
import { DEFAULT_POLICY } from './policy';
import {
  STEP,
  T0,
  contact,
  days,
  deviceTrusted,
  emailChallenge,
  given,
  iso,
  preparedCode,
  seconds,
  totpChallenge,
  totpEnabled,
} from './testing/decider-spec';

const EMAIL_POLICY = { ...DEFAULT_POLICY, emailOtpRequired: true };
const EMAIL = { policy: { emailOtpRequired: true } };
const ann = contact('ann@example.com');
const start = (challengeId: string, deviceTokenHash?: string) =>
  ({ type: 'StartChallenge', challengeId, contact: ann, code: preparedCode(1), deviceTokenHash }) as const;
const remember = { deviceId: 'dev-a', tokenHash: 'device-hash-a' };

describe('remember my device (seed 003: skips 2FA for trustedDeviceDays, then verification again)', () => {
  it('passing an email challenge with rememberDevice trusts the device until now + trustedDeviceDays', () => {
    const now = seconds(20);
    given(emailChallenge('ch-1'))
      .when({ type: 'VerifyChallenge', challengeId: 'ch-1', matchedStep: null, codeHash: 'code-hash-1', rememberDevice: remember }, { now })
      .then([
        { type: 'ChallengePassed', data: { challengeId: 'ch-1', method: 'email' } },
        { type: 'DeviceTrusted', data: { ...remember, expiresAt: iso(days(2, now)) } },
      ]);
  });

  it('passing a totp challenge with rememberDevice trusts the device for the tenant trustedDeviceDays', () => {
    given([...totpEnabled(), totpChallenge('ch-1')])
      .when(
        { type: 'VerifyChallenge', challengeId: 'ch-1', matchedStep: STEP + 1, codeHash: '', rememberDevice: remember },
        { policy: { trustedDeviceDays: 365 } },
      )
      .then([
        { type: 'ChallengePassed', data: { challengeId: 'ch-1', method: 'totp', totpStep: STEP + 1 } },
        { type: 'DeviceTrusted', data: { ...remember, expiresAt: iso(days(365)) } },
      ]);
  });

  it('a failed attempt with rememberDevice trusts nothing', () => {
    const emitted = given(emailChallenge('ch-1'))
      .when({ type: 'VerifyChallenge', challengeId: 'ch-1', matchedStep: null, codeHash: 'wrong', rememberDevice: remember })
      .events();
    expect(emitted.map((event) => event.type)).toEqual(['AttemptFailed']);
  });

  it('a valid device token skips the challenge: nothing is emitted and the requirement says trusted_device', () => {
    const history = [deviceTrusted(T0, 'dev-a')];
    given(history).when(start('ch-1', 'dev-a'), { now: days(1), ...EMAIL }).then([]);
    expect(challengeRequirement(given(history).state, EMAIL_POLICY, days(1), 'dev-a')).toEqual({
      required: false,
      reason: 'trusted_device',
    });
    // The same for an authenticator-app account.
    given([...totpEnabled(), deviceTrusted(T0, 'dev-a')]).when(start('ch-1', 'dev-a'), { now: days(1) }).then([]);
  });

  it('a device is trusted until 1 ms before its expiry and no longer at expiresAt', () => {
    const history = [deviceTrusted(T0, 'dev-a')];
    given(history).when(start('ch-1', 'dev-a'), { now: new Date(days(2).getTime() - 1), ...EMAIL }).then([]);
    const emitted = given(history).when(start('ch-1', 'dev-a'), { now: days(2), ...EMAIL }).events();
    expect(emitted.map((event) => event.type)).toEqual(['ChallengeStarted', 'CodeIssued']);
    expect(challengeRequirement(given(history).state, EMAIL_POLICY, days(2), 'dev-a')).toEqual({ required: true, method: 'email' });
  });

  it('a wrong device token hash does not skip', () => {
    const history = [deviceTrusted(T0, 'dev-a')];
    const emitted = given(history).when(start('ch-1', 'dev-b'), { now: days(1), ...EMAIL }).events();
    expect(emitted.map((event) => event.type)).toEqual(['ChallengeStarted', 'CodeIssued']);
    expect(challengeRequirement(given(history).state, EMAIL_POLICY, days(1), 'dev-b')).toEqual({ required: true, method: 'email' });
  });

  it.each<[string, AccountCommand, AccountEvent[]]>([
    [
      'a password reset',
      { type: 'RecordPasswordReset' },
      [
        { type: 'PasswordResetRecorded', data: {} },
        { type: 'TrustedDevicesRevoked', data: { reason: 'password_reset', count: 1 } },
      ],
    ],
    [
      'a customer disable',
      { type: 'DisableTwoFactor', passwordConfirmed: true },
      [
        { type: 'TwoFactorDisabled', data: { by: 'customer', passwordConfirmed: true } },
        { type: 'TrustedDevicesRevoked', data: { reason: 'disabled', count: 1 } },
      ],
    ],
    [
      'a reseller disable',
      { type: 'ResellerDisable', operatorId: 'op-1' },
      [
        { type: 'ResellerDisabled', data: { operatorId: 'op-1' } },
        { type: 'TrustedDevicesRevoked', data: { reason: 'reseller_disabled', count: 1 } },
      ],
    ],
  ])('after %s the device no longer skips (TrustedDevicesRevoked)', (_label, command, expected) => {
    const before = [...totpEnabled(), deviceTrusted(T0, 'dev-a')];
    const emitted = given(before).when(command, { now: days(1) }).then(expected);
    const after = given([...before, ...emitted]).state;
    // With the tenant requiring email codes, the device must not skip the (possibly now email-based) login.
    expect(challengeRequirement(after, EMAIL_POLICY, days(1), 'dev-a').required).toBe(true);
    const started = given([...before, ...emitted]).when(start('ch-9', 'dev-a'), { now: days(1), ...EMAIL }).events();
    expect(started.map((event) => event.type)).toContain('ChallengeStarted');
  });

  it('no TrustedDevicesRevoked is emitted when there is no active device', () => {
    given([...totpEnabled(), deviceTrusted(T0, 'dev-a')])
      .when({ type: 'RecordPasswordReset' }, { now: days(3) })
      .then([{ type: 'PasswordResetRecorded', data: {} }]);
  });

  it(`an account keeps at most ${MAX_TRUSTED_DEVICES} devices, dropping the oldest`, () => {
    const devices = Array.from({ length: MAX_TRUSTED_DEVICES + 1 }, (_, i) => deviceTrusted(T0, `dev-${i}`));
    const state = given(devices).state;
    expect(state.trustedDevices).toHaveLength(MAX_TRUSTED_DEVICES);
    expect(challengeRequirement(state, EMAIL_POLICY, T0, 'dev-0')).toEqual({ required: true, method: 'email' });
    expect(challengeRequirement(state, EMAIL_POLICY, T0, `dev-${MAX_TRUSTED_DEVICES}`)).toEqual({
      required: false,
      reason: 'trusted_device',
    });
  });
});
