import { DomainError } from '../errors';
import type { AccountEvent, AttemptFailure, AttemptMethod, EventOf } from '../events';
import type { Policy } from '../policy';
import { notify } from './notifications';
import { failedAttempts as counted, isLocked, NOT_LOCKED, plusMinutes, type AccountState, type Deciding, type Folding } from './state';

/**
 * Lockout: every failed second step, whatever the method, counts on one per-account counter;
 * the attempt that reaches the tenant's maxFailedAttempts locks the account for lockoutMinutes.
 */
export type LockoutCommand = { type: 'UnlockAccount'; operatorId: string };

export const lockoutDecisions: Deciding<LockoutCommand, AccountEvent> = {
  UnlockAccount(command, state, { now }) {
    if (!isLocked(state, now)) throw new DomainError('not_locked', 'The account is not locked.');
    return [{ type: 'AccountUnlocked', data: { operatorId: command.operatorId } }];
  },
};

export const lockoutFolds: Folding<EventOf<'AttemptFailed'> | EventOf<'AccountLocked'> | EventOf<'AccountUnlocked'>> = {
  AttemptFailed(state, event) {
    const challenge = state.challenge;
    const withAttempt =
      challenge?.id === event.data.challengeId && challenge.method === 'email' && challenge.code
        ? { ...challenge, code: { ...challenge.code, attempts: challenge.code.attempts + 1 } }
        : challenge;
    // An attempt is only ever made unlocked (a lock that ran out is over): counting again.
    return { ...state, lockout: { status: 'counting', failedAttempts: event.data.failedAttempts }, challenge: withAttempt };
  },
  // The counter restarts once the lock is in place; the lock itself ends by time.
  AccountLocked: (state, event) => ({ ...state, lockout: { status: 'locked', until: event.data.lockedUntil }, challenge: null }),
  AccountUnlocked: (state) => ({ ...state, lockout: NOT_LOCKED }),
};

/** A wrong answer by any method: counted, and the lock (with its notification) when it reaches the limit. */
export function failedAttempt(
  state: AccountState,
  policy: Policy,
  now: Date,
  challengeId: string,
  method: AttemptMethod,
  reason: AttemptFailure,
): AccountEvent[] {
  const failedAttempts = counted(state) + 1;
  const attemptsLeft = Math.max(0, policy.maxFailedAttempts - failedAttempts);
  const failed: AccountEvent = { type: 'AttemptFailed', data: { challengeId, method, reason, failedAttempts, attemptsLeft } };
  if (attemptsLeft > 0) return [failed];
  const lockedUntil = plusMinutes(now, policy.lockoutMinutes);
  return [failed, { type: 'AccountLocked', data: { lockedUntil, failedAttempts } }, ...notify(state, policy, 'account_locked')];
}

export function assertNotLocked(state: AccountState, now: Date): void {
  if (isLocked(state, now) && state.lockout.status === 'locked') {
    const lockedUntil = state.lockout.until;
    throw new DomainError('account_locked', `Too many failed attempts. Try again after ${lockedUntil}.`, { lockedUntil });
  }
}
