import { Body, Controller, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { CommandBus, CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { z } from 'zod/v4';
import { generateTotpSecret, groupManualKey, maskEmail, qrCodeDataUrl, totpUri } from '@twostep/crypto';
import { AccountRunner, accountScope, type AccountRef } from '../../accounts/account-runner';
import { Roles } from '../../http/auth.guard';
import { ACCOUNT_ROUTE, CurrentPrincipal } from '../../http/current-principal';
import { actorOf, type Principal } from '../../http/principal';
import { ZodBody } from '../../http/validation';
import { ENV, POLICY_READER, SECRETS, type Env, type PolicyReader, type Secrets } from '../../tokens';
import { type Operation } from '../../http/contract';

const SetupBody = z
  .object({ email: z.email().max(254).optional().describe('Where to send security notifications (optional)') })
  .strict();

export class SetupTotpCommand {
  constructor(readonly account: AccountRef, readonly principal: Principal, readonly email?: string) {}
}

export interface TotpSetup {
  otpauthUri: string;
  secret: string;
  manualKey: string;
  qrCode: string;
}

/** Starts (or restarts) authenticator setup with a fresh secret; 2FA changes only on confirm. */
@CommandHandler(SetupTotpCommand)
export class SetupTotpHandler implements ICommandHandler<SetupTotpCommand, TotpSetup> {
  constructor(private readonly accounts: AccountRunner, @Inject(ENV) private readonly env: Env, @Inject(POLICY_READER) private readonly policies: PolicyReader, @Inject(SECRETS) private readonly secrets: Secrets) {}

  async execute({ account, principal, email }: SetupTotpCommand): Promise<TotpSetup> {
    const { secretBox, sealer } = this.secrets;
    const secret = generateTotpSecret();
    const contact = email ? { recipient: sealer.seal(email), maskedRecipient: maskEmail(email) } : undefined;
    await this.accounts.run(account, actorOf(principal), () => ({
      type: 'BeginTotpSetup',
      secret: secretBox.encrypt(secret, accountScope(account)),
      ...(contact ? { contact } : {}),
    }));
    // The app lists the entry under the tenant's display name, else "<TWOSTEP_ISSUER> <tenant id>".
    const { displayName } = await this.policies.get(account.tenantId);
    const issuer = displayName ?? `${this.env.TWOSTEP_ISSUER} ${account.tenantId}`;
    const otpauthUri = totpUri({ secret, accountName: account.userId, issuer });
    return { otpauthUri, secret, manualKey: groupManualKey(secret), qrCode: await qrCodeDataUrl(otpauthUri) };
  }
}

export const setupTotpOperation: Operation = {
  operationId: 'setupTotp',
  method: 'post',
  path: '/v1/tenants/{tenantId}/accounts/{userId}/two-factor/totp/setup',
  tag: 'authenticator app',
  summary: 'Start authenticator-app setup: QR code, otpauth URI and the key for manual entry',
  description: 'Starting again replaces a pending setup. Show the QR code and the key, then confirm with a code from the app.',
  roles: ['portal'],
  body: SetupBody,
  response: {
    status: 200,
    description: 'The secret, once: show it to the customer, do not store it',
    secret: true,
    schema: z
      .object({
        otpauthUri: z.string().describe('otpauth://totp/… for the QR code'),
        secret: z.string().describe('base32 secret'),
        manualKey: z.string().describe('the secret in groups of four, for typing'),
        qrCode: z.string().describe('data:image/png;base64,… of the otpauth URI'),
      })
      .strict(),
  },
  errors: ['concurrent_update'],
  examples: { plain: {}, withNotifications: { email: 'alice@example.com' } },
};

@Controller(ACCOUNT_ROUTE)
export class SetupTotpController {
  constructor(private readonly commands: CommandBus) {}

  @Post('two-factor/totp/setup')
  @HttpCode(setupTotpOperation.response.status)
  @Roles(...setupTotpOperation.roles)
  setup(@Param() account: AccountRef, @CurrentPrincipal() principal: Principal, @Body(new ZodBody(SetupBody)) body: z.infer<typeof SetupBody>): Promise<TotpSetup> {
    return this.commands.execute(new SetupTotpCommand({ tenantId: account.tenantId, userId: account.userId }, principal, body.email));
  }
}
