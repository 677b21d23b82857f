import { z } from 'zod/v4';
import { Body, Controller, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { CommandBus, CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { AccountRunner, type AccountRef } from '../../accounts/account-runner';
import { newRecoveryCodes } from '../../accounts/recovery-codes';
import { Roles } from '../../http/auth.guard';
import { ACCOUNT_ROUTE, CurrentPrincipal } from '../../http/current-principal';
import { actorOf, type Principal } from '../../http/principal';
import { emptyBody, ZodBody } from '../../http/validation';
import { SECRETS, type Secrets } from '../../tokens';
import { type Operation } from '../../http/contract';

export class RegenerateRecoveryCodesCommand {
  constructor(readonly account: AccountRef, readonly principal: Principal) {}
}

@CommandHandler(RegenerateRecoveryCodesCommand)
export class RegenerateRecoveryCodesHandler implements ICommandHandler<RegenerateRecoveryCodesCommand> {
  constructor(private readonly accounts: AccountRunner, @Inject(SECRETS) private readonly secrets: Secrets) {}

  async execute({ account, principal }: RegenerateRecoveryCodesCommand) {
    const recovery = newRecoveryCodes(this.secrets.hasher, account);
    await this.accounts.run(account, actorOf(principal), () => ({ type: 'RegenerateRecoveryCodes', recoveryCodeHashes: recovery.hashes }));
    return { recoveryCodes: recovery.codes };
  }
}

export const regenerateRecoveryCodesOperation: Operation = {
  operationId: 'regenerateRecoveryCodes',
  method: 'post',
  path: '/v1/tenants/{tenantId}/accounts/{userId}/two-factor/recovery-codes',
  tag: 'authenticator app',
  summary: 'Replace every recovery code with 10 new ones (shown only this once)',
  roles: ['portal'],
  body: emptyBody,
  response: {
    status: 200,
    description: 'The new codes; the old ones stop working',
    secret: true,
    schema: z.object({ recoveryCodes: z.array(z.string()).length(10) }).strict(),
  },
  errors: ['not_enabled', 'concurrent_update'],
};

@Controller(ACCOUNT_ROUTE)
export class RegenerateRecoveryCodesController {
  constructor(private readonly commands: CommandBus) {}

  @Post('two-factor/recovery-codes')
  @HttpCode(regenerateRecoveryCodesOperation.response.status)
  @Roles(...regenerateRecoveryCodesOperation.roles)
  regenerate(@Param() account: AccountRef, @CurrentPrincipal() principal: Principal, @Body(new ZodBody(emptyBody)) _body: unknown) {
    return this.commands.execute(new RegenerateRecoveryCodesCommand({ tenantId: account.tenantId, userId: account.userId }, principal));
  }
}
