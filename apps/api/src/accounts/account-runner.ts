import { Inject, Injectable } from '@nestjs/common';
import { accountDecider, accountStream, type AccountCommand, type AccountEvent, type AccountState, type DecisionContext } from '@twostep/domain';
import type { Actor } from '@twostep/eventstore';
import type { RunResult } from '@twostep/app';
import type { Logger } from 'pino';
import { Metrics } from '../http/observability';
import { COMMAND_PATH, LOGGER, POLICY_READER, type CommandPath, type PolicyReader } from '../tokens';

export interface AccountRef {
  tenantId: string;
  userId: string;
}

/** Scope string for keyed hashes and encryption AAD: binds a value to one account. */
export const accountScope = ({ tenantId, userId }: AccountRef): string => `${tenantId}/${userId}`;

/** Runs account commands through the one command path, with the tenant's policy as context. */
@Injectable()
export class AccountRunner {
  private readonly security: Logger;

  constructor(
    @Inject(COMMAND_PATH) private readonly commandPath: CommandPath, @Inject(POLICY_READER) private readonly policies: PolicyReader,
    private readonly metrics: Metrics,
    @Inject(LOGGER) logger: Logger,
  ) {
    this.security = logger.child({ component: 'security' });
  }

  /** Every account command goes through here, so the 2FA metrics count what was decided, once. */
  async run(
    account: AccountRef,
    actor: Actor,
    command: (state: AccountState, now: Date, context: DecisionContext) => AccountCommand | Promise<AccountCommand>,
  ): Promise<RunResult<AccountState, AccountEvent>> {
    let last: { command: AccountCommand; state: AccountState } | null = null;
    try {
      const result = await this.commandPath.run({
        stream: accountStream(account.tenantId, account.userId),
        decider: accountDecider,
        command: async (state, now, context) => {
          const built = await command(state, now, context);
          last = { command: built, state };
          return built;
        },
        context: async (now) => ({ now, policy: await this.policies.get(account.tenantId) }),
        actor,
      });
      this.metrics.twoFactor.decided(result.events);
      this.logSecurityEvents(account, result.events);
      return result;
    } catch (error) {
      const attempt = last as { command: AccountCommand; state: AccountState } | null;
      if (attempt) this.metrics.twoFactor.refused(attempt.command, attempt.state, error);
      throw error;
    }
  }

  /** Security lines for operators: failed attempts, locks, unlocks, reseller disables, device revokes (ids only, never a code, token or secret). */
  private logSecurityEvents({ tenantId, userId }: AccountRef, events: readonly AccountEvent[]): void {
    for (const event of events) {
      if (event.type === 'AttemptFailed') {
        const { method, reason, attemptsLeft } = event.data;
        this.security.warn({ tenantId, userId, method, reason, attemptsLeft }, 'failed second-step attempt');
      } else if (event.type === 'AccountLocked') {
        this.security.warn({ tenantId, userId, lockedUntil: event.data.lockedUntil, failedAttempts: event.data.failedAttempts }, 'account locked');
      } else if (event.type === 'AccountUnlocked') {
        this.security.info({ tenantId, userId, operatorId: event.data.operatorId }, 'account unlocked by an operator');
      } else if (event.type === 'ResellerDisabled') {
        this.security.info({ tenantId, userId, operatorId: event.data.operatorId }, '2FA disabled by a reseller');
      } else if (event.type === 'TrustedDeviceRevoked') {
        const { deviceId, by, operatorId } = event.data;
        this.security.info({ tenantId, userId, deviceId, by, ...(operatorId ? { operatorId } : {}) }, 'remembered device revoked');
      } else if (event.type === 'PasskeyRegistered') {
        this.security.info({ tenantId, userId, passkeyId: event.data.passkeyId }, 'passkey added');
      } else if (event.type === 'PasskeyRemoved') {
        const { passkeyId, by, operatorId } = event.data;
        this.security.info({ tenantId, userId, passkeyId, by, ...(operatorId ? { operatorId } : {}) }, 'passkey removed');
      }
    }
  }

  async state(account: AccountRef): Promise<AccountState> {
    return (await this.commandPath.load(accountStream(account.tenantId, account.userId), accountDecider)).state;
  }
}
