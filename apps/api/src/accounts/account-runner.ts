import { Inject, Injectable } from '@nestjs/common';
import { accountDecider, accountStream, type AccountCommand, type AccountEvent, type AccountState, type DecisionContext } from '@twostep/domain';
import type { Actor } from '@twostep/eventstore';
import type { RunResult, Runtime } from '@twostep/app';
import { RUNTIME } from '../tokens';

export interface AccountRef {
  tenantId: string;
  userId: string;
}

/** Scope string for keyed hashes and encryption AAD: binds a value to one account. */
export const accountScope = ({ tenantId, userId }: AccountRef): string => `${tenantId}/${userId}`;

/** Runs account commands through the one command path, with the tenant's policy as context. */
@Injectable()
export class AccountRunner {
  constructor(@Inject(RUNTIME) private readonly runtime: Runtime) {}

  run(
    account: AccountRef,
    actor: Actor,
    command: (state: AccountState, now: Date, context: DecisionContext) => AccountCommand | Promise<AccountCommand>,
  ): Promise<RunResult<AccountState, AccountEvent>> {
    return this.runtime.commandPath.run({
      stream: accountStream(account.tenantId, account.userId),
      decider: accountDecider,
      command,
      context: async (now) => ({ now, policy: await this.runtime.policies.get(account.tenantId) }),
      actor,
    });
  }

  async state(account: AccountRef): Promise<AccountState> {
    return (await this.runtime.commandPath.load(accountStream(account.tenantId, account.userId), accountDecider)).state;
  }
}
