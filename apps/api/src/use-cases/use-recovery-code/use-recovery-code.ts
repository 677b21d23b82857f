import { Body, Controller, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { CommandBus, CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { z } from 'zod/v4';
import { recoveryCodesOf } from '@twostep/domain';
import { AccountRunner, type AccountRef } from '../../accounts/account-runner';
import { refuseIfFailed } from '../../accounts/attempt-outcome';
import { hashRecoveryCode } from '../../accounts/recovery-codes';
import { Roles } from '../../http/auth.guard';
import { ACCOUNT_ROUTE, CurrentPrincipal } from '../../http/current-principal';
import { actorOf, type Principal } from '../../http/principal';
import { ZodBody } from '../../http/validation';
import { SECRETS, type Secrets } from '../../tokens';
import { type Operation } from '../../http/contract';

const RecoveryBody = z.object({ recoveryCode: z.string().regex(/^[A-Za-z0-9 -]{10,20}$/, 'must look like xxxxx-xxxxx') }).strict();

export class UseRecoveryCodeCommand {
  constructor(readonly account: AccountRef, readonly principal: Principal, readonly challengeId: string, readonly recoveryCode: string) {}
}

@CommandHandler(UseRecoveryCodeCommand)
export class UseRecoveryCodeHandler implements ICommandHandler<UseRecoveryCodeCommand> {
  constructor(private readonly accounts: AccountRunner, @Inject(SECRETS) private readonly secrets: Secrets) {}

  async execute({ account, principal, challengeId, recoveryCode }: UseRecoveryCodeCommand) {
    const recoveryCodeHash = hashRecoveryCode(this.secrets.hasher, account, recoveryCode);
    const result = await this.accounts.run(account, actorOf(principal), () => ({ type: 'UseRecoveryCode', challengeId, recoveryCodeHash }));
    refuseIfFailed(result.events);
    return { verified: true, recoveryCodesRemaining: recoveryCodesOf(result.state).length, resetRecommended: true };
  }
}

export const useRecoveryCodeOperation: Operation = {
  operationId: 'useRecoveryCode',
  method: 'post',
  path: '/v1/tenants/{tenantId}/accounts/{userId}/challenges/{challengeId}/recovery',
  tag: 'login',
  summary: 'Answer a challenge with a recovery code ("Use a recovery code")',
  description: 'Each code works once. After a recovery login the seed asks the platform to recommend a reset (`resetRecommended`).',
  roles: ['portal'],
  body: RecoveryBody,
  bodyRequired: true,
  response: {
    status: 200,
    description: 'Verified with a recovery code',
    schema: z.object({ verified: z.literal(true), recoveryCodesRemaining: z.number().int().min(0), resetRecommended: z.literal(true) }).strict(),
  },
  errors: ['invalid_code', 'challenge_expired', 'challenge_not_found', 'account_locked', 'recovery_not_available', 'concurrent_update'],
  examples: { recovery: { recoveryCode: 'abcde-fghij' } },
};

@Controller(ACCOUNT_ROUTE)
export class UseRecoveryCodeController {
  constructor(private readonly commands: CommandBus) {}

  @Post('challenges/:challengeId/recovery')
  @HttpCode(useRecoveryCodeOperation.response.status)
  @Roles(...useRecoveryCodeOperation.roles)
  recover(@Param() params: AccountRef & { challengeId: string }, @CurrentPrincipal() principal: Principal, @Body(new ZodBody(RecoveryBody)) body: z.infer<typeof RecoveryBody>) {
    return this.commands.execute(new UseRecoveryCodeCommand({ tenantId: params.tenantId, userId: params.userId }, principal, params.challengeId, body.recoveryCode));
  }
}
