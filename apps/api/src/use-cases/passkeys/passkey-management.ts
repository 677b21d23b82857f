import { Body, Controller, Get, HttpCode, Inject, Param, Post } from '@nestjs/common';
import { CommandBus, CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { z } from 'zod/v4';
import { emptyStatus, presentStatus } from '@twostep/readmodel';
import { AccountRunner, type AccountRef } from '../../accounts/account-runner';
import { ReadModels } from '../../accounts/read-models';
import { Roles } from '../../http/auth.guard';
import { ACCOUNT_ROUTE, CurrentPrincipal } from '../../http/current-principal';
import { actorOf, removedBy, type Principal, type Remover } from '../../http/principal';
import { ZodBody } from '../../http/validation';
import { CLOCK, POLICY_READER, type Clock, type PolicyReader } from '../../tokens';
import { operatorId, PasskeyBody, type Operation } from '../../http/contract';

export const listPasskeysOperation: Operation = {
  operationId: 'listPasskeys',
  method: 'get',
  path: '/v1/tenants/{tenantId}/accounts/{userId}/passkeys',
  tag: 'passkeys',
  summary: "The account's passkeys, oldest first",
  description: 'An account without any (or unknown to twostep) has an empty list. Remove one with `removePasskey`.',
  roles: ['portal', 'operator', 'admin'],
  response: { status: 200, description: 'The passkeys', schema: z.object({ passkeys: z.array(PasskeyBody) }).strict() },
  errors: [],
};

/** Operators and admins name themselves, as for revoking a device; a portal acts for the customer and sends `{}`. */
const RemoveBody = z.object({ operatorId: operatorId.optional() }).strict();

export const removePasskeyOperation: Operation = {
  operationId: 'removePasskey',
  method: 'post',
  path: '/v1/tenants/{tenantId}/accounts/{userId}/passkeys/{passkeyId}/remove',
  tag: 'passkeys',
  summary: 'Remove one passkey: it no longer answers logins',
  description:
    'The authenticator app and the other passkeys keep working. 404 `passkey_not_found` when the account has no passkey with this id. ' +
    'Operator and admin keys send `operatorId` (in the event log); portal keys send `{}`.',
  roles: ['portal', 'operator', 'admin'],
  body: RemoveBody,
  bodyRequired: false,
  response: { status: 200, description: 'Removed', schema: z.object({ removed: z.literal(true), passkeyId: z.string() }).strict() },
  errors: ['passkey_not_found', 'concurrent_update'],
  examples: { customer: {}, reseller: { operatorId: 'reseller-ann' } },
};

export class RemovePasskeyCommand {
  constructor(readonly account: AccountRef, readonly principal: Principal, readonly passkeyId: string, readonly remover: Remover) {}
}

@CommandHandler(RemovePasskeyCommand)
export class RemovePasskeyHandler implements ICommandHandler<RemovePasskeyCommand> {
  constructor(private readonly accounts: AccountRunner) {}

  async execute({ account, principal, passkeyId, remover }: RemovePasskeyCommand) {
    const operatorId = remover.by === 'customer' ? undefined : remover.operatorId;
    await this.accounts.run(account, actorOf(principal, operatorId), () => ({ type: 'RemovePasskey', passkeyId, ...remover }));
    return { removed: true, passkeyId };
  }
}

/** The list is a query on the status view; removing goes through the account's decider. */
@Controller(ACCOUNT_ROUTE)
export class PasskeyManagementController {
  constructor(
    private readonly commands: CommandBus,
    private readonly readModels: ReadModels,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(POLICY_READER) private readonly policies: PolicyReader,
  ) {}

  @Get('passkeys')
  @Roles(...listPasskeysOperation.roles)
  async list(@Param() { tenantId, userId }: AccountRef) {
    const store = await this.readModels.fresh();
    const policy = await this.policies.get(tenantId);
    const view = presentStatus((await store.status(tenantId, userId)) ?? emptyStatus(tenantId, userId), this.clock.now(), policy);
    return { passkeys: view.passkeys ?? [] };
  }

  @Post('passkeys/:passkeyId/remove')
  @HttpCode(removePasskeyOperation.response.status)
  @Roles(...removePasskeyOperation.roles)
  remove(
    @Param() params: AccountRef & { passkeyId: string },
    @CurrentPrincipal() principal: Principal,
    @Body(new ZodBody(RemoveBody)) body: z.infer<typeof RemoveBody>,
  ) {
    return this.commands.execute(new RemovePasskeyCommand({ tenantId: params.tenantId, userId: params.userId }, principal, params.passkeyId, removedBy(principal, body.operatorId, 'removes the passkey')));
  }
}
