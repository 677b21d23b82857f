import { z } from 'zod/v4';
import { Body, Controller, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { CommandBus, CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { challengeRequirement } from '@twostep/domain';
import { AccountRunner, type AccountRef } from '../../accounts/account-runner';
import { Roles } from '../../http/auth.guard';
import { ACCOUNT_ROUTE, CurrentPrincipal } from '../../http/current-principal';
import { actorOf, type Principal } from '../../http/principal';
import { emptyBody, ZodBody } from '../../http/validation';
import { POLICY_READER, type PolicyReader } from '../../tokens';
import { type Operation } from '../../http/contract';

export class RecordPasswordResetCommand {
  constructor(readonly account: AccountRef, readonly principal: Principal) {}
}

@CommandHandler(RecordPasswordResetCommand)
export class RecordPasswordResetHandler implements ICommandHandler<RecordPasswordResetCommand> {
  constructor(
    private readonly accounts: AccountRunner,
    @Inject(POLICY_READER) private readonly policies: PolicyReader,
  ) {}

  async execute({ account, principal }: RecordPasswordResetCommand) {
    const result = await this.accounts.run(account, actorOf(principal), () => ({ type: 'RecordPasswordReset' }));
    // Trusted devices are gone: the next login asks for the second step if the account has one.
    const policy = await this.policies.get(account.tenantId);
    return { recorded: true, twoFactorRequiredAtNextLogin: challengeRequirement(result.state, policy, result.now).required };
  }
}

export const recordPasswordResetOperation: Operation = {
  operationId: 'recordPasswordReset',
  method: 'post',
  path: '/v1/tenants/{tenantId}/accounts/{userId}/password-reset',
  tag: 'login',
  summary: 'Record that the customer reset their password ("Password reset successfully")',
  description: 'Trusted devices are forgotten, so the next login asks for the second step again.',
  roles: ['portal'],
  body: emptyBody,
  response: {
    status: 200,
    description: 'Recorded',
    schema: z.object({ recorded: z.literal(true), twoFactorRequiredAtNextLogin: z.boolean() }).strict(),
  },
  errors: ['concurrent_update'],
};

@Controller(ACCOUNT_ROUTE)
export class RecordPasswordResetController {
  constructor(private readonly commands: CommandBus) {}

  @Post('password-reset')
  @HttpCode(recordPasswordResetOperation.response.status)
  @Roles(...recordPasswordResetOperation.roles)
  record(@Param() account: AccountRef, @CurrentPrincipal() principal: Principal, @Body(new ZodBody(emptyBody)) _body: unknown) {
    return this.commands.execute(new RecordPasswordResetCommand({ tenantId: account.tenantId, userId: account.userId }, principal));
  }
}
