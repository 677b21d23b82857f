import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import { CommandBus, CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { z } from 'zod/v4';
import { AccountRunner, type AccountRef } from '../../accounts/account-runner';
import { ID_PATTERN, Roles } from '../../http/auth.guard';
import { ACCOUNT_ROUTE, CurrentPrincipal } from '../../http/current-principal';
import { actorOf, type Principal } from '../../http/principal';
import { jsonSchema, ZodBody } from '../../http/validation';

export const operatorId = z.string().regex(ID_PATTERN, 'must be 1-64 characters of letters, digits and _@.+-');
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

@ApiTags('reseller tools')
@Controller(ACCOUNT_ROUTE)
export class ResellerDisableController {
  constructor(private readonly commands: CommandBus) {}

  @Post('two-factor/reseller-disable')
  @HttpCode(200)
  @Roles('operator', 'admin')
  @ApiOperation({ summary: "Reseller disables a customer's 2FA (only when enabled: 409 not_enabled, or enforced_by_policy where the tenant requires email codes)" })
  @ApiBody({ schema: jsonSchema(ResellerDisableBody) })
  disable(@Param() account: AccountRef, @CurrentPrincipal() principal: Principal, @Body(new ZodBody(ResellerDisableBody)) body: z.infer<typeof ResellerDisableBody>) {
    return this.commands.execute(new ResellerDisableCommand({ tenantId: account.tenantId, userId: account.userId }, principal, body.operatorId, body.reason));
  }
}
