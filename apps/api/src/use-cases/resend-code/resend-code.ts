import { Body, Controller, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { CommandBus, CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Runtime } from '@twostep/app';
import { AccountRunner, type AccountRef } from '../../accounts/account-runner';
import { prepareEmailCode } from '../../accounts/email-codes';
import { Roles } from '../../http/auth.guard';
import { ACCOUNT_ROUTE, CurrentPrincipal } from '../../http/current-principal';
import { actorOf, type Principal } from '../../http/principal';
import { emptyBody, ZodBody } from '../../http/validation';
import { RUNTIME } from '../../tokens';

export class ResendCodeCommand {
  constructor(readonly account: AccountRef, readonly principal: Principal, readonly challengeId: string) {}
}

@CommandHandler(ResendCodeCommand)
export class ResendCodeHandler implements ICommandHandler<ResendCodeCommand> {
  constructor(private readonly accounts: AccountRunner, @Inject(RUNTIME) private readonly runtime: Runtime) {}

  async execute({ account, principal, challengeId }: ResendCodeCommand) {
    const { hasher, sealer } = this.runtime.secrets;
    const result = await this.accounts.run(account, actorOf(principal), () => ({
      type: 'ResendCode',
      challengeId,
      code: prepareEmailCode(hasher, sealer, account, challengeId),
    }));
    const issued = result.events.find((event) => event.type === 'CodeIssued');
    return { sent: true, sentTo: issued?.data.maskedRecipient, expiresAt: issued?.data.expiresAt };
  }
}

@ApiTags('login')
@Controller(ACCOUNT_ROUTE)
export class ResendCodeController {
  constructor(private readonly commands: CommandBus) {}

  @Post('challenges/:challengeId/resend')
  @HttpCode(202)
  @Roles('portal')
  @ApiOperation({ summary: 'Send a new email code (409 resend_not_available before an attempt, 429 resend_cooldown)' })
  resend(@Param() params: AccountRef & { challengeId: string }, @CurrentPrincipal() principal: Principal, @Body(new ZodBody(emptyBody)) _body: unknown) {
    return this.commands.execute(new ResendCodeCommand({ tenantId: params.tenantId, userId: params.userId }, principal, params.challengeId));
  }
}
