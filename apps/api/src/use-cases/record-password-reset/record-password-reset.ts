import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import { CommandBus, CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { AccountRunner, type AccountRef } from '../../accounts/account-runner';
import { Roles } from '../../http/auth.guard';
import { ACCOUNT_ROUTE, CurrentPrincipal } from '../../http/current-principal';
import { actorOf, type Principal } from '../../http/principal';
import { emptyBody, ZodBody } from '../../http/validation';

export class RecordPasswordResetCommand {
  constructor(readonly account: AccountRef, readonly principal: Principal) {}
}

@CommandHandler(RecordPasswordResetCommand)
export class RecordPasswordResetHandler implements ICommandHandler<RecordPasswordResetCommand> {
  constructor(private readonly accounts: AccountRunner) {}

  async execute({ account, principal }: RecordPasswordResetCommand) {
    await this.accounts.run(account, actorOf(principal), () => ({ type: 'RecordPasswordReset' }));
    return { recorded: true, twoFactorRequiredAtNextLogin: true };
  }
}

@ApiTags('login')
@Controller(ACCOUNT_ROUTE)
export class RecordPasswordResetController {
  constructor(private readonly commands: CommandBus) {}

  @Post('password-reset')
  @HttpCode(200)
  @Roles('portal')
  @ApiOperation({ summary: 'Record a password reset: trusted devices are revoked, so the next login asks for 2FA' })
  record(@Param() account: AccountRef, @CurrentPrincipal() principal: Principal, @Body(new ZodBody(emptyBody)) _body: unknown) {
    return this.commands.execute(new RecordPasswordResetCommand({ tenantId: account.tenantId, userId: account.userId }, principal));
  }
}
