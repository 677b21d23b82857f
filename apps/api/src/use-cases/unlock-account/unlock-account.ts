import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import { CommandBus, CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { z } from 'zod/v4';
import { AccountRunner, type AccountRef } from '../../accounts/account-runner';
import { Roles } from '../../http/auth.guard';
import { ACCOUNT_ROUTE, CurrentPrincipal } from '../../http/current-principal';
import { actorOf, type Principal } from '../../http/principal';
import { jsonSchema, ZodBody } from '../../http/validation';
import { operatorId } from '../reseller-disable/reseller-disable';

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

@ApiTags('reseller tools')
@Controller(ACCOUNT_ROUTE)
export class UnlockAccountController {
  constructor(private readonly commands: CommandBus) {}

  @Post('unlock')
  @HttpCode(200)
  @Roles('operator', 'admin')
  @ApiOperation({ summary: 'Lift a lockout early (409 not_locked when not locked)' })
  @ApiBody({ schema: jsonSchema(UnlockBody) })
  unlock(@Param() account: AccountRef, @CurrentPrincipal() principal: Principal, @Body(new ZodBody(UnlockBody)) body: z.infer<typeof UnlockBody>) {
    return this.commands.execute(new UnlockAccountCommand({ tenantId: account.tenantId, userId: account.userId }, principal, body.operatorId));
  }
}
