import type { Role } from '@twostep/config';
import type { Actor } from '@twostep/eventstore';

/** The caller, as proven by its API key. */
export interface Principal {
  keyId: string;
  role: Role;
  tenants: string[];
}

export const canReachTenant = (principal: Principal, tenantId: string): boolean =>
  principal.tenants.includes('*') || principal.tenants.includes(tenantId);

/** Who an event says did it: portal keys act for the customer, operators and admins name themselves. */
export function actorOf(principal: Principal, operatorId?: string): Actor {
  switch (principal.role) {
    case 'portal':
      return { kind: 'customer', apiKeyId: principal.keyId };
    case 'operator':
      return { kind: 'operator', id: operatorId ?? principal.keyId, apiKeyId: principal.keyId };
    case 'admin':
      return { kind: 'admin', id: operatorId ?? principal.keyId, apiKeyId: principal.keyId };
    default:
      return { kind: 'auditor', id: principal.keyId, apiKeyId: principal.keyId };
  }
}
