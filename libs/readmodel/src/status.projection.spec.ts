import { accountStream, DEFAULT_POLICY, MAX_TRUSTED_DEVICES, policyStream } from '@twostep/domain';
import { describeEvent } from './describe';
import { foldPolicy } from './policy-fold';
import { emptyStatus, presentStatus, projectStatus } from './status.projection';
import { storedEvent } from './testing/read-model.contract';
import type { StatusView } from './views';

/** The pure reducers the store adapters apply (the adapters' own behaviour is the contract suite's). */
const stream = accountStream('store-1', 'alice');
const trusted = (revision: number, deviceId: string, expiresAt: string, label?: string) =>
  storedEvent(stream, revision, revision + 1, 'DeviceTrusted', { deviceId, tokenHash: `hash-of-${deviceId}`, expiresAt, ...(label ? { label } : {}) });
const fold = (events: ReturnType<typeof storedEvent>[]) => events.reduce<StatusView | null>((view, event) => projectStatus(view, event), null)!;

describe('status view: remembered devices', () => {
  it('DeviceTrusted adds the device with its label (null without one) and the event time as createdAt, never the token hash', () => {
    const events = [trusted(0, 'dev-a', '2025-01-05T00:00:00.000Z', 'Safari on iPhone'), trusted(1, 'dev-b', '2025-01-06T00:00:00.000Z')];
    const view = fold(events);
    expect(view.trustedDevices).toEqual([
      { deviceId: 'dev-a', label: 'Safari on iPhone', createdAt: events[0]!.metadata.at, expiresAt: '2025-01-05T00:00:00.000Z' },
      { deviceId: 'dev-b', label: null, createdAt: events[1]!.metadata.at, expiresAt: '2025-01-06T00:00:00.000Z' },
    ]);
    expect(JSON.stringify(view)).not.toContain('hash-of-');
  });

  it('TrustedDeviceRevoked removes that device only', () => {
    const view = fold([
      trusted(0, 'dev-a', '2025-01-05T00:00:00.000Z'),
      trusted(1, 'dev-b', '2025-01-05T00:00:00.000Z'),
      storedEvent(stream, 2, 3, 'TrustedDeviceRevoked', { deviceId: 'dev-a', by: 'admin', operatorId: 'root' }),
    ]);
    expect(view.trustedDevices.map((device) => device.deviceId)).toEqual(['dev-b']);
    expect(view.revision).toBe(2);
  });

  it(`keeps the newest ${MAX_TRUSTED_DEVICES}, as the decision state does`, () => {
    const view = fold(Array.from({ length: MAX_TRUSTED_DEVICES + 2 }, (_, i) => trusted(i, `dev-${i}`, '2025-01-05T00:00:00.000Z')));
    expect(view.trustedDevices.map((device) => device.deviceId)).toEqual(Array.from({ length: MAX_TRUSTED_DEVICES }, (_, i) => `dev-${i + 2}`));
  });

  it('presentStatus leaves expired devices out, and fills label and createdAt with null in a view stored before they were projected', () => {
    const stored: StatusView = {
      ...emptyStatus('store-1', 'alice'),
      trustedDevices: [
        { deviceId: 'old', expiresAt: '2025-01-05T00:00:00.000Z' } as unknown as StatusView['trustedDevices'][number],
        { deviceId: 'gone', label: 'x', createdAt: '2025-01-01T00:00:00.000Z', expiresAt: '2025-01-02T00:00:00.000Z' },
      ],
    };
    expect(presentStatus(stored, new Date('2025-01-03T00:00:00.000Z'), DEFAULT_POLICY).trustedDevices).toEqual([
      { deviceId: 'old', label: null, createdAt: null, expiresAt: '2025-01-05T00:00:00.000Z' },
    ]);
  });
});

describe('event log wording for remembered devices', () => {
  it.each([
    [{ deviceId: 'd1', tokenHash: 'h', expiresAt: '2026-01-01T00:00:00.000Z', label: 'Firefox on Linux' }, 'Device remembered (Firefox on Linux) until 2026-01-01T00:00:00.000Z; device id d1'],
    [{ deviceId: 'd1', tokenHash: 'h', expiresAt: '2026-01-01T00:00:00.000Z' }, 'Device d1 remembered until 2026-01-01T00:00:00.000Z'],
  ])('DeviceTrusted %j reads "%s"', (data, text) => {
    expect(describeEvent(storedEvent(stream, 0, 1, 'DeviceTrusted', data))).toBe(text);
  });

  it.each([
    [{ deviceId: 'd1', by: 'customer' }, 'Remembered device d1 revoked by the customer'],
    [{ deviceId: 'd1', by: 'operator', operatorId: 'ann' }, 'Remembered device d1 revoked by reseller ann'],
    [{ deviceId: 'd1', by: 'admin', operatorId: 'root' }, 'Remembered device d1 revoked by admin root'],
  ])('TrustedDeviceRevoked %j reads "%s"', (data, text) => {
    expect(describeEvent(storedEvent(stream, 0, 1, 'TrustedDeviceRevoked', data))).toBe(text);
  });
});

describe('foldPolicy (read side) folds through the domain evolve, upcast included', () => {
  it('an old PolicyUpdated without a later setting gives that setting its default', () => {
    const { trustedDeviceDays: _missing, ...older } = { ...DEFAULT_POLICY, codeTtlMinutes: 20 };
    const policy = foldPolicy([storedEvent(policyStream('store-1'), 0, 1, 'PolicyUpdated', { tenantId: 'store-1', policy: older, changed: ['codeTtlMinutes'] })]);
    expect(policy).toEqual({ ...DEFAULT_POLICY, codeTtlMinutes: 20 });
    expect(policy.trustedDeviceDays).toBe(DEFAULT_POLICY.trustedDeviceDays);
  });
});

describe('status view: passkeys and methods', () => {
  const enabled = storedEvent(stream, 0, 1, 'TwoFactorEnabled', { method: 'totp', recoveryCodeHashes: ['a', 'b'], confirmedStep: 1 });
  const registered = (revision: number, passkeyId: string) =>
    storedEvent(stream, revision, revision + 1, 'PasskeyRegistered', { passkeyId, credentialId: `cred-${passkeyId}`, name: `Key ${passkeyId}`, publicKey: `cose-${passkeyId}`, counter: 0, transports: [] });

  it('lists passkeys by id, name and times (never the credential or key) and methods totp + webauthn', () => {
    const events = [enabled, registered(1, 'pk-1'), registered(2, 'pk-2')];
    const view = fold(events);
    expect(view.passkeys).toEqual([
      { passkeyId: 'pk-1', name: 'Key pk-1', createdAt: events[1]!.metadata.at, lastUsedAt: null },
      { passkeyId: 'pk-2', name: 'Key pk-2', createdAt: events[2]!.metadata.at, lastUsedAt: null },
    ]);
    expect(view.methods).toEqual(['totp', 'webauthn']);
    expect(JSON.stringify(view)).not.toMatch(/cose-|cred-/);
  });

  it('a passkey login sets lastUsedAt; removing the last one leaves totp; disable leaves nothing', () => {
    const passed = storedEvent(stream, 2, 3, 'ChallengePassed', { challengeId: 'c', method: 'webauthn', passkey: { passkeyId: 'pk-1', counter: 3 } });
    const used = fold([enabled, registered(1, 'pk-1'), passed]);
    expect(used.passkeys![0]!.lastUsedAt).toBe(passed.metadata.at);
    const removed = fold([enabled, registered(1, 'pk-1'), storedEvent(stream, 2, 3, 'PasskeyRemoved', { passkeyId: 'pk-1', by: 'customer' })]);
    expect({ passkeys: removed.passkeys, methods: removed.methods }).toEqual({ passkeys: [], methods: ['totp'] });
    const disabled = fold([enabled, registered(1, 'pk-1'), storedEvent(stream, 2, 3, 'PasskeysRemoved', { reason: 'disabled', count: 1 }), storedEvent(stream, 3, 4, 'TwoFactorDisabled', { by: 'customer', passwordConfirmed: true })]);
    expect({ passkeys: disabled.passkeys, methods: disabled.methods }).toEqual({ passkeys: [], methods: [] });
  });

  it('presentStatus: email by policy is methods [email]; a view stored before passkeys gets both fields from the rest', () => {
    expect(presentStatus(emptyStatus('store-1', 'bob'), new Date(), { emailOtpRequired: true }).methods).toEqual(['email']);
    const { passkeys: _passkeys, methods: _methods, ...old } = fold([enabled]);
    const presented = presentStatus(old as StatusView, new Date(), DEFAULT_POLICY);
    expect({ passkeys: presented.passkeys, methods: presented.methods }).toEqual({ passkeys: [], methods: ['totp'] });
  });

  it('event-log wording for the passkey events', () => {
    expect(describeEvent(registered(1, 'pk-1'))).toBe('Passkey "Key pk-1" added; passkey id pk-1');
    expect(describeEvent(storedEvent(stream, 2, 3, 'PasskeyRemoved', { passkeyId: 'pk-1', by: 'operator', operatorId: 'ann' }))).toBe('Passkey pk-1 removed by reseller ann');
    expect(describeEvent(storedEvent(stream, 2, 3, 'ChallengePassed', { challengeId: 'c', method: 'webauthn', passkey: { passkeyId: 'pk-1', counter: 3 } }))).toBe('Login verified (passkey pk-1)');
    expect(describeEvent(storedEvent(stream, 2, 3, 'AttemptFailed', { challengeId: 'c', method: 'webauthn', reason: 'counter_regressed', failedAttempts: 1, attemptsLeft: 2 }))).toBe(
      'Failed passkey attempt (passkey signature counter did not advance: possibly a cloned authenticator), 2 attempts left',
    );
  });
});
