import { invalidCodeMessage, type AccountEvent } from '@twostep/domain';
import { ApiError } from '../http/errors';

/**
 * A failed attempt is a fact that is appended; the caller still has to hear "no".
 * Turns AttemptFailed / AccountLocked events into the HTTP refusal.
 */
export function refuseIfFailed(events: AccountEvent[]): void {
  const locked = events.find((event) => event.type === 'AccountLocked');
  if (locked) {
    throw new ApiError(423, 'account_locked', `Too many failed attempts. The account is locked until ${locked.data.lockedUntil}.`, {
      lockedUntil: locked.data.lockedUntil,
      attemptsLeft: 0,
    });
  }
  const failed = events.find((event) => event.type === 'AttemptFailed');
  if (failed) {
    throw new ApiError(422, 'invalid_code', invalidCodeMessage(failed.data.attemptsLeft), {
      attemptsLeft: failed.data.attemptsLeft,
      ...(failed.data.reason === 'code_reused' ? { reason: 'code_already_used' } : {}),
    });
  }
}
