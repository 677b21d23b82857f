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
  /**
   * Passkeys: the WebAuthn relying-party id (the storefront's domain, e.g. "shop.example.com";
   * null = passkeys off for this tenant) and the page origins allowed to use it.
   */
  passkeyRpId: string | null;
  passkeyOrigins: string[];
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
  passkeyRpId: null,
  passkeyOrigins: [],
});

/** Longest display name; it goes into email subjects and authenticator app lists. */
export const DISPLAY_NAME_MAX = 64;

/** Inclusive integer bounds. The first two come from the seed; the rest are ours (see README). */
/** At most this many origins may use a tenant's passkeys. */
export const PASSKEY_ORIGINS_MAX = 10;

type NotANumber = 'emailOtpRequired' | 'displayName' | 'passkeyRpId' | 'passkeyOrigins';
export const POLICY_BOUNDS: Readonly<Record<Exclude<keyof Policy, NotANumber>, readonly [number, number]>> =
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
  passkeyRpId:
    "the WebAuthn relying-party id for passkeys: the storefront's domain (e.g. shop.example.com; localhost for development), never an IP address; null turns passkeys off",
  passkeyOrigins: `the page origins allowed to register and use passkeys (https://host[:port], or http://localhost[:port]), each on passkeyRpId or a subdomain of it; at most ${PASSKEY_ORIGINS_MAX}`,
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
    if (field === 'passkeyRpId') {
      if (value !== null && (typeof value !== 'string' || !isRpId(value))) {
        throw invalidField(field, 'must be a lowercase domain name (e.g. shop.example.com or localhost), not an IP address, or null');
      }
      continue;
    }
    if (field === 'passkeyOrigins') {
      if (!Array.isArray(value) || value.length > PASSKEY_ORIGINS_MAX || !value.every((origin) => typeof origin === 'string')) {
        throw invalidField(field, `must be a list of at most ${PASSKEY_ORIGINS_MAX} origins`);
      }
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

const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const RP_ID = new RegExp(`^(?=.{1,253}$)${LABEL}(?:\\.${LABEL})*$`);

function isRpId(value: string): boolean {
  // A relying-party id is a registrable domain (WebAuthn §5.1.3); an IPv4 address is all digits and dots.
  return RP_ID.test(value) && !/^[0-9.]+$/.test(value);
}

/** Every origin a real page has (scheme://host[:port]), secure, and on the relying-party id or under it. */
function validatePasskeyOrigins(policy: Policy): void {
  const rpId = policy.passkeyRpId;
  for (const origin of policy.passkeyOrigins) {
    let url: URL;
    try {
      url = new URL(origin);
    } catch {
      throw invalidField('passkeyOrigins', `has "${origin.slice(0, 80)}", which is not an origin (scheme://host[:port])`);
    }
    if (url.origin !== origin) throw invalidField('passkeyOrigins', `has "${origin.slice(0, 80)}", which is not an origin: write it as ${url.origin}`);
    const secure = url.protocol === 'https:' || (url.protocol === 'http:' && url.hostname === 'localhost');
    if (!secure) throw invalidField('passkeyOrigins', `has ${origin}: passkeys need https (http only for localhost)`);
    if (rpId === null || !(url.hostname === rpId || url.hostname.endsWith(`.${rpId}`))) {
      throw invalidField('passkeyOrigins', `has ${origin}, which is not on passkeyRpId (${rpId ?? 'not set'}) or a subdomain of it`);
    }
  }
}

function invalidField(field: string, rule: string): DomainError {
  return new DomainError('invalid_policy', `${field} ${rule}.`, { field });
}

export function decidePolicy(command: PolicyCommand, current: Policy): PolicyEvent[] {
  validatePolicyChanges(command.changes);
  const policy: Policy = { ...current, ...command.changes };
  validatePasskeyOrigins(policy);
  const same = (key: keyof Policy) => JSON.stringify(current[key]) === JSON.stringify(policy[key]);
  const changed = (Object.keys(command.changes) as (keyof Policy)[]).filter((key) => !same(key));
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
    if (value !== undefined && value !== null) (policy as Record<keyof Policy, unknown>)[key] = Array.isArray(value) ? [...value] : value;
  }
  return policy;
}

/** Takes an upcast event (`upcastPolicyEvent`): the event carries the whole policy of its time. */
export function evolvePolicy(_current: Policy, event: PolicyEvent): Policy {
  return { ...event.data.policy };
}

export const initialPolicy = (): Policy => ({ ...DEFAULT_POLICY });
