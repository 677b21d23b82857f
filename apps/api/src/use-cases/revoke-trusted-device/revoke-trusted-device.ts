import { Body, Controller, HttpCode, Param, Post } from '@nestjs/common';
import { CommandBus, CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { z } from 'zod/v4';
import { AccountRunner, type AccountRef } from '../../accounts/account-runner';
import { Roles } from '../../http/auth.guard';
import { ACCOUNT_ROUTE, CurrentPrincipal } from '../../http/current-principal';
import { actorOf, removedBy, type Principal, type Remover } from '../../http/principal';
import { ZodBody } from '../../http/validation';
import { operatorId, type Operation } from '../../http/contract';

/** Operators and admins name themselves, as for unlock and reseller-disable; a portal acts for the customer and sends `{}`. */
const RevokeBody = z.object({ operatorId: operatorId.optional() }).strict();

export class RevokeTrustedDeviceCommand {
  constructor(readonly account: AccountRef, readonly principal: Principal, readonly deviceId: string, readonly remover: Remover) {}
}

@CommandHandler(RevokeTrustedDeviceCommand)
export class RevokeTrustedDeviceHandler implements ICommandHandler<RevokeTrustedDeviceCommand> {
  constructor(private readonly accounts: AccountRunner) {}

  async execute({ account, principal, deviceId, remover }: RevokeTrustedDeviceCommand) {
    const operatorId = remover.by === 'customer' ? undefined : remover.operatorId;
    await this.accounts.run(account, actorOf(principal, operatorId), () => ({ type: 'RevokeTrustedDevice', deviceId, ...remover }));
    return { revoked: true, deviceId };
  }
}

export const revokeTrustedDeviceOperation: Operation = {
  operationId: 'revokeTrustedDevice',
  method: 'post',
  path: '/v1/tenants/{tenantId}/accounts/{userId}/trusted-devices/{deviceId}/revoke',
  tag: 'remembered devices',
  summary: 'Forget one remembered device: its token asks for the second step again',
  description:
    'The other remembered devices keep skipping. 404 `device_not_found` when no active device of the account has this id ' +
    '(unknown, expired or already revoked). Operator and admin keys send `operatorId` (in the event log); portal keys send `{}`.',
  roles: ['portal', 'operator', 'admin'],
  body: RevokeBody,
  bodyRequired: false,
  response: {
    status: 200,
    description: 'Revoked',
    schema: z.object({ revoked: z.literal(true), deviceId: z.string() }).strict(),
  },
  errors: ['device_not_found', 'concurrent_update'],
  examples: { customer: {}, reseller: { operatorId: 'reseller-ann' } },
};

@Controller(ACCOUNT_ROUTE)
export class RevokeTrustedDeviceController {
  constructor(private readonly commands: CommandBus) {}

  @Post('trusted-devices/:deviceId/revoke')
  @HttpCode(revokeTrustedDeviceOperation.response.status)
  @Roles(...revokeTrustedDeviceOperation.roles)
  revoke(
    @Param() params: AccountRef & { deviceId: string },
    @CurrentPrincipal() principal: Principal,
    @Body(new ZodBody(RevokeBody)) body: z.infer<typeof RevokeBody>,
  ) {
    return this.commands.execute(
      new RevokeTrustedDeviceCommand({ tenantId: params.tenantId, userId: params.userId }, principal, params.deviceId, removedBy(principal, body.operatorId, 'revokes the device')),
    );
  }
}
