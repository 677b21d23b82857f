import { DomainError } from './errors';
import {
  ADMIN_TENANT,
  DEFAULT_POLICY,
  DISPLAY_NAME_MAX,
  POLICY_BOUNDS,
  decidePolicy,
  evolvePolicy,
  initialPolicy,
  upcastPolicy,
  validatePolicyChanges,
  type Policy,
  type PolicyChanges,
  type PolicyEvent,
} from './policy';
import { policyDecider } from './decider';
import { upcastAccountEvent, upcastEvent, upcastPolicyEvent } from './upcast';

const update = (changes: PolicyChanges, current: Policy = initialPolicy()) =>
  decidePolicy({ type: 'UpdatePolicy', tenantId: 'store-1', changes }, current);

function expectInvalid(changes: unknown, field: string): DomainError {
  let thrown: unknown;
  try {
    update(changes as PolicyChanges);
  } catch (error) {
    thrown = error;
  }
  expect(thrown).toBeInstanceOf(DomainError);
  const error = thrown as DomainError;
  expect(error.code).toBe('invalid_policy');
  expect(error.details).toEqual({ field });
  expect(error.message).toContain(field);
  return error;
}

describe('tenant policy defaults (seed 003)', () => {
  it('defaults: email codes off, 10 min codes, 2 day devices, 3 attempts, 30 min lock, 30 s cooldown', () => {
    expect(DEFAULT_POLICY).toEqual({
      emailOtpRequired: false,
      codeTtlMinutes: 10,
      trustedDeviceDays: 2,
      maxFailedAttempts: 3,
      lockoutMinutes: 30,
      resendCooldownSeconds: 30,
      displayName: null,
      passkeyRpId: null,
      passkeyOrigins: [],
    });
    expect(initialPolicy()).toEqual(DEFAULT_POLICY);
    expect(initialPolicy()).not.toBe(DEFAULT_POLICY);
    expect(Object.isFrozen(DEFAULT_POLICY)).toBe(true);
    expect(ADMIN_TENANT).toBe('admin');
  });

  it('the seed ranges: code timeout 1–360 minutes, trusted device 1–365 days', () => {
    expect(POLICY_BOUNDS.codeTtlMinutes).toEqual([1, 360]);
    expect(POLICY_BOUNDS.trustedDeviceDays).toEqual([1, 365]);
  });
});

describe('policy bounds are enforced with invalid_policy naming the field', () => {
  const fields = Object.entries(POLICY_BOUNDS) as [keyof typeof POLICY_BOUNDS, readonly [number, number]][];

  it.each(fields)('%s is accepted at its minimum and maximum', (field, [min, max]) => {
    expect(() => validatePolicyChanges({ [field]: min })).not.toThrow();
    expect(() => validatePolicyChanges({ [field]: max })).not.toThrow();
    const [event] = update({ [field]: max === DEFAULT_POLICY[field] ? min : max });
    expect(event.type).toBe('PolicyUpdated');
  });

  it.each(fields)('%s is refused just outside its bounds', (field, [min, max]) => {
    expectInvalid({ [field]: min - 1 }, field);
    expectInvalid({ [field]: max + 1 }, field);
  });

  it.each(fields)('%s is refused when not a whole number', (field, [min]) => {
    expectInvalid({ [field]: min + 0.5 }, field);
    expectInvalid({ [field]: String(min) }, field);
    expectInvalid({ [field]: null }, field);
    expectInvalid({ [field]: Number.NaN }, field);
  });

  it('emailOtpRequired must be a boolean', () => {
    expect(update({ emailOtpRequired: true })).toHaveLength(1);
    expectInvalid({ emailOtpRequired: 'yes' }, 'emailOtpRequired');
    expectInvalid({ emailOtpRequired: 1 }, 'emailOtpRequired');
  });

  it.each(['colour', 'constructor', 'toString', 'hasOwnProperty', '__proto__'])(
    'the unknown field %s is refused with invalid_policy',
    (field) => {
      expectInvalid(JSON.parse(`{"${field}": 5}`), field);
    },
  );

  it('one bad field refuses the whole update', () => {
    expectInvalid({ codeTtlMinutes: 20, lockoutMinutes: 0 }, 'lockoutMinutes');
  });
});

describe('PolicyUpdated', () => {
  it('carries the full resulting policy and only the fields that really changed', () => {
    const current = { ...initialPolicy(), lockoutMinutes: 45 };
    expect(update({ codeTtlMinutes: 15, lockoutMinutes: 45, emailOtpRequired: true }, current)).toEqual([
      {
        type: 'PolicyUpdated',
        data: {
          tenantId: 'store-1',
          policy: { ...DEFAULT_POLICY, lockoutMinutes: 45, codeTtlMinutes: 15, emailOtpRequired: true },
          changed: ['codeTtlMinutes', 'emailOtpRequired'],
        },
      },
    ]);
  });

  it('an update that changes nothing emits nothing', () => {
    expect(update({})).toEqual([]);
    expect(update({ codeTtlMinutes: 10, emailOtpRequired: false })).toEqual([]);
  });

  it('evolving applies the event policy as the new state', () => {
    const [event] = update({ maxFailedAttempts: 5 });
    expect(evolvePolicy(initialPolicy(), event)).toEqual({ ...DEFAULT_POLICY, maxFailedAttempts: 5 });
  });
});

describe('PolicyUpdated written before a setting existed (upcast on fold)', () => {
  /** A payload as an older twostep wrote it: the whole policy of its time, without `resendCooldownSeconds`. */
  const { resendCooldownSeconds: _missing, ...olderPolicy } = { ...DEFAULT_POLICY, codeTtlMinutes: 15, lockoutMinutes: 60 };
  const oldEvent = {
    type: 'PolicyUpdated',
    data: { tenantId: 'store-1', policy: olderPolicy, changed: ['codeTtlMinutes', 'lockoutMinutes'] },
  } as unknown as PolicyEvent;
  /** As every reader folds a stored stream: the one upcast step, then evolve. */
  const fold = (events: PolicyEvent[]): Policy => events.reduce((state, event) => policyDecider.evolve(state, policyDecider.upcast(event)!), policyDecider.initialState());

  it('a tenant whose log has only the old event folds to the default for the missing setting, and keeps the rest', () => {
    expect(Object.keys(oldEvent.data.policy)).not.toContain('resendCooldownSeconds');
    const policy = fold([oldEvent]);
    expect(policy.resendCooldownSeconds).toBe(DEFAULT_POLICY.resendCooldownSeconds);
    expect(policy).toEqual({ ...DEFAULT_POLICY, codeTtlMinutes: 15, lockoutMinutes: 60 });
  });

  it('the default is taken even when the state folded so far holds another value (the old event carried the whole policy of its time)', () => {
    expect(evolvePolicy({ ...DEFAULT_POLICY, resendCooldownSeconds: 90 }, upcastPolicyEvent(oldEvent)!).resendCooldownSeconds).toBe(DEFAULT_POLICY.resendCooldownSeconds);
  });

  it('a later update decides over the upcast state and writes the full current policy', () => {
    const [next] = decidePolicy({ type: 'UpdatePolicy', tenantId: 'store-1', changes: { maxFailedAttempts: 5 } }, fold([oldEvent]));
    expect(next!.data.policy).toEqual({ ...DEFAULT_POLICY, codeTtlMinutes: 15, lockoutMinutes: 60, maxFailedAttempts: 5 });
    expect(fold([oldEvent, next!])).toEqual(next!.data.policy);
  });

  it('drops settings the domain does not know and ignores null values', () => {
    const odd = { ...oldEvent, data: { ...oldEvent.data, policy: { ...olderPolicy, retiredSetting: 7, codeTtlMinutes: null } } } as unknown as PolicyEvent;
    expect(fold([odd])).toEqual({ ...DEFAULT_POLICY, lockoutMinutes: 60 });
    expect(upcastPolicy(undefined)).toEqual(DEFAULT_POLICY);
  });
});

describe('displayName: the name customers know the tenant by', () => {
  it('takes a name, and null to go back to the default wording', () => {
    const [named] = update({ displayName: 'Acme Outdoor & Co.' });
    expect(named!.data.policy.displayName).toBe('Acme Outdoor & Co.');
    expect(named!.data.changed).toEqual(['displayName']);
    const [cleared] = update({ displayName: null }, named!.data.policy);
    expect(cleared!.data.policy.displayName).toBeNull();
    expect(update({ displayName: 'x'.repeat(DISPLAY_NAME_MAX) })).toHaveLength(1);
  });

  it.each([
    ['empty', ''],
    ['too long', 'x'.repeat(DISPLAY_NAME_MAX + 1)],
    ['padded', ' Acme '],
    ['a line break (header forging)', 'Acme\r\nBcc: x@example.com'],
    ['a bidi override', 'Acme\u202Eevil'],
    ['a number', 7],
  ])('refuses %s with invalid_policy naming displayName', (_name, value) => {
    expectInvalid({ displayName: value }, 'displayName');
  });

  it('a tenant whose log predates the setting folds to null (the default)', () => {
    const { displayName: _missing, ...older } = { ...DEFAULT_POLICY, codeTtlMinutes: 20 };
    const old = { type: 'PolicyUpdated', data: { tenantId: 'store-1', policy: older, changed: ['codeTtlMinutes'] } } as unknown as PolicyEvent;
    expect(policyDecider.evolve(policyDecider.initialState(), policyDecider.upcast(old)!)).toEqual({ ...DEFAULT_POLICY, codeTtlMinutes: 20, displayName: null });
  });
});

describe('the one upcast step (upcastAccountEvent, upcastPolicyEvent, upcastEvent)', () => {
  it('gives account events as stored, and null for a type this version does not know', () => {
    const stored = { type: 'AccountUnlocked', data: { operatorId: 'op-1' } };
    expect(upcastAccountEvent(stored)).toEqual(stored);
    expect(upcastAccountEvent({ type: 'SmsCodeIssued', data: {} })).toBeNull();
    expect(upcastAccountEvent({ type: 'PolicyUpdated', data: {} })).toBeNull();
  });

  it('upgrades an old PolicyUpdated to the current policy shape, and refuses what is not one', () => {
    const old = { type: 'PolicyUpdated', data: { tenantId: 't', policy: { codeTtlMinutes: 5 }, changed: ['codeTtlMinutes', 42] } };
    expect(upcastPolicyEvent(old)).toEqual({ type: 'PolicyUpdated', data: { tenantId: 't', policy: { ...DEFAULT_POLICY, codeTtlMinutes: 5 }, changed: ['codeTtlMinutes'] } });
    expect(upcastPolicyEvent({ type: 'PolicyUpdated', data: null })).toBeNull();
    expect(upcastPolicyEvent({ type: 'AccountUnlocked', data: {} })).toBeNull();
  });

  it('upcastEvent takes either kind', () => {
    expect(upcastEvent({ type: 'PolicyUpdated', data: { tenantId: 't', policy: {}, changed: [] } })?.type).toBe('PolicyUpdated');
    expect(upcastEvent({ type: 'TwoFactorDisabled', data: { by: 'customer', passwordConfirmed: true } })?.type).toBe('TwoFactorDisabled');
    expect(upcastEvent({ type: 'Unknown', data: {} })).toBeNull();
  });
});
