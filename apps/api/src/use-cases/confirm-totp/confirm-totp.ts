import { Body, Controller, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { CommandBus, CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { z } from 'zod/v4';
import { matchTotpStep } from '@twostep/crypto';
import { AccountRunner, accountScope, type AccountRef } from '../../accounts/account-runner';
import { newRecoveryCodes } from '../../accounts/recovery-codes';
import { Roles } from '../../http/auth.guard';
import { ACCOUNT_ROUTE, CurrentPrincipal } from '../../http/current-principal';
import { actorOf, type Principal } from '../../http/principal';
import { sixDigitCode, ZodBody } from '../../http/validation';
import { SECRETS, type Secrets } from '../../tokens';
import { type Operation } from '../../http/contract';

const ConfirmBody = z.object({ code: sixDigitCode }).strict();

export class ConfirmTotpCommand {
  constructor(readonly account: AccountRef, readonly principal: Principal, readonly code: string) {}
}

/** Confirms setup with a code from the app; 2FA turns on and 10 recovery codes are shown once. */
@CommandHandler(ConfirmTotpCommand)
export class ConfirmTotpHandler implements ICommandHandler<ConfirmTotpCommand> {
  constructor(private readonly accounts: AccountRunner, @Inject(SECRETS) private readonly secrets: Secrets) {}

  async execute({ account, principal, code }: ConfirmTotpCommand) {
    const { secretBox, hasher } = this.secrets;
    const recovery = newRecoveryCodes(hasher, account);
    await this.accounts.run(account, actorOf(principal), (state, now) => ({
      type: 'ConfirmTotpSetup',
      matchedStep: state.pendingTotp
        ? matchTotpStep(secretBox.decrypt(state.pendingTotp.secret as never, accountScope(account)), code, now.getTime())
        : null,
      recoveryCodeHashes: recovery.hashes,
    }));
    return { status: 'Enabled', method: 'totp', recoveryCodes: recovery.codes };
  }
}

export const confirmTotpOperation: Operation = {
  operationId: 'confirmTotp',
  method: 'post',
  path: '/v1/tenants/{tenantId}/accounts/{userId}/two-factor/totp/confirm',
  tag: 'authenticator app',
  summary: 'Confirm setup with a code from the app; returns the 10 recovery codes, shown only this once',
  description: 'Confirming uses up the current 30-second step: the first login after it needs the next code.',
  roles: ['portal'],
  body: ConfirmBody,
  bodyRequired: true,
  response: {
    status: 200,
    description: '2FA is on; the recovery codes are never shown again',
    secret: true,
    schema: z.object({ status: z.literal('Enabled'), method: z.literal('totp'), recoveryCodes: z.array(z.string()).length(10) }).strict(),
  },
  errors: ['invalid_code', 'setup_not_started', 'concurrent_update', 'secret_key_missing'],
  examples: { code: { code: '123456' } },
};

@Controller(ACCOUNT_ROUTE)
export class ConfirmTotpController {
  constructor(private readonly commands: CommandBus) {}

  @Post('two-factor/totp/confirm')
  @HttpCode(confirmTotpOperation.response.status)
  @Roles(...confirmTotpOperation.roles)
  confirm(@Param() account: AccountRef, @CurrentPrincipal() principal: Principal, @Body(new ZodBody(ConfirmBody)) body: z.infer<typeof ConfirmBody>) {
    return this.commands.execute(new ConfirmTotpCommand({ tenantId: account.tenantId, userId: account.userId }, principal, body.code));
  }
}
