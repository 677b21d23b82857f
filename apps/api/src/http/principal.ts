import type { Role } from '@twostep/config';
import type { RevokedBy } from '@twostep/domain';
import type { Actor } from '@twostep/eventstore';
import { ApiError } from './errors';

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

/**
 * Who takes a customer's thing away (a remembered device, a passkey), as the event records it:
 * a portal key acts for the customer and names nobody; operator and admin keys must name
 * themselves with `operatorId`. 400 validation_failed otherwise; auditors never get here (the guard).
 */
export function removedBy(principal: Principal, operatorId: string | undefined, action: string): Remover {
  if (principal.role === 'portal') {
    if (operatorId !== undefined) throw operatorIdProblem('is for operator and admin keys; a portal key acts for the customer');
    return { by: 'customer' };
  }
  if (principal.role === 'auditor') throw new Error(`role ${principal.role} cannot do this: ${action}`);
  if (operatorId === undefined) throw operatorIdProblem(`is required: name the reseller or admin who ${action}`);
  return { by: principal.role, operatorId };
}

export type Remover = { by: 'customer' } | { by: Exclude<RevokedBy, 'customer'>; operatorId: string };

function operatorIdProblem(message: string): ApiError {
  return new ApiError(400, 'validation_failed', `operatorId: ${message}`, { problems: [{ field: 'operatorId', message }] });
}
