import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import { CommandBus, CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { z } from 'zod/v4';
import { AccountRunner, type AccountRef } from '../../accounts/account-runner';
import { Roles } from '../../http/auth.guard';
import { ACCOUNT_ROUTE, CurrentPrincipal } from '../../http/current-principal';
import { actorOf, type Principal } from '../../http/principal';
import { ZodBody } from '../../http/validation';
import { type Operation } from '../../http/contract';

/** The upstream checked the password; it says so explicitly. */
const DisableBody = z.object({ confirmation: z.literal('password') }).strict();

export class DisableTwoFactorCommand {
  constructor(readonly account: AccountRef, readonly principal: Principal) {}
}

@CommandHandler(DisableTwoFactorCommand)
export class DisableTwoFactorHandler implements ICommandHandler<DisableTwoFactorCommand> {
  constructor(private readonly accounts: AccountRunner) {}

  async execute({ account, principal }: DisableTwoFactorCommand) {
    await this.accounts.run(account, actorOf(principal), () => ({ type: 'DisableTwoFactor', passwordConfirmed: true }));
    return { status: 'Disabled' };
  }
}

export const disableTwoFactorOperation: Operation = {
  operationId: 'disableTwoFactor',
  method: 'post',
  path: '/v1/tenants/{tenantId}/accounts/{userId}/two-factor/disable',
  tag: 'authenticator app',
  summary: 'The customer turns 2FA off, after the platform checked their password',
  roles: ['portal'],
  body: DisableBody,
  bodyRequired: true,
  response: { status: 200, description: 'Disabled', schema: z.object({ status: z.literal('Disabled') }).strict() },
  errors: ['not_enabled', 'enforced_by_policy', 'concurrent_update'],
  examples: { confirmed: { confirmation: 'password' } },
};

@Controller(ACCOUNT_ROUTE)
export class DisableTwoFactorController {
  constructor(private readonly commands: CommandBus) {}

  @Post('two-factor/disable')
  @HttpCode(disableTwoFactorOperation.response.status)
  @Roles(...disableTwoFactorOperation.roles)
  disable(@Param() account: AccountRef, @CurrentPrincipal() principal: Principal, @Body(new ZodBody(DisableBody)) _body: z.infer<typeof DisableBody>) {
    return this.commands.execute(new DisableTwoFactorCommand({ tenantId: account.tenantId, userId: account.userId }, principal));
  }
}
