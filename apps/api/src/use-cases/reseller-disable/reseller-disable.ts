import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import { CommandBus, CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { z } from 'zod/v4';
import { AccountRunner, type AccountRef } from '../../accounts/account-runner';
import { Roles } from '../../http/auth.guard';
import { ACCOUNT_ROUTE, CurrentPrincipal } from '../../http/current-principal';
import { actorOf, type Principal } from '../../http/principal';
import { ZodBody } from '../../http/validation';
import { operatorId, type Operation } from '../../http/contract';

const ResellerDisableBody = z.object({ operatorId, reason: z.string().min(1).max(500).optional() }).strict();

export class ResellerDisableCommand {
  constructor(readonly account: AccountRef, readonly principal: Principal, readonly operatorId: string, readonly reason?: string) {}
}

@CommandHandler(ResellerDisableCommand)
export class ResellerDisableHandler implements ICommandHandler<ResellerDisableCommand> {
  constructor(private readonly accounts: AccountRunner) {}

  async execute({ account, principal, operatorId, reason }: ResellerDisableCommand) {
    await this.accounts.run(account, actorOf(principal, operatorId), () => ({
      type: 'ResellerDisable',
      operatorId,
      ...(reason ? { reason } : {}),
    }));
    return { status: 'Disabled' };
  }
}

export const resellerDisableOperation: Operation = {
  operationId: 'resellerDisable',
  method: 'post',
  path: '/v1/tenants/{tenantId}/accounts/{userId}/two-factor/reseller-disable',
  tag: 'reseller tools',
  summary: "A reseller disables a customer's 2FA (Storefront Manager's Disable button)",
  description: 'Only while enabled (409 `not_enabled`); refused where the tenant requires email codes (409 `enforced_by_policy`). The customer is notified.',
  roles: ['operator', 'admin'],
  body: ResellerDisableBody,
  bodyRequired: true,
  response: { status: 200, description: 'Disabled', schema: z.object({ status: z.literal('Disabled') }).strict() },
  errors: ['not_enabled', 'enforced_by_policy', 'concurrent_update'],
  examples: { lostPhone: { operatorId: 'reseller-ann', reason: 'lost phone' } },
};

@Controller(ACCOUNT_ROUTE)
export class ResellerDisableController {
  constructor(private readonly commands: CommandBus) {}

  @Post('two-factor/reseller-disable')
  @HttpCode(resellerDisableOperation.response.status)
  @Roles(...resellerDisableOperation.roles)
  disable(@Param() account: AccountRef, @CurrentPrincipal() principal: Principal, @Body(new ZodBody(ResellerDisableBody)) body: z.infer<typeof ResellerDisableBody>) {
    return this.commands.execute(new ResellerDisableCommand({ tenantId: account.tenantId, userId: account.userId }, principal, body.operatorId, body.reason));
  }
}
