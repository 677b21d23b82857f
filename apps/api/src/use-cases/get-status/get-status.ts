import { Controller, Get, Inject, Param } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Runtime } from '@twostep/app';
import { emptyStatus, presentStatus } from '@twostep/readmodel';
import type { AccountRef } from '../../accounts/account-runner';
import { ReadModels } from '../../accounts/read-models';
import { Roles } from '../../http/auth.guard';
import { ACCOUNT_ROUTE, CurrentPrincipal } from '../../http/current-principal';
import type { Principal } from '../../http/principal';
import { RUNTIME } from '../../tokens';

@ApiTags('status')
@Controller(ACCOUNT_ROUTE)
export class GetStatusController {
  constructor(private readonly readModels: ReadModels, @Inject(RUNTIME) private readonly runtime: Runtime) {}

  @Get('two-factor')
  @Roles('portal', 'operator', 'admin')
  @ApiOperation({ summary: "An account's 2FA status (resellers see Enabled/Disabled and the lock only)" })
  async status(@Param() { tenantId, userId }: AccountRef, @CurrentPrincipal() principal: Principal) {
    const store = await this.readModels.fresh();
    const policy = await this.runtime.policies.get(tenantId);
    const view = presentStatus((await store.status(tenantId, userId)) ?? emptyStatus(tenantId, userId), this.runtime.clock.now(), policy);
    const { revision: _revision, ...status } = view;
    if (principal.role === 'operator') {
      return { tenantId, userId, status: status.status, lockedUntil: status.lockedUntil };
    }
    return status;
  }
}
