import { upcastEvent, type AccountEvent, type RevokedBy } from '@twostep/domain';
import type { StoredEvent } from '@twostep/eventstore';

const NOTIFICATION_TEXT: Record<string, string> = {
  two_factor_enabled: '2FA enabled',
  two_factor_disabled: '2FA disabled',
  reseller_disabled: '2FA disabled by reseller',
  account_locked: 'account locked',
  recovery_code_used: 'recovery code used',
  passkey_added: 'passkey added',
};

const FAILURE_TEXT: Record<string, string> = {
  wrong_code: 'wrong code',
  code_reused: 'code already used',
  unknown_passkey: 'passkey not registered for this account',
  wrong_signature: 'passkey signature did not verify',
  counter_regressed: 'passkey signature counter did not advance: possibly a cloned authenticator',
};

const PASSED_TEXT: Record<string, string> = { totp: 'authenticator app', email: 'email code', webauthn: 'passkey' };

/** Who did it, in words: "the customer", "reseller reseller-ann", "admin root", "twostep". */
export function describeActor(event: StoredEvent): string {
  const actor = event.metadata.actor;
  switch (actor.kind) {
    case 'customer':
      return 'the customer';
    case 'operator':
      return `reseller ${actor.id ?? 'unknown'}`;
    case 'admin':
      return `admin ${actor.id ?? 'unknown'}`;
    case 'auditor':
      return `auditor ${actor.id ?? 'unknown'}`;
    default:
      return actor.id ? `twostep (${actor.id})` : 'twostep';
  }
}

/**
 * The API key the actor acted with, when naming it says something the actor's name does not:
 * null without a key (twostep's own events) and when the id is the key id (auditors, and
 * operators or admins that named nobody), so a sentence never says the same id twice.
 */
export function actingApiKey(event: StoredEvent): string | null {
  const { id, apiKeyId } = event.metadata.actor;
  return apiKeyId && apiKeyId !== id ? apiKeyId : null;
}

function revokedBy(by: RevokedBy, operatorId: string | undefined): string {
  switch (by) {
    case 'customer':
      return 'the customer';
    case 'operator':
      return `reseller ${operatorId ?? 'unknown'}`;
    case 'admin':
      return `admin ${operatorId ?? 'unknown'}`;
    default:
      return String(by);
  }
}

/** One event as a plain sentence for people (event log, `twostep explain`). */
export function describeEvent(event: StoredEvent): string {
  const e = upcastEvent(event);
  if (!e) return event.type;
  switch (e.type) {
    case 'TotpSetupStarted':
      return 'Authenticator app setup started';
    case 'TwoFactorEnabled':
      return `2FA enabled with an authenticator app; ${e.data.recoveryCodeHashes.length} recovery codes issued`;
    case 'RecoveryCodesRegenerated':
      return `Recovery codes regenerated (${e.data.recoveryCodeHashes.length} new codes, old ones invalid)`;
    case 'TwoFactorDisabled':
      return '2FA disabled by the customer (password confirmed)';
    case 'ResellerDisabled':
      return `2FA disabled by reseller ${e.data.operatorId}${e.data.reason ? ` (reason: ${e.data.reason})` : ''}`;
    case 'ChallengeStarted':
      return `Login challenge started (${e.data.method === 'totp' ? 'authenticator app' : 'email code'})`;
    case 'CodeIssued':
      return `Email code ${e.data.issue > 1 ? 'sent again' : 'sent'} to ${e.data.maskedRecipient}, valid ${e.data.ttlMinutes} minutes`;
    case 'AttemptFailed':
      return `Failed ${e.data.method === 'webauthn' ? 'passkey' : e.data.method.replace('_', ' ')} attempt (${FAILURE_TEXT[e.data.reason] ?? e.data.reason}), ${e.data.attemptsLeft} attempts left`;
    case 'AccountLocked':
      return `Account locked until ${e.data.lockedUntil} after ${e.data.failedAttempts} failed attempts`;
    case 'AccountUnlocked':
      return `Account unlocked by ${e.data.operatorId}`;
    case 'ChallengePassed':
      return `Login verified (${PASSED_TEXT[e.data.method] ?? e.data.method}${e.data.passkey ? ` ${e.data.passkey.passkeyId}` : ''})`;
    case 'RecoveryCodeUsed':
      return `Logged in with a recovery code; ${e.data.recoveryCodesRemaining} left, reset recommended`;
    case 'DeviceTrusted':
      // The label is the caller's text, bounded to 100 printable characters at the edge.
      return e.data.label
        ? `Device remembered (${e.data.label}) until ${e.data.expiresAt}; device id ${e.data.deviceId}`
        : `Device ${e.data.deviceId} remembered until ${e.data.expiresAt}`;
    case 'TrustedDevicesRevoked':
      return `${e.data.count} trusted device(s) revoked (${e.data.reason.replace('_', ' ')})`;
    case 'TrustedDeviceRevoked':
      return `Remembered device ${e.data.deviceId} revoked by ${revokedBy(e.data.by, e.data.operatorId)}`;
    case 'PasswordResetRecorded':
      return 'Password reset recorded; the next login asks for 2FA where it is on';
    case 'SecurityNotificationQueued':
      return `Security notification "${NOTIFICATION_TEXT[e.data.kind] ?? e.data.kind}" sent to ${e.data.maskedRecipient}`;
    case 'TotpSecretReencrypted':
      return `Authenticator secret re-encrypted with key ${e.data.secret.kid}`;
    case 'PasskeyRegistered':
      // The name is the customer's text, bounded to 64 printable characters at the edge.
      return `Passkey "${e.data.name}" added; passkey id ${e.data.passkeyId}`;
    case 'PasskeyRemoved':
      return `Passkey ${e.data.passkeyId} removed by ${revokedBy(e.data.by, e.data.operatorId)}`;
    case 'PasskeysRemoved':
      return `${e.data.count} passkey(s) removed (${e.data.reason.replace('_', ' ')})`;
    case 'PolicyUpdated':
      return `2FA policy updated (${e.data.changed.join(', ')})`;
    default:
      return event.type;
  }
}
