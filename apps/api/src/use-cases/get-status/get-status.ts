import { Controller, Get, Inject, Param } from '@nestjs/common';
import { emptyStatus, presentStatus } from '@twostep/readmodel';
import type { AccountRef } from '../../accounts/account-runner';
import { ReadModels } from '../../accounts/read-models';
import { Roles } from '../../http/auth.guard';
import { ACCOUNT_ROUTE, CurrentPrincipal } from '../../http/current-principal';
import type { Principal } from '../../http/principal';
import { CLOCK, POLICY_READER, type Clock, type PolicyReader } from '../../tokens';
import { z } from 'zod/v4';
import { isoTime, PasskeyBody, TrustedDevice, type Operation } from '../../http/contract';

const FullStatus = z
  .object({
    tenantId: z.string(),
    userId: z.string(),
    status: z.enum(['Enabled', 'Disabled']).describe('The seed\'s read-only Two-Factor Authentication field'),
    method: z.enum(['totp', 'email']).nullable(),
    methods: z
      .array(z.enum(['totp', 'webauthn', 'email']))
      .describe('every way a login of this account can be answered: `webauthn` when it has a passkey; empty when 2FA is off'),
    setupPending: z.boolean(),
    recoveryCodesRemaining: z.number().int().min(0),
    resetRecommended: z.boolean().describe('a recovery code was used: recommend setting up again'),
    failedAttempts: z.number().int().min(0),
    lockedUntil: isoTime.nullable(),
    trustedDevices: z.array(TrustedDevice).describe('remembered devices that still skip the second step'),
    passkeys: z.array(PasskeyBody).describe('passkeys that can answer a login, oldest first'),
    lastCodeSent: z.object({ to: z.string().describe('masked address'), at: isoTime, expiresAt: isoTime }).strict().nullable(),
    enabledAt: isoTime.nullable(),
    passwordResetAt: isoTime.nullable(),
    updatedAt: isoTime.nullable().describe('time of the last event; null for an account with none'),
  })
  .strict();

export const getStatusOperation: Operation = {
  operationId: 'getStatus',
  method: 'get',
  path: '/v1/tenants/{tenantId}/accounts/{userId}/two-factor',
  tag: 'status',
  summary: "An account's 2FA status",
  description: 'Portal and admin keys get the whole view; reseller (operator) keys get Enabled/Disabled and the lock only. An unknown account is `Disabled`.',
  roles: ['portal', 'operator', 'admin'],
  response: {
    status: 200,
    description: 'The status view',
    schema: z.union([FullStatus, FullStatus.pick({ tenantId: true, userId: true, status: true, lockedUntil: true }).strict()]),
  },
  errors: [],
};

@Controller(ACCOUNT_ROUTE)
export class GetStatusController {
  constructor(private readonly readModels: ReadModels, @Inject(CLOCK) private readonly clock: Clock, @Inject(POLICY_READER) private readonly policies: PolicyReader) {}

  @Get('two-factor')
  @Roles(...getStatusOperation.roles)
  async status(@Param() { tenantId, userId }: AccountRef, @CurrentPrincipal() principal: Principal) {
    const store = await this.readModels.fresh();
    const policy = await this.policies.get(tenantId);
    const view = presentStatus((await store.status(tenantId, userId)) ?? emptyStatus(tenantId, userId), this.clock.now(), policy);
    const { revision: _revision, ...status } = view;
    if (principal.role === 'operator') {
      return { tenantId, userId, status: status.status, lockedUntil: status.lockedUntil };
    }
    return status;
  }
}
