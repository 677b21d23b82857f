import type { AccountCommand } from '.';
import type { AccountEvent, NotificationKind } from '../events';
import {
  STEP,
  attemptFailed,
  contact,
  emailChallenge,
  given,
  recoveryHashes,
  secret,
  totpChallenge,
  totpEnabled,
} from '../testing/decider-spec';

const ann = contact('ann@example.com');
const notice = (kind: NotificationKind): AccountEvent => ({
  type: 'SecurityNotificationQueued',
  data: { kind, recipient: ann.recipient, maskedRecipient: ann.maskedRecipient },
});

const failedTwice = (challengeId: string): AccountEvent[] => [
  attemptFailed(challengeId, 1, { method: 'totp' }),
  attemptFailed(challengeId, 2, { method: 'totp' }),
];

/** [kind, history (with or without a known contact), command] for a TOTP account. */
const cases: [NotificationKind, (withContact: boolean) => AccountEvent[], AccountCommand][] = [
  [
    'two_factor_enabled',
    (withContact) => [{ type: 'TotpSetupStarted', data: withContact ? { secret: secret(), contact: ann } : { secret: secret() } }],
    { type: 'ConfirmTotpSetup', matchedStep: STEP, recoveryCodeHashes: recoveryHashes() },
  ],
  ['two_factor_disabled', (withContact) => totpEnabled(withContact ? { contact: ann } : {}), { type: 'DisableTwoFactor', passwordConfirmed: true }],
  ['reseller_disabled', (withContact) => totpEnabled(withContact ? { contact: ann } : {}), { type: 'ResellerDisable', operatorId: 'op-1' }],
  [
    'account_locked',
    (withContact) => [...totpEnabled(withContact ? { contact: ann } : {}), totpChallenge('ch-1'), ...failedTwice('ch-1')],
    { type: 'VerifyChallenge', challengeId: 'ch-1', proof: { kind: 'email', codeHash: 'x' } },
  ],
  [
    'recovery_code_used',
    (withContact) => [...totpEnabled(withContact ? { contact: ann } : {}), totpChallenge('ch-1')],
    { type: 'UseRecoveryCode', challengeId: 'ch-1', recoveryCodeHash: 'rc-1' },
  ],
];

describe('security notifications (seed 003: automatic email notifications)', () => {
  it.each(cases)('%s queues a notification to the known contact, after the event it reports', (kind, history, command) => {
    const emitted = given(history(true)).when(command).events();
    expect(emitted[emitted.length - 1]).toEqual(notice(kind));
    expect(emitted.filter((event) => event.type === 'SecurityNotificationQueued')).toHaveLength(1);
    expect(emitted[0].type).not.toBe('SecurityNotificationQueued');
  });

  it.each(cases)('%s queues nothing when no contact is known', (_kind, history, command) => {
    const emitted = given(history(false)).when(command).events();
    expect(emitted.length).toBeGreaterThan(0);
    expect(emitted.some((event) => event.type === 'SecurityNotificationQueued')).toBe(false);
  });

  it('an email-code account is notified of a lock at the address its codes go to', () => {
    const emitted = given([...emailChallenge('ch-1', undefined, { to: ann }), attemptFailed('ch-1', 1), attemptFailed('ch-1', 2)])
      .when({ type: 'VerifyChallenge', challengeId: 'ch-1', proof: { kind: 'email', codeHash: 'wrong' } })
      .events();
    expect(emitted.map((event) => event.type)).toEqual(['AttemptFailed', 'AccountLocked', 'SecurityNotificationQueued']);
    expect(emitted[2]).toEqual(notice('account_locked'));
  });

  it.each(cases)("%s carries the tenant's display name when the policy has one", (kind, history, command) => {
    const emitted = given(history(true)).when(command, { policy: { displayName: 'Acme Outdoor' } }).events();
    expect(emitted[emitted.length - 1]).toEqual({ ...notice(kind), data: { ...notice(kind).data, tenantName: 'Acme Outdoor' } });
  });

  it('ordinary events (password reset, regenerated codes, a passed login) queue no notification', () => {
    const history = [...totpEnabled({ contact: ann }), totpChallenge('ch-1')];
    for (const command of [
      { type: 'RecordPasswordReset' },
      { type: 'RegenerateRecoveryCodes', recoveryCodeHashes: recoveryHashes('n') },
      { type: 'VerifyChallenge', challengeId: 'ch-1', proof: { kind: 'totp', matchedStep: STEP + 1 } },
    ] as AccountCommand[]) {
      expect(given(history).when(command).events().some((event) => event.type === 'SecurityNotificationQueued')).toBe(false);
    }
  });
});
