import { Controller, Get, Inject, Param } from '@nestjs/common';
import { z } from 'zod/v4';
import { emptyStatus, presentStatus } from '@twostep/readmodel';
import type { AccountRef } from '../../accounts/account-runner';
import { ReadModels } from '../../accounts/read-models';
import { Roles } from '../../http/auth.guard';
import { ACCOUNT_ROUTE } from '../../http/current-principal';
import { CLOCK, POLICY_READER, type Clock, type PolicyReader } from '../../tokens';
import { TrustedDevice, type Operation } from '../../http/contract';

export const listTrustedDevicesOperation: Operation = {
  operationId: 'listTrustedDevices',
  method: 'get',
  path: '/v1/tenants/{tenantId}/accounts/{userId}/trusted-devices',
  tag: 'remembered devices',
  summary: 'The remembered devices that still skip the second step',
  description:
    'Only unexpired devices, oldest first; never a device token or its hash. An account without any (or unknown to twostep) has an empty list. ' +
    'Revoke one with `revokeTrustedDevice`.',
  roles: ['portal', 'operator', 'admin'],
  response: {
    status: 200,
    description: 'The active remembered devices',
    schema: z.object({ devices: z.array(TrustedDevice) }).strict(),
  },
  errors: [],
};

/** A query on the status view (read model), presented at this moment: expired devices are left out. */
@Controller(ACCOUNT_ROUTE)
export class ListTrustedDevicesController {
  constructor(private readonly readModels: ReadModels, @Inject(CLOCK) private readonly clock: Clock, @Inject(POLICY_READER) private readonly policies: PolicyReader) {}

  @Get('trusted-devices')
  @Roles(...listTrustedDevicesOperation.roles)
  async list(@Param() { tenantId, userId }: AccountRef) {
    const store = await this.readModels.fresh();
    const policy = await this.policies.get(tenantId);
    const view = presentStatus((await store.status(tenantId, userId)) ?? emptyStatus(tenantId, userId), this.clock.now(), policy);
    return { devices: view.trustedDevices };
  }
}
