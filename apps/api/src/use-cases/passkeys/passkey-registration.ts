import { Body, Controller, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { CommandBus, CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { z } from 'zod/v4';
import type { RegistrationResponseJSON } from '@simplewebauthn/server';
import { assertCanAddPasskey, isEnabled, MAX_PASSKEYS, PASSKEY_NAME_MAX, passkeysOf } from '@twostep/domain';
import { AccountRunner, type AccountRef } from '../../accounts/account-runner';
import { Roles } from '../../http/auth.guard';
import { ACCOUNT_ROUTE, CurrentPrincipal } from '../../http/current-principal';
import { actorOf, type Principal } from '../../http/principal';
import { emptyBody, ZodBody } from '../../http/validation';
import { CLOCK, POLICY_READER, SECRETS, type Clock, type PolicyReader, type Secrets } from '../../tokens';
import { isoTime, type Operation } from '../../http/contract';
import { CeremonyOptions, registrationOptions, RegistrationResponse, relyingParty, verifyRegistration } from './ceremony';

/** What the customer calls the passkey ("MacBook Touch ID"): printable, no control or formatting characters. */
export const passkeyName = z
  .string()
  .regex(new RegExp(`^(?=\\S)(?=.*\\S$)[^\\p{C}\\p{Zl}\\p{Zp}]{1,${PASSKEY_NAME_MAX}}$`, 'u'), `must be 1-${PASSKEY_NAME_MAX} printable characters without leading or trailing spaces`)
  .describe('what the customer calls this passkey, e.g. "MacBook Touch ID"; unique per account');

const RegisterBody = z
  .object({
    registrationId: z.string().regex(/^\d{1,16}\.[A-Za-z0-9_-]{1,64}$/, 'must be the registrationId that …/passkeys/registration-options returned'),
    name: passkeyName,
    response: RegistrationResponse,
  })
  .strict();

export const passkeyRegistrationOptionsOperation: Operation = {
  operationId: 'passkeyRegistrationOptions',
  method: 'post',
  path: '/v1/tenants/{tenantId}/accounts/{userId}/passkeys/registration-options',
  tag: 'passkeys',
  summary: 'Start adding a passkey: WebAuthn creation options for navigator.credentials.create()',
  description:
    `The account's 2FA must be on with the authenticator app (409 \`not_enabled\`), and the tenant's policy must name passkeyRpId and passkeyOrigins (409 \`passkeys_not_configured\`). ` +
    `Pass \`options\` to the browser and send its answer, with \`registrationId\`, to \`registerPasskey\` within 5 minutes. At most ${MAX_PASSKEYS} passkeys per account.`,
  roles: ['portal'],
  body: emptyBody,
  response: {
    status: 200,
    description: 'Options for the browser, and the id of this registration',
    schema: z.object({ registrationId: z.string(), options: CeremonyOptions }).strict(),
  },
  errors: ['not_enabled', 'passkeys_not_configured', 'passkey_limit'],
};

export const registerPasskeyOperation: Operation = {
  operationId: 'registerPasskey',
  method: 'post',
  path: '/v1/tenants/{tenantId}/accounts/{userId}/passkeys',
  tag: 'passkeys',
  summary: "Add the passkey the browser created: it can then answer the account's logins",
  description:
    'A response that does not verify (wrong challenge, origin or relying party) is 400 `passkey_rejected`; an old registration is 410 `registration_expired`. ' +
    'The customer gets a security email ("a passkey was added").',
  roles: ['portal'],
  body: RegisterBody,
  bodyRequired: true,
  response: {
    status: 200,
    description: 'Added',
    schema: z.object({ passkeyId: z.string(), name: z.string(), createdAt: isoTime }).strict(),
  },
  errors: ['not_enabled', 'passkeys_not_configured', 'passkey_rejected', 'registration_expired', 'passkey_already_registered', 'passkey_name_taken', 'passkey_limit', 'concurrent_update'],
};

export class PasskeyRegistrationOptionsCommand {
  constructor(readonly account: AccountRef) {}
}

export class RegisterPasskeyCommand {
  constructor(
    readonly account: AccountRef,
    readonly principal: Principal,
    readonly registrationId: string,
    readonly name: string,
    readonly response: RegistrationResponseJSON,
  ) {}
}

@CommandHandler(PasskeyRegistrationOptionsCommand)
export class PasskeyRegistrationOptionsHandler implements ICommandHandler<PasskeyRegistrationOptionsCommand> {
  constructor(
    private readonly accounts: AccountRunner,
    @Inject(POLICY_READER) private readonly policies: PolicyReader,
    @Inject(SECRETS) private readonly secrets: Secrets,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  async execute({ account }: PasskeyRegistrationOptionsCommand) {
    const state = await this.accounts.state(account);
    // The refusals registering would give, before the browser asks the user for anything.
    assertCanAddPasskey(passkeysOf(state), isEnabled(state));
    const rp = relyingParty(await this.policies.get(account.tenantId), account.tenantId);
    return registrationOptions(this.secrets.hasher, account, rp, passkeysOf(state), this.clock.now());
  }
}

/** Verifies the attestation (challenge, origin, rp id) with @simplewebauthn/server; the decider keeps the account's rules. */
@CommandHandler(RegisterPasskeyCommand)
export class RegisterPasskeyHandler implements ICommandHandler<RegisterPasskeyCommand> {
  constructor(private readonly accounts: AccountRunner, @Inject(SECRETS) private readonly secrets: Secrets) {}

  async execute({ account, principal, registrationId, name, response }: RegisterPasskeyCommand) {
    const result = await this.accounts.run(account, actorOf(principal), async (state, now, { policy }) => {
      assertCanAddPasskey(passkeysOf(state), isEnabled(state));
      const rp = relyingParty(policy, account.tenantId);
      const credential = await verifyRegistration(this.secrets.hasher, account, rp, registrationId, response, now);
      return { type: 'RegisterPasskey', name, credential };
    });
    const registered = result.events.find((event) => event.type === 'PasskeyRegistered');
    if (!registered) throw new Error('RegisterPasskey appended no PasskeyRegistered');
    return { passkeyId: registered.data.passkeyId, name: registered.data.name, createdAt: result.now.toISOString() };
  }
}

@Controller(ACCOUNT_ROUTE)
export class PasskeyRegistrationController {
  constructor(private readonly commands: CommandBus) {}

  @Post('passkeys/registration-options')
  @HttpCode(passkeyRegistrationOptionsOperation.response.status)
  @Roles(...passkeyRegistrationOptionsOperation.roles)
  options(@Param() account: AccountRef, @Body(new ZodBody(emptyBody)) _body: z.infer<typeof emptyBody>) {
    return this.commands.execute(new PasskeyRegistrationOptionsCommand({ tenantId: account.tenantId, userId: account.userId }));
  }

  @Post('passkeys')
  @HttpCode(registerPasskeyOperation.response.status)
  @Roles(...registerPasskeyOperation.roles)
  register(@Param() account: AccountRef, @CurrentPrincipal() principal: Principal, @Body(new ZodBody(RegisterBody)) body: z.infer<typeof RegisterBody>) {
    return this.commands.execute(
      new RegisterPasskeyCommand(
        { tenantId: account.tenantId, userId: account.userId },
        principal,
        body.registrationId,
        body.name,
        body.response as RegistrationResponseJSON,
      ),
    );
  }
}
