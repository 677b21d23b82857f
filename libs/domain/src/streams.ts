/**
 * Stream names are a permanent contract: every stream name is built here, never inline.
 * The category prefix (`TwoFactorAccount-`, `TwoFactorPolicy-`) lets EventStoreDB `$ce-`
 * projections and filtered `$all` subscriptions select twostep's streams.
 */
export const ACCOUNT_CATEGORY = 'TwoFactorAccount';
export const POLICY_CATEGORY = 'TwoFactorPolicy';
export const STREAM_PREFIXES = [`${ACCOUNT_CATEGORY}-`, `${POLICY_CATEGORY}-`] as const;

/** Tenant and user ids are validated at the edge to `[A-Za-z0-9_@.+-]`, so `|` is a safe separator. */
export function accountStream(tenantId: string, userId: string): string {
  return `${ACCOUNT_CATEGORY}-${tenantId}|${userId}`;
}

export function policyStream(tenantId: string): string {
  return `${POLICY_CATEGORY}-${tenantId}`;
}

export type ParsedStream =
  | { kind: 'account'; tenantId: string; userId: string }
  | { kind: 'policy'; tenantId: string }
  | { kind: 'other' };

export function parseStream(stream: string): ParsedStream {
  if (stream.startsWith(`${ACCOUNT_CATEGORY}-`)) {
    const rest = stream.slice(ACCOUNT_CATEGORY.length + 1);
    const bar = rest.indexOf('|');
    if (bar > 0) return { kind: 'account', tenantId: rest.slice(0, bar), userId: rest.slice(bar + 1) };
  }
  if (stream.startsWith(`${POLICY_CATEGORY}-`)) {
    return { kind: 'policy', tenantId: stream.slice(POLICY_CATEGORY.length + 1) };
  }
  return { kind: 'other' };
}
