/**
 * Account events. Type names and payload shapes are a permanent contract: never rename,
 * add a new version and an upcaster instead. Secrets never appear here in the clear:
 * TOTP secrets are encrypted values, codes are keyed hashes, addresses are sealed for the
 * mailer and shown masked.
 */

/** An encrypted TOTP secret (AES-256-GCM with a key id), opaque to the domain. */
export type EncryptedSecret = { kid: string; [field: string]: unknown };
/** A value sealed with the mailer's public key, opaque to the domain. */
export type SealedValue = { alg: string; [field: string]: unknown };

export type ChallengeMethod = 'totp' | 'email';
/** How a challenge was answered: a TOTP challenge also takes a passkey (`webauthn`) when the account has one. */
export type PassedMethod = ChallengeMethod | 'webauthn';
export type AttemptMethod = PassedMethod | 'recovery_code';
/** Why an attempt failed: a code that matched nothing or a used step; a passkey unknown, badly signed, or with a counter that did not move forward. */
export type AttemptFailure = 'wrong_code' | 'code_reused' | 'unknown_passkey' | 'wrong_signature' | 'counter_regressed';
export type NotificationKind =
  | 'two_factor_enabled'
  | 'two_factor_disabled'
  | 'reseller_disabled'
  | 'account_locked'
  | 'recovery_code_used'
  | 'passkey_added';
export type RevocationReason = 'password_reset' | 'disabled' | 'reseller_disabled';
/** Who revoked one remembered device: the customer (portal), a reseller (operator) or an admin. */
export type RevokedBy = 'customer' | 'operator' | 'admin';

export interface Contact {
  recipient: SealedValue;
  maskedRecipient: string;
}

export type AccountEvent =
  | { type: 'TotpSetupStarted'; data: { secret: EncryptedSecret; contact?: Contact } }
  | { type: 'TwoFactorEnabled'; data: { method: 'totp'; recoveryCodeHashes: string[]; confirmedStep: number } }
  | { type: 'RecoveryCodesRegenerated'; data: { recoveryCodeHashes: string[] } }
  | { type: 'TwoFactorDisabled'; data: { by: 'customer'; passwordConfirmed: true } }
  | { type: 'ResellerDisabled'; data: { operatorId: string; reason?: string } }
  | { type: 'ChallengeStarted'; data: { challengeId: string; method: ChallengeMethod; expiresAt: string } }
  | {
      type: 'CodeIssued';
      data: {
        challengeId: string;
        codeHash: string;
        issuedAt: string;
        expiresAt: string;
        code: SealedValue;
        recipient: SealedValue;
        maskedRecipient: string;
        ttlMinutes: number;
        issue: number;
        /** The tenant's display name at the time (policy `displayName`); absent means the default wording. */
        tenantName?: string;
      };
    }
  | {
      type: 'AttemptFailed';
      data: {
        challengeId: string;
        method: AttemptMethod;
        reason: AttemptFailure;
        failedAttempts: number;
        attemptsLeft: number;
      };
    }
  | { type: 'AccountLocked'; data: { lockedUntil: string; failedAttempts: number } }
  | { type: 'AccountUnlocked'; data: { operatorId: string } }
  /** `passkey` (method webauthn): the passkey used and its signature counter now. */
  | { type: 'ChallengePassed'; data: { challengeId: string; method: PassedMethod; totpStep?: number; passkey?: { passkeyId: string; counter: number } } }
  | { type: 'RecoveryCodeUsed'; data: { challengeId: string; recoveryCodeHash: string; recoveryCodesRemaining: number } }
  /**
   * `label` (added later, optional): what the caller said the device is, e.g. "Firefox on Linux";
   * user-supplied, bounded at the edge, never secret. The token itself is only a keyed hash. When
   * it was trusted is the event's `metadata.at`.
   */
  | { type: 'DeviceTrusted'; data: { deviceId: string; tokenHash: string; expiresAt: string; label?: string } }
  | { type: 'TrustedDevicesRevoked'; data: { reason: RevocationReason; count: number } }
  /** One remembered device forgotten; `operatorId` names the reseller or admin who did it. */
  | { type: 'TrustedDeviceRevoked'; data: { deviceId: string; by: RevokedBy; operatorId?: string } }
  | { type: 'PasswordResetRecorded'; data: Record<string, never> }
  | { type: 'SecurityNotificationQueued'; data: { kind: NotificationKind; recipient: SealedValue; maskedRecipient: string; tenantName?: string } }
  | { type: 'TotpSecretReencrypted'; data: { secret: EncryptedSecret } }
  /** A passkey added (WebAuthn registration verified); the public key is not a secret. */
  | { type: 'PasskeyRegistered'; data: { passkeyId: string; credentialId: string; name: string; publicKey: string; counter: number; transports: string[] } }
  | { type: 'PasskeyRemoved'; data: { passkeyId: string; by: RevokedBy; operatorId?: string } }
  /** 2FA turned off removed every passkey at once. */
  | { type: 'PasskeysRemoved'; data: { reason: RevocationReason; count: number } };

export type AccountEventType = AccountEvent['type'];
export type EventOf<T extends AccountEventType> = Extract<AccountEvent, { type: T }>;

export const ACCOUNT_EVENT_TYPES: readonly AccountEventType[] = [
  'TotpSetupStarted',
  'TwoFactorEnabled',
  'RecoveryCodesRegenerated',
  'TwoFactorDisabled',
  'ResellerDisabled',
  'ChallengeStarted',
  'CodeIssued',
  'AttemptFailed',
  'AccountLocked',
  'AccountUnlocked',
  'ChallengePassed',
  'RecoveryCodeUsed',
  'DeviceTrusted',
  'TrustedDevicesRevoked',
  'TrustedDeviceRevoked',
  'PasswordResetRecorded',
  'SecurityNotificationQueued',
  'TotpSecretReencrypted',
  'PasskeyRegistered',
  'PasskeyRemoved',
  'PasskeysRemoved',
];
