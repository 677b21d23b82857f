import { DomainError } from './errors';

/** Per-tenant 2FA policy. The reserved tenant `admin` holds the admin console's global settings. */
export interface Policy {
  emailOtpRequired: boolean;
  codeTtlMinutes: number;
  trustedDeviceDays: number;
  maxFailedAttempts: number;
  lockoutMinutes: number;
  resendCooldownSeconds: number;
  /**
   * The name customers know the tenant by, shown as the authenticator app's issuer and in
   * emails; null means the default ("twostep store-1" / "store store-1").
   */
  displayName: string | null;
}

export const ADMIN_TENANT = 'admin';

export const DEFAULT_POLICY: Readonly<Policy> = Object.freeze({
  emailOtpRequired: false,
  codeTtlMinutes: 10,
  trustedDeviceDays: 2,
  maxFailedAttempts: 3,
  lockoutMinutes: 30,
  resendCooldownSeconds: 30,
  displayName: null,
});

/** Longest display name; it goes into email subjects and authenticator app lists. */
export const DISPLAY_NAME_MAX = 64;

/** Inclusive integer bounds. The first two come from the seed; the rest are ours (see README). */
export const POLICY_BOUNDS: Readonly<Record<Exclude<keyof Policy, 'emailOtpRequired' | 'displayName'>, readonly [number, number]>> =
  Object.freeze({
    codeTtlMinutes: [1, 360],
    trustedDeviceDays: [1, 365],
    maxFailedAttempts: [1, 10],
    lockoutMinutes: [1, 1440],
    resendCooldownSeconds: [0, 3600],
  });

/** What each setting means, once: the HTTP body and the contract are built from this and POLICY_BOUNDS. */
export const POLICY_DESCRIPTIONS: Readonly<Record<keyof Policy, string>> = Object.freeze({
  emailOtpRequired: 'accounts without an authenticator app get email codes at login',
  codeTtlMinutes: 'minutes an email code stays valid',
  trustedDeviceDays: 'days a remembered device skips the second step',
  maxFailedAttempts: 'wrong answers before the account locks',
  lockoutMinutes: 'minutes a lock lasts',
  resendCooldownSeconds: 'seconds before another email code may be sent',
  displayName: 'the name customers know the store by: the authenticator app lists it and emails are signed with it; null for the default',
});

export type PolicyChanges = Partial<Policy>;

export type PolicyEvent = {
  type: 'PolicyUpdated';
  data: { tenantId: string; policy: Policy; changed: (keyof Policy)[] };
};

export type PolicyCommand = { type: 'UpdatePolicy'; tenantId: string; changes: PolicyChanges };

export function validatePolicyChanges(changes: PolicyChanges): void {
  for (const [field, value] of Object.entries(changes) as [keyof Policy, unknown][]) {
    if (field === 'emailOtpRequired') {
      if (typeof value !== 'boolean') throw invalidField(field, 'must be true or false');
      continue;
    }
    if (field === 'displayName') {
      validateDisplayName(value);
      continue;
    }
    // Own keys only: `constructor`, `toString`, `__proto__` … must be refused, not looked up on the prototype.
    if (!Object.hasOwn(POLICY_BOUNDS, field)) throw invalidField(field, 'is not a policy setting');
    const bounds = POLICY_BOUNDS[field];
    const [min, max] = bounds;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw invalidField(field, `must be a whole number from ${min} to ${max}`);
    }
  }
}

function validateDisplayName(value: unknown): void {
  if (value === null) return;
  if (typeof value !== 'string') throw invalidField('displayName', 'must be a name or null');
  if (value.trim() !== value || value.length === 0 || value.length > DISPLAY_NAME_MAX) {
    throw invalidField('displayName', `must be 1 to ${DISPLAY_NAME_MAX} characters without leading or trailing spaces`);
  }
  // Control and format characters (newlines, bidi overrides) would forge email headers or mislead in an app list.
  if (/[\p{Cc}\p{Cf}\u2028\u2029]/u.test(value)) throw invalidField('displayName', 'must not contain control or formatting characters');
}

function invalidField(field: string, rule: string): DomainError {
  return new DomainError('invalid_policy', `${field} ${rule}.`, { field });
}

export function decidePolicy(command: PolicyCommand, current: Policy): PolicyEvent[] {
  validatePolicyChanges(command.changes);
  const policy: Policy = { ...current, ...command.changes };
  const changed = (Object.keys(command.changes) as (keyof Policy)[]).filter((key) => current[key] !== policy[key]);
  if (changed.length === 0) return [];
  return [{ type: 'PolicyUpdated', data: { tenantId: command.tenantId, policy, changed } }];
}

/**
 * Upcaster for `PolicyUpdated` payloads written before a setting existed: each event carries the
 * whole policy of its time, so a setting it lacks had not been introduced yet and takes its
 * default. Only known settings are kept, so a retired one does not linger in the state.
 */
export function upcastPolicy(stored: Partial<Policy> | undefined): Policy {
  const policy = { ...DEFAULT_POLICY };
  for (const key of Object.keys(DEFAULT_POLICY) as (keyof Policy)[]) {
    const value = stored?.[key];
    if (value !== undefined && value !== null) (policy as Record<keyof Policy, unknown>)[key] = value;
  }
  return policy;
}

/** Takes an upcast event (`upcastPolicyEvent`): the event carries the whole policy of its time. */
export function evolvePolicy(_current: Policy, event: PolicyEvent): Policy {
  return { ...event.data.policy };
}

export const initialPolicy = (): Policy => ({ ...DEFAULT_POLICY });
