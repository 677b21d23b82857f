import { invalidCodeMessage, type AccountEvent } from '@twostep/domain';
import { ApiError } from '../http/errors';

/** Confirming setup uses up the current 30-second step, so the very first login often meets this. */
export const CODE_ALREADY_USED_HINT = 'This code was already used (confirming setup uses up the current one): wait for the next code from your authenticator app.';

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
  if (failed?.data.method === 'webauthn') {
    const left = failed.data.attemptsLeft;
    throw new ApiError(422, 'invalid_passkey', `The passkey could not be verified, ${left} attempts left to login.`, { attemptsLeft: left });
  }
  if (failed) {
    throw new ApiError(422, 'invalid_code', invalidCodeMessage(failed.data.attemptsLeft), {
      attemptsLeft: failed.data.attemptsLeft,
      ...(failed.data.reason === 'code_reused' ? { reason: 'code_already_used', hint: CODE_ALREADY_USED_HINT } : {}),
    });
  }
}
