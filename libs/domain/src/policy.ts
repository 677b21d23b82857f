import { DomainError } from './errors';

/** Per-tenant 2FA policy. The reserved tenant `admin` holds the admin console's global settings. */
export interface Policy {
  emailOtpRequired: boolean;
  codeTtlMinutes: number;
  trustedDeviceDays: number;
  maxFailedAttempts: number;
  lockoutMinutes: number;
  resendCooldownSeconds: number;
}

export const ADMIN_TENANT = 'admin';

export const DEFAULT_POLICY: Readonly<Policy> = Object.freeze({
  emailOtpRequired: false,
  codeTtlMinutes: 10,
  trustedDeviceDays: 2,
  maxFailedAttempts: 3,
  lockoutMinutes: 30,
  resendCooldownSeconds: 30,
});

/** Inclusive integer bounds. The first two come from the seed; the rest are ours (see README). */
export const POLICY_BOUNDS: Readonly<Record<Exclude<keyof Policy, 'emailOtpRequired'>, readonly [number, number]>> =
  Object.freeze({
    codeTtlMinutes: [1, 360],
    trustedDeviceDays: [1, 365],
    maxFailedAttempts: [1, 10],
    lockoutMinutes: [1, 1440],
    resendCooldownSeconds: [0, 3600],
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
    // Own keys only: `constructor`, `toString`, `__proto__` … must be refused, not looked up on the prototype.
    if (!Object.hasOwn(POLICY_BOUNDS, field)) throw invalidField(field, 'is not a policy setting');
    const bounds = POLICY_BOUNDS[field];
    const [min, max] = bounds;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw invalidField(field, `must be a whole number from ${min} to ${max}`);
    }
  }
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

/** Every reader (api policy reader, read-model `foldPolicy`, cli) folds through here, so all get the upcast. */
export function evolvePolicy(_current: Policy, event: PolicyEvent): Policy {
  return upcastPolicy(event.data.policy);
}

export const initialPolicy = (): Policy => ({ ...DEFAULT_POLICY });
