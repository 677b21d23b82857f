import { Body, Controller, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { CommandBus, CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { z } from 'zod/v4';
import { matchTotpStep } from '@twostep/crypto';
import { AccountRunner, accountScope, type AccountRef } from '../../accounts/account-runner';
import { refuseIfFailed } from '../../accounts/attempt-outcome';
import { hashEmailCode } from '../../accounts/email-codes';
import { deviceToRemember, labelNeedsRemember, rememberedAnswer, rememberFields } from '../../accounts/remembered-device';
import { Roles } from '../../http/auth.guard';
import { ACCOUNT_ROUTE, CurrentPrincipal } from '../../http/current-principal';
import { actorOf, type Principal } from '../../http/principal';
import { sixDigitCode, ZodBody } from '../../http/validation';
import { SECRETS, type Secrets } from '../../tokens';
import { isoTime, type Operation } from '../../http/contract';

const VerifyBody = z
  .object({ code: sixDigitCode, ...rememberFields })
  .strict()
  .refine(...labelNeedsRemember);

export class VerifyChallengeCommand {
  constructor(
    readonly account: AccountRef,
    readonly principal: Principal,
    readonly challengeId: string,
    readonly code: string,
    readonly rememberDevice: boolean,
    readonly deviceLabel?: string,
  ) {}
}

/** Checks an authenticator or email code against the open challenge. */
@CommandHandler(VerifyChallengeCommand)
export class VerifyChallengeHandler implements ICommandHandler<VerifyChallengeCommand> {
  constructor(private readonly accounts: AccountRunner, @Inject(SECRETS) private readonly secrets: Secrets) {}

  async execute({ account, principal, challengeId, code, rememberDevice, deviceLabel }: VerifyChallengeCommand) {
    const { hasher, secretBox } = this.secrets;
    const scope = accountScope(account);
    const device = deviceToRemember(hasher, account, rememberDevice, deviceLabel);
    const result = await this.accounts.run(account, actorOf(principal), (state, now) => ({
      type: 'VerifyChallenge',
      challengeId,
      // The proof this challenge's method asks for: the TOTP step the code matched, or the email code's keyed hash.
      proof:
        state.challenge?.method === 'email'
          ? { kind: 'email', codeHash: hashEmailCode(hasher, account, challengeId, code) }
          : { kind: 'totp', matchedStep: state.factor.status === 'on' ? matchTotpStep(secretBox.decrypt(state.factor.secret as never, scope), code, now.getTime()) : null },
      ...(device ? { rememberDevice: device.prepared } : {}),
    }));
    refuseIfFailed(result.events);
    return { verified: true, ...rememberedAnswer(result.events, device) };
  }
}

export const verifyChallengeOperation: Operation = {
  operationId: 'verifyChallenge',
  method: 'post',
  path: '/v1/tenants/{tenantId}/accounts/{userId}/challenges/{challengeId}/verify',
  tag: 'login',
  summary: 'Answer a challenge with the authenticator-app or email code',
  description:
    'A wrong code is 422 `invalid_code` with `attemptsLeft`; the attempt that reaches the limit is 423 `account_locked`. ' +
    'With `rememberDevice`, `deviceLabel` names the device in `listTrustedDevices` and the event log.',
  roles: ['portal'],
  body: VerifyBody,
  bodyRequired: true,
  response: {
    status: 200,
    description: 'Verified; with `rememberDevice`, a device token to pass to the next `startChallenge`',
    secret: true,
    schema: z
      .object({
        verified: z.literal(true),
        deviceToken: z.string().optional().describe('rememberDevice: keep it on the device; shown only this once'),
        deviceId: z.string().optional(),
        deviceTrustedUntil: isoTime.optional(),
      })
      .strict(),
  },
  errors: ['invalid_code', 'code_expired', 'challenge_expired', 'challenge_not_found', 'account_locked', 'concurrent_update', 'secret_key_missing'],
  examples: {
    code: { code: '123456' },
    remember: { code: '123456', rememberDevice: true },
    rememberNamed: { code: '123456', rememberDevice: true, deviceLabel: 'Firefox on Linux' },
  },
};

@Controller(ACCOUNT_ROUTE)
export class VerifyChallengeController {
  constructor(private readonly commands: CommandBus) {}

  @Post('challenges/:challengeId/verify')
  @HttpCode(verifyChallengeOperation.response.status)
  @Roles(...verifyChallengeOperation.roles)
  verify(
    @Param() params: AccountRef & { challengeId: string },
    @CurrentPrincipal() principal: Principal,
    @Body(new ZodBody(VerifyBody)) body: z.infer<typeof VerifyBody>,
  ) {
    return this.commands.execute(
      new VerifyChallengeCommand(
        { tenantId: params.tenantId, userId: params.userId },
        principal,
        params.challengeId,
        body.code,
        body.rememberDevice ?? false,
        body.deviceLabel,
      ),
    );
  }
}
