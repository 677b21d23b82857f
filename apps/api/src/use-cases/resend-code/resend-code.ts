import { z } from 'zod/v4';
import { Body, Controller, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { CommandBus, CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { AccountRunner, type AccountRef } from '../../accounts/account-runner';
import { prepareEmailCode } from '../../accounts/email-codes';
import { Roles } from '../../http/auth.guard';
import { ACCOUNT_ROUTE, CurrentPrincipal } from '../../http/current-principal';
import { actorOf, type Principal } from '../../http/principal';
import { emptyBody, ZodBody } from '../../http/validation';
import { SECRETS, type Secrets } from '../../tokens';
import { isoTime, type Operation } from '../../http/contract';

export class ResendCodeCommand {
  constructor(readonly account: AccountRef, readonly principal: Principal, readonly challengeId: string) {}
}

@CommandHandler(ResendCodeCommand)
export class ResendCodeHandler implements ICommandHandler<ResendCodeCommand> {
  constructor(private readonly accounts: AccountRunner, @Inject(SECRETS) private readonly secrets: Secrets) {}

  async execute({ account, principal, challengeId }: ResendCodeCommand) {
    const { hasher, sealer } = this.secrets;
    const result = await this.accounts.run(account, actorOf(principal), () => ({
      type: 'ResendCode',
      challengeId,
      code: prepareEmailCode(hasher, sealer, account, challengeId),
    }));
    const issued = result.events.find((event) => event.type === 'CodeIssued');
    return { sent: true, sentTo: issued?.data.maskedRecipient, expiresAt: issued?.data.expiresAt };
  }
}

export const resendCodeOperation: Operation = {
  operationId: 'resendCode',
  method: 'post',
  path: '/v1/tenants/{tenantId}/accounts/{userId}/challenges/{challengeId}/resend',
  tag: 'login',
  summary: 'Send a new email code for an open email challenge',
  description: 'Only after an attempt, and not within the cooldown (429 `resend_cooldown` with `retryAfterSeconds`). The new code replaces the old one; attempts stay counted.',
  roles: ['portal'],
  body: emptyBody,
  response: {
    status: 202,
    description: 'A new code is on its way',
    schema: z.object({ sent: z.literal(true), sentTo: z.string().optional(), expiresAt: isoTime.optional() }).strict(),
  },
  errors: ['resend_not_available', 'resend_cooldown', 'challenge_not_found', 'challenge_expired', 'account_locked', 'concurrent_update'],
};

@Controller(ACCOUNT_ROUTE)
export class ResendCodeController {
  constructor(private readonly commands: CommandBus) {}

  @Post('challenges/:challengeId/resend')
  @HttpCode(resendCodeOperation.response.status)
  @Roles(...resendCodeOperation.roles)
  resend(@Param() params: AccountRef & { challengeId: string }, @CurrentPrincipal() principal: Principal, @Body(new ZodBody(emptyBody)) _body: unknown) {
    return this.commands.execute(new ResendCodeCommand({ tenantId: params.tenantId, userId: params.userId }, principal, params.challengeId));
  }
}
