import { challengeRequirement, MAX_TRUSTED_DEVICES, type AccountCommand } from '.';
import type { AccountEvent } from '../events';
import { DEFAULT_POLICY } from '../policy';
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
} from '../testing/decider-spec';

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
      .when({ type: 'VerifyChallenge', challengeId: 'ch-1', proof: { kind: 'email', codeHash: 'code-hash-1' }, rememberDevice: remember }, { now })
      .then([
        { type: 'ChallengePassed', data: { challengeId: 'ch-1', method: 'email' } },
        { type: 'DeviceTrusted', data: { ...remember, expiresAt: iso(days(2, now)) } },
      ]);
  });

  it('passing a totp challenge with rememberDevice trusts the device for the tenant trustedDeviceDays', () => {
    given([...totpEnabled(), totpChallenge('ch-1')])
      .when(
        { type: 'VerifyChallenge', challengeId: 'ch-1', proof: { kind: 'totp', matchedStep: STEP + 1 }, rememberDevice: remember },
        { policy: { trustedDeviceDays: 365 } },
      )
      .then([
        { type: 'ChallengePassed', data: { challengeId: 'ch-1', method: 'totp', totpStep: STEP + 1 } },
        { type: 'DeviceTrusted', data: { ...remember, expiresAt: iso(days(365)) } },
      ]);
  });

  it('a failed attempt with rememberDevice trusts nothing', () => {
    const emitted = given(emailChallenge('ch-1'))
      .when({ type: 'VerifyChallenge', challengeId: 'ch-1', proof: { kind: 'email', codeHash: 'wrong' }, rememberDevice: remember })
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

describe('naming a remembered device (deviceLabel on verify)', () => {
  it('the label the caller gives is stored in DeviceTrusted', () => {
    const now = seconds(20);
    given(emailChallenge('ch-1'))
      .when(
        { type: 'VerifyChallenge', challengeId: 'ch-1', proof: { kind: 'email', codeHash: 'code-hash-1' }, rememberDevice: { ...remember, label: 'Firefox on Linux' } },
        { now },
      )
      .then([
        { type: 'ChallengePassed', data: { challengeId: 'ch-1', method: 'email' } },
        { type: 'DeviceTrusted', data: { ...remember, expiresAt: iso(days(2, now)), label: 'Firefox on Linux' } },
      ]);
  });

  it('without a label DeviceTrusted keeps its original shape (no label key)', () => {
    const [, trusted] = given([...totpEnabled(), totpChallenge('ch-1')])
      .when({ type: 'VerifyChallenge', challengeId: 'ch-1', proof: { kind: 'totp', matchedStep: STEP + 1 }, rememberDevice: remember })
      .events();
    expect(trusted).toEqual({ type: 'DeviceTrusted', data: { ...remember, expiresAt: iso(days(2)) } });
    expect(Object.keys(trusted!.data)).not.toContain('label');
  });

  it('a failed attempt stores no label either', () => {
    const emitted = given(emailChallenge('ch-1'))
      .when({ type: 'VerifyChallenge', challengeId: 'ch-1', proof: { kind: 'email', codeHash: 'wrong' }, rememberDevice: { ...remember, label: 'Phone' } })
      .events();
    expect(emitted.map((event) => event.type)).toEqual(['AttemptFailed']);
  });
});

describe('revoking one remembered device (RevokeTrustedDevice → TrustedDeviceRevoked)', () => {
  const twoDevices = [...totpEnabled(), deviceTrusted(T0, 'dev-a', 2, 'Firefox on Linux'), deviceTrusted(T0, 'dev-b')];
  const revoke = (deviceId: string, by: 'customer' | 'operator' | 'admin' = 'customer', operatorId?: string): AccountCommand => ({
    type: 'RevokeTrustedDevice',
    deviceId,
    by,
    ...(operatorId ? { operatorId } : {}),
  });

  it('the customer revokes one device: the event names the device and who, nothing else', () => {
    given(twoDevices).when(revoke('dev-dev-a'), { now: days(1) }).then([{ type: 'TrustedDeviceRevoked', data: { deviceId: 'dev-dev-a', by: 'customer' } }]);
  });

  it('a customer revoke records no operatorId even when one is passed', () => {
    given(twoDevices)
      .when({ type: 'RevokeTrustedDevice', deviceId: 'dev-dev-a', by: 'customer', operatorId: 'sneaky' }, { now: days(1) })
      .then([{ type: 'TrustedDeviceRevoked', data: { deviceId: 'dev-dev-a', by: 'customer' } }]);
  });

  it.each<['operator' | 'admin', string]>([
    ['operator', 'reseller-ann'],
    ['admin', 'root'],
  ])('a revoke by %s records the operatorId', (by, operatorId) => {
    given(twoDevices).when(revoke('dev-dev-b', by, operatorId), { now: days(1) }).then([{ type: 'TrustedDeviceRevoked', data: { deviceId: 'dev-dev-b', by, operatorId } }]);
  });

  it('an operator or admin revoke without operatorId is a programming error, not an event', () => {
    expect(() => given(twoDevices).when(revoke('dev-dev-a', 'operator'), { now: days(1) }).events()).toThrow(/operatorId/);
    expect(() => given(twoDevices).when(revoke('dev-dev-a', 'admin'), { now: days(1) }).events()).toThrow(/operatorId/);
  });

  it('after the revoke that device token needs the second step again; the other device still skips', () => {
    const emitted = given(twoDevices).when(revoke('dev-dev-a'), { now: days(1) }).events();
    const after = [...twoDevices, ...emitted];
    const state = given(after).state;
    expect(state.trustedDevices.map((device) => device.deviceId)).toEqual(['dev-dev-b']);
    expect(challengeRequirement(state, DEFAULT_POLICY, days(1), 'dev-a')).toEqual({ required: true, method: 'totp' });
    expect(challengeRequirement(state, DEFAULT_POLICY, days(1), 'dev-b')).toEqual({ required: false, reason: 'trusted_device' });
    expect(given(after).when(start('ch-9', 'dev-a'), { now: days(1) }).events().map((event) => event.type)).toEqual(['ChallengeStarted']);
    given(after).when(start('ch-9', 'dev-b'), { now: days(1) }).then([]);
  });

  it('the same holds for an email-code account (tenant policy, no enrolment)', () => {
    const history = [deviceTrusted(T0, 'dev-a'), deviceTrusted(T0, 'dev-b')];
    const emitted = given(history).when(revoke('dev-dev-b'), { now: days(1), ...EMAIL }).events();
    const after = [...history, ...emitted];
    expect(given(after).when(start('ch-1', 'dev-b'), { now: days(1), ...EMAIL }).events().map((event) => event.type)).toEqual(['ChallengeStarted', 'CodeIssued']);
    given(after).when(start('ch-1', 'dev-a'), { now: days(1), ...EMAIL }).then([]);
  });

  it('an id no device of the account has is device_not_found', () => {
    given(twoDevices).when(revoke('dev-nope'), { now: days(1) }).thenThrows('device_not_found');
    given([]).when(revoke('dev-dev-a')).thenThrows('device_not_found');
  });

  it('an expired device is device_not_found (only active devices can be revoked)', () => {
    given(twoDevices).when(revoke('dev-dev-a'), { now: days(2) }).thenThrows('device_not_found');
    // One millisecond before expiry it is still active.
    given(twoDevices).when(revoke('dev-dev-a'), { now: new Date(days(2).getTime() - 1) }).then([{ type: 'TrustedDeviceRevoked', data: { deviceId: 'dev-dev-a', by: 'customer' } }]);
  });

  it('a device already revoked, one by one or all at once, is device_not_found', () => {
    const once = [...twoDevices, { type: 'TrustedDeviceRevoked', data: { deviceId: 'dev-dev-a', by: 'customer' } } as AccountEvent];
    given(once).when(revoke('dev-dev-a'), { now: days(1) }).thenThrows('device_not_found');
    const reset = [...twoDevices, { type: 'PasswordResetRecorded', data: {} } as AccountEvent, { type: 'TrustedDevicesRevoked', data: { reason: 'password_reset', count: 2 } } as AccountEvent];
    given(reset).when(revoke('dev-dev-b'), { now: days(1) }).thenThrows('device_not_found');
  });

  it('a device dropped by the cap is device_not_found', () => {
    const devices = Array.from({ length: MAX_TRUSTED_DEVICES + 1 }, (_, i) => deviceTrusted(T0, `h${i}`));
    given(devices).when(revoke('dev-h0')).thenThrows('device_not_found');
    given(devices).when(revoke('dev-h1')).then([{ type: 'TrustedDeviceRevoked', data: { deviceId: 'dev-h1', by: 'customer' } }]);
  });

  it('a lock does not stop a revoke: forgetting a device only ever asks for more', () => {
    const locked = [...twoDevices, { type: 'AccountLocked', data: { lockedUntil: iso(days(1, seconds(600))), failedAttempts: 3 } } as AccountEvent];
    given(locked).when(revoke('dev-dev-a'), { now: days(1) }).then([{ type: 'TrustedDeviceRevoked', data: { deviceId: 'dev-dev-a', by: 'customer' } }]);
  });

  it('revoking leaves everything else of the account as it was', () => {
    const before = given(twoDevices).state;
    given(twoDevices)
      .when(revoke('dev-dev-b'), { now: days(1) })
      .thenState((after) => {
        expect({ ...after, trustedDevices: [] }).toEqual({ ...before, trustedDevices: [] });
        expect(after.trustedDevices).toEqual([before.trustedDevices[0]]);
      });
  });

  it('the same device can be remembered again later, under a new id', () => {
    const revoked = [...twoDevices, { type: 'TrustedDeviceRevoked', data: { deviceId: 'dev-dev-a', by: 'customer' } } as AccountEvent];
    const again = [...revoked, deviceTrusted(days(1), 'dev-c')];
    expect(challengeRequirement(given(again).state, DEFAULT_POLICY, days(1), 'dev-c')).toEqual({ required: false, reason: 'trusted_device' });
    given(again).when(revoke('dev-dev-c'), { now: days(1) }).then([{ type: 'TrustedDeviceRevoked', data: { deviceId: 'dev-dev-c', by: 'customer' } }]);
  });
});
