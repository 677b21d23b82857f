import { DomainError } from '../errors';
import type { AccountEvent, AttemptFailure, AttemptMethod, EventOf } from '../events';
import type { Policy } from '../policy';
import { notify } from './notifications';
import { isLocked, plusMinutes, type AccountState, type Deciding, type Folding } from './state';

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
    const counted =
      challenge?.id === event.data.challengeId && challenge.code
        ? { ...challenge, code: { ...challenge.code, attempts: challenge.code.attempts + 1 } }
        : challenge;
    return { ...state, failedAttempts: event.data.failedAttempts, challenge: counted };
  },
  // The counter restarts once the lock is in place; the lock itself ends by time.
  AccountLocked: (state, event) => ({ ...state, lockedUntil: event.data.lockedUntil, failedAttempts: 0, challenge: null }),
  AccountUnlocked: (state) => ({ ...state, lockedUntil: null, failedAttempts: 0 }),
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
  const failedAttempts = state.failedAttempts + 1;
  const attemptsLeft = Math.max(0, policy.maxFailedAttempts - failedAttempts);
  const failed: AccountEvent = { type: 'AttemptFailed', data: { challengeId, method, reason, failedAttempts, attemptsLeft } };
  if (attemptsLeft > 0) return [failed];
  const lockedUntil = plusMinutes(now, policy.lockoutMinutes);
  return [failed, { type: 'AccountLocked', data: { lockedUntil, failedAttempts } }, ...notify(state, policy, 'account_locked')];
}

export function assertNotLocked(state: AccountState, now: Date): void {
  if (isLocked(state, now)) {
    throw new DomainError('account_locked', `Too many failed attempts. Try again after ${state.lockedUntil}.`, {
      lockedUntil: state.lockedUntil,
    });
  }
}
