import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import { CommandBus, CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { z } from 'zod/v4';
import { AccountRunner, type AccountRef } from '../../accounts/account-runner';
import { Roles } from '../../http/auth.guard';
import { ACCOUNT_ROUTE, CurrentPrincipal } from '../../http/current-principal';
import { actorOf, type Principal } from '../../http/principal';
import { jsonSchema, ZodBody } from '../../http/validation';

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

@ApiTags('authenticator app')
@Controller(ACCOUNT_ROUTE)
export class DisableTwoFactorController {
  constructor(private readonly commands: CommandBus) {}

  @Post('two-factor/disable')
  @HttpCode(200)
  @Roles('portal')
  @ApiOperation({ summary: 'Customer turns 2FA off (password confirmed upstream): secret, recovery codes and trusted devices are invalidated' })
  @ApiBody({ schema: jsonSchema(DisableBody) })
  disable(@Param() account: AccountRef, @CurrentPrincipal() principal: Principal, @Body(new ZodBody(DisableBody)) _body: z.infer<typeof DisableBody>) {
    return this.commands.execute(new DisableTwoFactorCommand({ tenantId: account.tenantId, userId: account.userId }, principal));
  }
}
