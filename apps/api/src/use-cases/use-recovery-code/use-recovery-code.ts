import { Body, Controller, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { CommandBus, CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { z } from 'zod/v4';
import type { Runtime } from '@twostep/app';
import { AccountRunner, type AccountRef } from '../../accounts/account-runner';
import { refuseIfFailed } from '../../accounts/attempt-outcome';
import { hashRecoveryCode } from '../../accounts/recovery-codes';
import { Roles } from '../../http/auth.guard';
import { ACCOUNT_ROUTE, CurrentPrincipal } from '../../http/current-principal';
import { actorOf, type Principal } from '../../http/principal';
import { jsonSchema, ZodBody } from '../../http/validation';
import { RUNTIME } from '../../tokens';

const RecoveryBody = z.object({ recoveryCode: z.string().regex(/^[A-Za-z0-9 -]{10,20}$/, 'must look like xxxxx-xxxxx') }).strict();

export class UseRecoveryCodeCommand {
  constructor(readonly account: AccountRef, readonly principal: Principal, readonly challengeId: string, readonly recoveryCode: string) {}
}

@CommandHandler(UseRecoveryCodeCommand)
export class UseRecoveryCodeHandler implements ICommandHandler<UseRecoveryCodeCommand> {
  constructor(private readonly accounts: AccountRunner, @Inject(RUNTIME) private readonly runtime: Runtime) {}

  async execute({ account, principal, challengeId, recoveryCode }: UseRecoveryCodeCommand) {
    const recoveryCodeHash = hashRecoveryCode(this.runtime.secrets.hasher, account, recoveryCode);
    const result = await this.accounts.run(account, actorOf(principal), () => ({ type: 'UseRecoveryCode', challengeId, recoveryCodeHash }));
    refuseIfFailed(result.events);
    return { verified: true, recoveryCodesRemaining: result.state.recoveryCodeHashes.length, resetRecommended: true };
  }
}

@ApiTags('login')
@Controller(ACCOUNT_ROUTE)
export class UseRecoveryCodeController {
  constructor(private readonly commands: CommandBus) {}

  @Post('challenges/:challengeId/recovery')
  @HttpCode(200)
  @Roles('portal')
  @ApiOperation({ summary: 'Log in with a single-use recovery code; 2FA stays on and a reset is recommended' })
  @ApiBody({ schema: jsonSchema(RecoveryBody) })
  recover(@Param() params: AccountRef & { challengeId: string }, @CurrentPrincipal() principal: Principal, @Body(new ZodBody(RecoveryBody)) body: z.infer<typeof RecoveryBody>) {
    return this.commands.execute(new UseRecoveryCodeCommand({ tenantId: params.tenantId, userId: params.userId }, principal, params.challengeId, body.recoveryCode));
  }
}
