/** Stable error codes. The HTTP edge maps each one to a status in one place. */
export type DomainErrorCode =
  | 'invalid_code'
  | 'code_expired'
  | 'challenge_expired'
  | 'challenge_not_found'
  | 'account_locked'
  | 'not_enabled'
  | 'enforced_by_policy'
  | 'setup_not_started'
  | 'not_locked'
  | 'resend_not_available'
  | 'resend_cooldown'
  | 'recovery_not_available'
  | 'email_required'
  | 'invalid_policy'
  | 'device_not_found'
  | 'passkeys_not_configured'
  | 'passkey_not_available'
  | 'passkey_already_registered'
  | 'passkey_name_taken'
  | 'passkey_limit'
  | 'passkey_not_found';

export class DomainError extends Error {
  constructor(
    readonly code: DomainErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'DomainError';
  }
}

/** The seed documents fix these two texts word for word. */
export const invalidCodeMessage = (attemptsLeft: number): string =>
  `Invalid authentication code, ${attemptsLeft} attempts left to login.`;
export const CODE_EXPIRED_MESSAGE =
  'Your authentication code timed out. Kindly generate a new code to continue.';
