import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import { CommandBus, CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { z } from 'zod/v4';
import { AccountRunner, type AccountRef } from '../../accounts/account-runner';
import { Roles } from '../../http/auth.guard';
import { ACCOUNT_ROUTE, CurrentPrincipal } from '../../http/current-principal';
import { actorOf, type Principal } from '../../http/principal';
import { ZodBody } from '../../http/validation';
import { operatorId, type Operation } from '../../http/contract';

const UnlockBody = z.object({ operatorId }).strict();

export class UnlockAccountCommand {
  constructor(readonly account: AccountRef, readonly principal: Principal, readonly operatorId: string) {}
}

@CommandHandler(UnlockAccountCommand)
export class UnlockAccountHandler implements ICommandHandler<UnlockAccountCommand> {
  constructor(private readonly accounts: AccountRunner) {}

  async execute({ account, principal, operatorId }: UnlockAccountCommand) {
    await this.accounts.run(account, actorOf(principal, operatorId), () => ({ type: 'UnlockAccount', operatorId }));
    return { locked: false };
  }
}

export const unlockAccountOperation: Operation = {
  operationId: 'unlockAccount',
  method: 'post',
  path: '/v1/tenants/{tenantId}/accounts/{userId}/unlock',
  tag: 'reseller tools',
  summary: 'Lift a lock before it runs out',
  roles: ['operator', 'admin'],
  body: UnlockBody,
  bodyRequired: true,
  response: { status: 200, description: 'Unlocked', schema: z.object({ locked: z.literal(false) }).strict() },
  errors: ['not_locked', 'concurrent_update'],
  examples: { unlock: { operatorId: 'reseller-ann' } },
};

@Controller(ACCOUNT_ROUTE)
export class UnlockAccountController {
  constructor(private readonly commands: CommandBus) {}

  @Post('unlock')
  @HttpCode(unlockAccountOperation.response.status)
  @Roles(...unlockAccountOperation.roles)
  unlock(@Param() account: AccountRef, @CurrentPrincipal() principal: Principal, @Body(new ZodBody(UnlockBody)) body: z.infer<typeof UnlockBody>) {
    return this.commands.execute(new UnlockAccountCommand({ tenantId: account.tenantId, userId: account.userId }, principal, body.operatorId));
  }
}
