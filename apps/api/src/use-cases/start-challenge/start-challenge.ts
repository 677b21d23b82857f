import { Body, Controller, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { CommandBus, CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { z } from 'zod/v4';
import { maskEmail, randomId } from '@twostep/crypto';
import { answerMethods, challengeRequirement, passkeysOf } from '@twostep/domain';
import { AccountRunner, accountScope, type AccountRef } from '../../accounts/account-runner';
import { prepareEmailCode } from '../../accounts/email-codes';
import { Roles } from '../../http/auth.guard';
import { Metrics } from '../../http/observability';
import { ACCOUNT_ROUTE, CurrentPrincipal } from '../../http/current-principal';
import { actorOf, type Principal } from '../../http/principal';
import { ZodBody } from '../../http/validation';
import { POLICY_READER, SECRETS, type PolicyReader, type Secrets } from '../../tokens';
import { isoTime, type Operation } from '../../http/contract';

const StartBody = z
  .object({
    deviceToken: z.string().min(1).max(200).optional().describe('Token from an earlier verify with rememberDevice'),
    email: z.email().max(254).optional().describe('Where to send the code when the tenant requires email codes'),
  })
  .strict();

export class StartChallengeCommand {
  constructor(readonly account: AccountRef, readonly principal: Principal, readonly deviceToken?: string, readonly email?: string) {}
}

export type ChallengeStart =
  | { required: false; reason: 'not_enrolled' | 'trusted_device' }
  | { required: true; challengeId: string; method: 'totp' | 'email'; methods: ('totp' | 'email' | 'webauthn')[]; expiresAt: string; sentTo?: string };

/** After the password step: is a second step needed, and if so, which challenge. */
@CommandHandler(StartChallengeCommand)
export class StartChallengeHandler implements ICommandHandler<StartChallengeCommand, ChallengeStart> {
  constructor(
    private readonly accounts: AccountRunner,
    @Inject(POLICY_READER) private readonly policies: PolicyReader, @Inject(SECRETS) private readonly secrets: Secrets,
    private readonly metrics: Metrics,
  ) {}

  async execute({ account, principal, deviceToken, email }: StartChallengeCommand): Promise<ChallengeStart> {
    const { hasher } = this.secrets;
    // The address and the code travel in one event: one ephemeral key seals both.
    const sealer = this.secrets.sealer.forOneEvent();
    const challengeId = randomId();
    const deviceTokenHash = deviceToken ? hasher.hash('device-token', accountScope(account), deviceToken) : undefined;
    const contact = email ? { recipient: sealer.seal(email), maskedRecipient: maskEmail(email) } : undefined;
    const result = await this.accounts.run(account, actorOf(principal), (state, now, { policy }) => {
      const requirement = challengeRequirement(state, policy, now, deviceTokenHash);
      return {
        type: 'StartChallenge',
        challengeId,
        // Only an email challenge uses a code: a TOTP login does not pay for sealing one.
        ...(requirement.required && requirement.method === 'email' ? { code: prepareEmailCode(hasher, sealer, account, challengeId) } : {}),
        ...(deviceTokenHash ? { deviceTokenHash } : {}),
        ...(contact ? { contact } : {}),
      };
    });
    const started = result.events.find((event) => event.type === 'ChallengeStarted');
    if (!started) {
      const policy = await this.policies.get(account.tenantId);
      const requirement = challengeRequirement(result.state, policy, result.now, deviceTokenHash);
      const reason = requirement.required ? 'not_enrolled' : requirement.reason;
      this.metrics.twoFactor.skipped(reason);
      return { required: false, reason };
    }
    const { method, expiresAt } = started.data;
    // An email challenge always says where the code went: the address passed now, or the one the account last used.
    const issued = result.events.find((event) => event.type === 'CodeIssued');
    // An account with passkeys answers its TOTP challenge with either (…/passkey/options, then …/passkey/verify).
    const methods = answerMethods(method, passkeysOf(result.state).length);
    return { required: true, challengeId, method, expiresAt, ...(issued ? { sentTo: issued.data.maskedRecipient } : {}), methods };
  }
}

export const startChallengeOperation: Operation = {
  operationId: 'startChallenge',
  method: 'post',
  path: '/v1/tenants/{tenantId}/accounts/{userId}/challenges',
  tag: 'login',
  summary: 'Start the second step of a login',
  description:
    'Call after the password step. `required: false` means the login may go on (no second step for this account, or a remembered device). ' +
    'Otherwise answer the challenge with `…/verify` (or `…/recovery`). For an email challenge `sentTo` is the masked address the code went to. ' +
    'A new email challenge inside the resend cooldown is 429 `resend_cooldown` carrying the still-open `challengeId` (with `sentTo` and `expiresAt`), so a refreshed login page can go on with it.',
  roles: ['portal'],
  body: StartBody,
  response: {
    status: 200,
    description: 'Whether a second step is needed, and its challenge',
    schema: z.union([
      z.object({ required: z.literal(false), reason: z.enum(['not_enrolled', 'trusted_device']) }).strict(),
      z
        .object({
          required: z.literal(true),
          challengeId: z.string(),
          method: z.enum(['totp', 'email']),
          methods: z
            .array(z.enum(['totp', 'email', 'webauthn']))
            .describe('every way this challenge can be answered: `webauthn` when the account has a passkey (`…/passkey/options`, then `…/passkey/verify`)'),
          expiresAt: isoTime,
          sentTo: z.string().optional().describe('email (always): the masked address the code was sent to'),
        })
        .strict(),
    ]),
  },
  errors: ['account_locked', 'email_required', 'resend_cooldown', 'concurrent_update', 'secret_key_missing'],
  examples: { totp: {}, email: { email: 'bob@example.com' }, rememberedDevice: { deviceToken: 'dt_…' } },
};

@Controller(ACCOUNT_ROUTE)
export class StartChallengeController {
  constructor(private readonly commands: CommandBus) {}

  @Post('challenges')
  @HttpCode(startChallengeOperation.response.status)
  @Roles(...startChallengeOperation.roles)
  start(@Param() account: AccountRef, @CurrentPrincipal() principal: Principal, @Body(new ZodBody(StartBody)) body: z.infer<typeof StartBody>) {
    return this.commands.execute(new StartChallengeCommand({ tenantId: account.tenantId, userId: account.userId }, principal, body.deviceToken, body.email));
  }
}
