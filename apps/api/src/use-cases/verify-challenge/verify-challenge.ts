import { Body, Controller, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { CommandBus, CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { z } from 'zod/v4';
import { matchTotpStep, randomToken } from '@twostep/crypto';
import type { Runtime } from '@twostep/app';
import { AccountRunner, accountScope, type AccountRef } from '../../accounts/account-runner';
import { refuseIfFailed } from '../../accounts/attempt-outcome';
import { hashEmailCode } from '../../accounts/email-codes';
import { Roles } from '../../http/auth.guard';
import { ACCOUNT_ROUTE, CurrentPrincipal } from '../../http/current-principal';
import { actorOf, type Principal } from '../../http/principal';
import { jsonSchema, sixDigitCode, ZodBody } from '../../http/validation';
import { RUNTIME } from '../../tokens';

const VerifyBody = z.object({ code: sixDigitCode, rememberDevice: z.boolean().optional() }).strict();

export class VerifyChallengeCommand {
  constructor(
    readonly account: AccountRef,
    readonly principal: Principal,
    readonly challengeId: string,
    readonly code: string,
    readonly rememberDevice: boolean,
  ) {}
}

/** Checks an authenticator or email code against the open challenge. */
@CommandHandler(VerifyChallengeCommand)
export class VerifyChallengeHandler implements ICommandHandler<VerifyChallengeCommand> {
  constructor(private readonly accounts: AccountRunner, @Inject(RUNTIME) private readonly runtime: Runtime) {}

  async execute({ account, principal, challengeId, code, rememberDevice }: VerifyChallengeCommand) {
    const { hasher, secretBox } = this.runtime.secrets;
    const scope = accountScope(account);
    const deviceToken = rememberDevice ? `dt_${randomToken(32)}` : undefined;
    const result = await this.accounts.run(account, actorOf(principal), (state, now) => ({
      type: 'VerifyChallenge',
      challengeId,
      matchedStep:
        state.totp && state.challenge?.method === 'totp'
          ? matchTotpStep(secretBox.decrypt(state.totp.secret as never, scope), code, now.getTime())
          : null,
      codeHash: hashEmailCode(hasher, account, challengeId, code),
      ...(deviceToken
        ? {
            rememberDevice: {
              deviceId: hasher.hash('device-id', scope, deviceToken).slice(0, 12),
              tokenHash: hasher.hash('device-token', scope, deviceToken),
            },
          }
        : {}),
    }));
    refuseIfFailed(result.events);
    const trusted = result.events.find((event) => event.type === 'DeviceTrusted');
    return {
      verified: true,
      ...(trusted && deviceToken ? { deviceToken, deviceId: trusted.data.deviceId, deviceTrustedUntil: trusted.data.expiresAt } : {}),
    };
  }
}

@ApiTags('login')
@Controller(ACCOUNT_ROUTE)
export class VerifyChallengeController {
  constructor(private readonly commands: CommandBus) {}

  @Post('challenges/:challengeId/verify')
  @HttpCode(200)
  @Roles('portal')
  @ApiOperation({ summary: 'Verify the code (422 invalid_code with attemptsLeft, 410 code_expired, 423 account_locked)' })
  @ApiBody({ schema: jsonSchema(VerifyBody) })
  verify(
    @Param() params: AccountRef & { challengeId: string },
    @CurrentPrincipal() principal: Principal,
    @Body(new ZodBody(VerifyBody)) body: z.infer<typeof VerifyBody>,
  ) {
    return this.commands.execute(
      new VerifyChallengeCommand({ tenantId: params.tenantId, userId: params.userId }, principal, params.challengeId, body.code, body.rememberDevice ?? false),
    );
  }
}
