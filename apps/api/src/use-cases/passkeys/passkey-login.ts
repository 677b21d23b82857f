import { Body, Controller, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { CommandBus, CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { z } from 'zod/v4';
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import { passkeyAnswerable, passkeysOf } from '@twostep/domain';
import { AccountRunner, type AccountRef } from '../../accounts/account-runner';
import { refuseIfFailed } from '../../accounts/attempt-outcome';
import { deviceToRemember, labelNeedsRemember, rememberedAnswer, rememberFields } from '../../accounts/remembered-device';
import { Roles } from '../../http/auth.guard';
import { ACCOUNT_ROUTE, CurrentPrincipal } from '../../http/current-principal';
import { actorOf, type Principal } from '../../http/principal';
import { emptyBody, ZodBody } from '../../http/validation';
import { CLOCK, POLICY_READER, SECRETS, type Clock, type PolicyReader, type Secrets } from '../../tokens';
import { isoTime, type Operation } from '../../http/contract';
import { assertionOptions, AuthenticationResponse, CeremonyOptions, proveAssertion, relyingParty } from './ceremony';

const VerifyPasskeyBody = z
  .object({ response: AuthenticationResponse, ...rememberFields })
  .strict()
  .refine(...labelNeedsRemember);

export const passkeyAssertionOptionsOperation: Operation = {
  operationId: 'passkeyAssertionOptions',
  method: 'post',
  path: '/v1/tenants/{tenantId}/accounts/{userId}/challenges/{challengeId}/passkey/options',
  tag: 'passkeys',
  summary: 'WebAuthn request options for navigator.credentials.get(), to answer a login with a passkey',
  description:
    "For a challenge whose `methods` include `webauthn`. The options' challenge is bound to this login challenge: it is single-use and expires with it.",
  roles: ['portal'],
  body: emptyBody,
  response: { status: 200, description: 'Options for the browser', schema: z.object({ options: CeremonyOptions }).strict() },
  errors: ['challenge_not_found', 'challenge_expired', 'account_locked', 'passkey_not_available', 'passkeys_not_configured'],
};

export const verifyPasskeyOperation: Operation = {
  operationId: 'verifyPasskey',
  method: 'post',
  path: '/v1/tenants/{tenantId}/accounts/{userId}/challenges/{challengeId}/passkey/verify',
  tag: 'passkeys',
  summary: "Answer a challenge with the browser's passkey assertion",
  description:
    'An assertion that does not verify (a passkey this account does not have, a wrong signature, another origin, a signature counter that did not move forward) ' +
    'is 422 `invalid_passkey` with `attemptsLeft`: it counts toward the same lock as a wrong code, and the attempt that reaches the limit is 423 `account_locked`. ' +
    '`rememberDevice` and `deviceLabel` work as for `verifyChallenge`.',
  roles: ['portal'],
  body: VerifyPasskeyBody,
  bodyRequired: true,
  response: {
    status: 200,
    description: 'Verified; with `rememberDevice`, a device token to pass to the next `startChallenge`',
    secret: true,
    schema: z
      .object({
        verified: z.literal(true),
        passkeyId: z.string(),
        deviceToken: z.string().optional().describe('rememberDevice: keep it on the device; shown only this once'),
        deviceId: z.string().optional(),
        deviceTrustedUntil: isoTime.optional(),
      })
      .strict(),
  },
  errors: ['invalid_passkey', 'challenge_expired', 'challenge_not_found', 'account_locked', 'passkey_not_available', 'passkeys_not_configured', 'concurrent_update'],
};

export class PasskeyAssertionOptionsCommand {
  constructor(readonly account: AccountRef, readonly challengeId: string) {}
}

export class VerifyPasskeyCommand {
  constructor(
    readonly account: AccountRef,
    readonly principal: Principal,
    readonly challengeId: string,
    readonly response: AuthenticationResponseJSON,
    readonly rememberDevice: boolean,
    readonly deviceLabel?: string,
  ) {}
}

@CommandHandler(PasskeyAssertionOptionsCommand)
export class PasskeyAssertionOptionsHandler implements ICommandHandler<PasskeyAssertionOptionsCommand> {
  constructor(
    private readonly accounts: AccountRunner,
    @Inject(POLICY_READER) private readonly policies: PolicyReader,
    @Inject(SECRETS) private readonly secrets: Secrets,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /** Reads only: the refusals are the ones verifying would give, so the browser does not ask the user for nothing. */
  async execute({ account, challengeId }: PasskeyAssertionOptionsCommand) {
    const state = await this.accounts.state(account);
    passkeyAnswerable(state, challengeId, this.clock.now());
    const rp = relyingParty(await this.policies.get(account.tenantId), account.tenantId);
    return { options: await assertionOptions(this.secrets.hasher, account, rp, challengeId, passkeysOf(state)) };
  }
}

/** Checks the assertion with @simplewebauthn/server against the stored public key; the decider judges it (counter, lockout). */
@CommandHandler(VerifyPasskeyCommand)
export class VerifyPasskeyHandler implements ICommandHandler<VerifyPasskeyCommand> {
  constructor(private readonly accounts: AccountRunner, @Inject(SECRETS) private readonly secrets: Secrets) {}

  async execute({ account, principal, challengeId, response, rememberDevice, deviceLabel }: VerifyPasskeyCommand) {
    const { hasher } = this.secrets;
    const device = deviceToRemember(hasher, account, rememberDevice, deviceLabel);
    const result = await this.accounts.run(account, actorOf(principal), async (state, _now, { policy }) => ({
      type: 'VerifyPasskey',
      challengeId,
      // With no passkeys (or none configured) the decider refuses before looking at a proof.
      proof:
        passkeysOf(state).length > 0
          ? await proveAssertion(hasher, account, relyingParty(policy, account.tenantId), challengeId, passkeysOf(state), response)
          : { credentialId: response.id, known: false },
      ...(device ? { rememberDevice: device.prepared } : {}),
    }));
    refuseIfFailed(result.events);
    const passed = result.events.find((event) => event.type === 'ChallengePassed');
    return { verified: true, passkeyId: passed?.data.passkey?.passkeyId ?? '', ...rememberedAnswer(result.events, device) };
  }
}

@Controller(ACCOUNT_ROUTE)
export class PasskeyLoginController {
  constructor(private readonly commands: CommandBus) {}

  @Post('challenges/:challengeId/passkey/options')
  @HttpCode(passkeyAssertionOptionsOperation.response.status)
  @Roles(...passkeyAssertionOptionsOperation.roles)
  options(@Param() params: AccountRef & { challengeId: string }, @Body(new ZodBody(emptyBody)) _body: z.infer<typeof emptyBody>) {
    return this.commands.execute(new PasskeyAssertionOptionsCommand({ tenantId: params.tenantId, userId: params.userId }, params.challengeId));
  }

  @Post('challenges/:challengeId/passkey/verify')
  @HttpCode(verifyPasskeyOperation.response.status)
  @Roles(...verifyPasskeyOperation.roles)
  verify(
    @Param() params: AccountRef & { challengeId: string },
    @CurrentPrincipal() principal: Principal,
    @Body(new ZodBody(VerifyPasskeyBody)) body: z.infer<typeof VerifyPasskeyBody>,
  ) {
    return this.commands.execute(
      new VerifyPasskeyCommand(
        { tenantId: params.tenantId, userId: params.userId },
        principal,
        params.challengeId,
        body.response as AuthenticationResponseJSON,
        body.rememberDevice ?? false,
        body.deviceLabel,
      ),
    );
  }
}
