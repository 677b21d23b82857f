import { findConstantTime, constantTimeEquals } from './constant-time';
import { CODE_EXPIRED_MESSAGE, DomainError } from './errors';
import { decidePasskeys, evolvePasskeys, judgeAssertion, removeAllPasskeys, type Passkey, type PasskeyCommand, type PasskeyProof } from './passkeys';
import type {
  AccountEvent,
  AttemptFailure,
  AttemptMethod,
  ChallengeMethod,
  Contact,
  EncryptedSecret,
  NotificationKind,
  RevocationReason,
  RevokedBy,
  SealedValue,
} from './events';
import type { Policy } from './policy';

/** How many devices an account may trust at once; the oldest falls off first. */
export const MAX_TRUSTED_DEVICES = 10;
export const RECOVERY_CODE_COUNT = 10;

export interface IssuedCode {
  hash: string;
  issuedAt: string;
  expiresAt: string;
  recipient: SealedValue;
  maskedRecipient: string;
  /** Failed attempts against this code; a resend needs at least one. */
  attempts: number;
  issue: number;
}

export interface OpenChallenge {
  id: string;
  method: ChallengeMethod;
  expiresAt: string;
  code: IssuedCode | null;
}

export interface TrustedDevice {
  deviceId: string;
  tokenHash: string;
  expiresAt: string;
  label?: string;
}

/** Decision state of one account. JSON-serialisable so it can be snapshotted. */
export interface AccountState {
  totp: { secret: EncryptedSecret } | null;
  /** A secret set up but not yet confirmed with a code; 2FA stays as it was until then. */
  pendingTotp: { secret: EncryptedSecret } | null;
  /** Highest TOTP time step already accepted; an equal or older step is a replay. */
  lastTotpStep: number;
  recoveryCodeHashes: string[];
  resetRecommended: boolean;
  failedAttempts: number;
  lockedUntil: string | null;
  /** One open challenge per account: a new one supersedes the old, and so do its codes. */
  challenge: OpenChallenge | null;
  trustedDevices: TrustedDevice[];
  contact: Contact | null;
  /** Passkeys (WebAuthn) of an account whose 2FA is on: each also answers a TOTP challenge. */
  passkeys: Passkey[];
}

export const initialAccountState = (): AccountState => ({
  totp: null,
  pendingTotp: null,
  lastTotpStep: -1,
  recoveryCodeHashes: [],
  resetRecommended: false,
  failedAttempts: 0,
  lockedUntil: null,
  challenge: null,
  trustedDevices: [],
  contact: null,
  passkeys: [],
});

/** A freshly issued email code, prepared (hashed and sealed) by the caller. */
export interface PreparedCode {
  codeHash: string;
  code: SealedValue;
}

export interface PreparedDevice {
  deviceId: string;
  tokenHash: string;
  /** What the caller calls the device ("Firefox on Linux"); validated at the edge. */
  label?: string;
}

/**
 * Commands carry the results of every crypto step the caller made (matched TOTP step,
 * keyed hashes, sealed values) so the decider needs neither keys nor randomness.
 */
export type AccountCommand =
  | { type: 'BeginTotpSetup'; secret: EncryptedSecret; contact?: Contact }
  | { type: 'ConfirmTotpSetup'; matchedStep: number | null; recoveryCodeHashes: string[] }
  | { type: 'RegenerateRecoveryCodes'; recoveryCodeHashes: string[] }
  | { type: 'DisableTwoFactor'; passwordConfirmed: true }
  | { type: 'ResellerDisable'; operatorId: string; reason?: string }
  | { type: 'RecordPasswordReset' }
  | { type: 'UnlockAccount'; operatorId: string }
  | {
      type: 'StartChallenge';
      challengeId: string;
      deviceTokenHash?: string;
      contact?: Contact;
      /** The email code, needed only when the challenge goes by email (sealing one costs ~0.5 ms, so TOTP logins skip it). */
      code?: PreparedCode;
    }
  | {
      type: 'VerifyChallenge';
      challengeId: string;
      /** TOTP step the submitted code matched within the window, or null. */
      matchedStep: number | null;
      codeHash: string;
      rememberDevice?: PreparedDevice;
    }
  | { type: 'UseRecoveryCode'; challengeId: string; recoveryCodeHash: string }
  | { type: 'ResendCode'; challengeId: string; code: PreparedCode }
  /** Forget one remembered device; operators and admins name themselves with `operatorId`. */
  | { type: 'RevokeTrustedDevice'; deviceId: string; by: RevokedBy; operatorId?: string }
  | { type: 'ReencryptTotpSecret'; secret: EncryptedSecret }
  /** Answers an open TOTP challenge with a passkey assertion the caller checked (`PasskeyProof`). */
  | { type: 'VerifyPasskey'; challengeId: string; proof: PasskeyProof; rememberDevice?: PreparedDevice }
  | PasskeyCommand;

export interface DecisionContext {
  now: Date;
  policy: Policy;
}

// ---------------------------------------------------------------- queries

export const isEnabled = (state: AccountState): boolean => state.totp !== null;

export function isLocked(state: AccountState, now: Date): boolean {
  return state.lockedUntil !== null && now.getTime() < Date.parse(state.lockedUntil);
}

export function activeTrustedDevices(state: AccountState, now: Date): TrustedDevice[] {
  return state.trustedDevices.filter((device) => now.getTime() < Date.parse(device.expiresAt));
}

export type ChallengeRequirement =
  | { required: false; reason: 'not_enrolled' | 'trusted_device' }
  | { required: true; method: ChallengeMethod };

/** Whether a login needs a second step, and which. Pure, so the caller can explain a skip. */
export function challengeRequirement(
  state: AccountState,
  policy: Policy,
  now: Date,
  deviceTokenHash?: string,
): ChallengeRequirement {
  const method: ChallengeMethod | null = isEnabled(state) ? 'totp' : policy.emailOtpRequired ? 'email' : null;
  if (method === null) return { required: false, reason: 'not_enrolled' };
  if (deviceTokenHash !== undefined) {
    const hashes = activeTrustedDevices(state, now).map((device) => device.tokenHash);
    if (findConstantTime(hashes, deviceTokenHash) !== undefined) return { required: false, reason: 'trusted_device' };
  }
  return { required: true, method };
}

// ---------------------------------------------------------------- decide

export function decideAccount(command: AccountCommand, state: AccountState, context: DecisionContext): AccountEvent[] {
  const { now, policy } = context;
  switch (command.type) {
    case 'BeginTotpSetup':
      return [
        {
          type: 'TotpSetupStarted',
          data: command.contact ? { secret: command.secret, contact: command.contact } : { secret: command.secret },
        },
      ];

    case 'ConfirmTotpSetup': {
      if (!state.pendingTotp) {
        throw new DomainError('setup_not_started', 'Start the authenticator setup before confirming it.');
      }
      if (command.matchedStep === null) {
        throw new DomainError('invalid_code', 'Invalid authentication code. Enter the current code from your authenticator app.');
      }
      assertRecoveryCodes(command.recoveryCodeHashes);
      const enabled: AccountEvent = {
        type: 'TwoFactorEnabled',
        data: { method: 'totp', recoveryCodeHashes: command.recoveryCodeHashes, confirmedStep: command.matchedStep },
      };
      return [enabled, ...notify(state, policy, 'two_factor_enabled')];
    }

    case 'RegenerateRecoveryCodes':
      assertEnabled(state);
      assertRecoveryCodes(command.recoveryCodeHashes);
      return [{ type: 'RecoveryCodesRegenerated', data: { recoveryCodeHashes: command.recoveryCodeHashes } }];

    case 'DisableTwoFactor':
      assertEnabled(state, policy);
      return [
        { type: 'TwoFactorDisabled', data: { by: 'customer', passwordConfirmed: true } },
        ...revokeDevices(state, now, 'disabled'),
        ...removeAllPasskeys(state.passkeys, 'disabled'),
        ...notify(state, policy, 'two_factor_disabled'),
      ];

    case 'ResellerDisable':
      assertEnabled(state, policy);
      return [
        {
          type: 'ResellerDisabled',
          data: command.reason ? { operatorId: command.operatorId, reason: command.reason } : { operatorId: command.operatorId },
        },
        ...revokeDevices(state, now, 'reseller_disabled'),
        ...removeAllPasskeys(state.passkeys, 'reseller_disabled'),
        ...notify(state, policy, 'reseller_disabled'),
      ];

    case 'RecordPasswordReset':
      return [{ type: 'PasswordResetRecorded', data: {} }, ...revokeDevices(state, now, 'password_reset')];

    case 'UnlockAccount':
      if (!isLocked(state, now)) throw new DomainError('not_locked', 'The account is not locked.');
      return [{ type: 'AccountUnlocked', data: { operatorId: command.operatorId } }];

    case 'StartChallenge': {
      const requirement = challengeRequirement(state, policy, now, command.deviceTokenHash);
      // A lock guards the second step. With none to take (2FA off, e.g. just disabled by the
      // reseller), the password alone logs in (seed 000); a trusted device does not beat a lock.
      if (!requirement.required && requirement.reason === 'not_enrolled') return [];
      assertNotLocked(state, now);
      if (!requirement.required) return [];
      const expiresAt = plusMinutes(now, policy.codeTtlMinutes);
      const started: AccountEvent = {
        type: 'ChallengeStarted',
        data: { challengeId: command.challengeId, method: requirement.method, expiresAt },
      };
      if (requirement.method === 'totp') return [started];
      // The address passed now, else the last one this account used.
      const contact = command.contact ?? state.contact;
      if (!contact) {
        throw new DomainError('email_required', 'This login needs an email code: pass the address to send it to as "email".');
      }
      // Inside the cooldown the open challenge stays usable: the refusal names it, so a refreshed page can go on.
      assertCooldownOver(state.challenge?.code ?? null, policy, now, state.challenge ? { challengeId: state.challenge.id, expiresAt: state.challenge.code?.expiresAt ?? state.challenge.expiresAt } : undefined);
      if (!command.code) throw new Error('StartChallenge by email needs a prepared code (see challengeRequirement)');
      return [started, codeIssued(command.challengeId, command.code, contact, policy, now, 1)];
    }

    case 'VerifyChallenge': {
      const challenge = openChallenge(state, command.challengeId, now);
      if (challenge.method === 'totp') {
        const matched = command.matchedStep;
        if (matched === null) return failedAttempt(state, policy, now, challenge.id, 'totp', 'wrong_code');
        if (matched <= state.lastTotpStep) return failedAttempt(state, policy, now, challenge.id, 'totp', 'code_reused');
        return [
          { type: 'ChallengePassed', data: { challengeId: challenge.id, method: 'totp', totpStep: matched } },
          ...trustDevice(command.rememberDevice, policy, now),
        ];
      }
      const code = challenge.code;
      if (!code) throw new DomainError('resend_not_available', 'No code was issued for this challenge.');
      if (now.getTime() >= Date.parse(code.expiresAt)) throw new DomainError('code_expired', CODE_EXPIRED_MESSAGE);
      if (!constantTimeEquals(code.hash, command.codeHash)) {
        return failedAttempt(state, policy, now, challenge.id, 'email', 'wrong_code');
      }
      return [
        { type: 'ChallengePassed', data: { challengeId: challenge.id, method: 'email' } },
        ...trustDevice(command.rememberDevice, policy, now),
      ];
    }

    case 'UseRecoveryCode': {
      const challenge = openChallenge(state, command.challengeId, now);
      if (challenge.method !== 'totp') {
        throw new DomainError('recovery_not_available', 'Recovery codes only stand in for an authenticator app code.');
      }
      const used = findConstantTime(state.recoveryCodeHashes, command.recoveryCodeHash);
      if (used === undefined) return failedAttempt(state, policy, now, challenge.id, 'recovery_code', 'wrong_code');
      return [
        {
          type: 'RecoveryCodeUsed',
          data: {
            challengeId: challenge.id,
            recoveryCodeHash: used,
            recoveryCodesRemaining: state.recoveryCodeHashes.length - 1,
          },
        },
        ...notify(state, policy, 'recovery_code_used'),
      ];
    }

    case 'ResendCode': {
      // Lock first: a lock closes the challenge, and the caller must hear "locked", not "not found".
      assertNotLocked(state, now);
      const challenge = findChallenge(state, command.challengeId);
      const code = challenge.code;
      if (challenge.method !== 'email' || !code) {
        throw new DomainError('resend_not_available', 'Only email codes can be sent again.');
      }
      const expired = now.getTime() >= Date.parse(code.expiresAt);
      if (code.attempts === 0 && !expired) {
        throw new DomainError('resend_not_available', 'A new code can be requested after entering the current one.');
      }
      assertCooldownOver(code, policy, now);
      const contact = { recipient: code.recipient, maskedRecipient: code.maskedRecipient };
      return [codeIssued(challenge.id, command.code, contact, policy, now, code.issue + 1)];
    }

    case 'RevokeTrustedDevice': {
      // Neither a lock nor the 2FA status matters: forgetting a device only ever asks for more.
      const known = activeTrustedDevices(state, now).some((device) => device.deviceId === command.deviceId);
      if (!known) throw new DomainError('device_not_found', 'No remembered device of this account has this id (it may have expired or been revoked).');
      if (command.by !== 'customer' && !command.operatorId) throw new Error('RevokeTrustedDevice by an operator or admin needs operatorId');
      return [
        {
          type: 'TrustedDeviceRevoked',
          data:
            command.by === 'customer'
              ? { deviceId: command.deviceId, by: 'customer' }
              : { deviceId: command.deviceId, by: command.by, operatorId: command.operatorId! },
        },
      ];
    }

    case 'ReencryptTotpSecret':
      assertEnabled(state);
      return [{ type: 'TotpSecretReencrypted', data: { secret: command.secret } }];

    case 'RegisterPasskey':
      return [...decidePasskeys(command, state.passkeys, isEnabled(state)), ...notify(state, policy, 'passkey_added')];

    case 'RemovePasskey':
      return decidePasskeys(command, state.passkeys, isEnabled(state));

    case 'VerifyPasskey': {
      const challenge = openChallenge(state, command.challengeId, now);
      if (challenge.method !== 'totp' || state.passkeys.length === 0) {
        throw new DomainError('passkey_not_available', 'This login cannot be answered with a passkey: the account has none.');
      }
      const failure = judgeAssertion(state.passkeys, command.proof);
      if (failure) return failedAttempt(state, policy, now, challenge.id, 'webauthn', failure);
      const used = state.passkeys.find((candidate) => candidate.credentialId === command.proof.credentialId)!;
      const passkey = { passkeyId: used.passkeyId, counter: command.proof.known ? command.proof.newCounter : 0 };
      return [
        { type: 'ChallengePassed', data: { challengeId: challenge.id, method: 'webauthn', passkey } },
        ...trustDevice(command.rememberDevice, policy, now),
      ];
    }

    default:
      return assertNever(command);
  }
}

// ---------------------------------------------------------------- evolve

export function evolveAccount(state: AccountState, event: AccountEvent): AccountState {
  switch (event.type) {
    case 'TotpSetupStarted':
      return {
        ...state,
        pendingTotp: { secret: event.data.secret },
        contact: event.data.contact ?? state.contact,
      };
    case 'TwoFactorEnabled':
      return {
        ...state,
        totp: state.pendingTotp ? { secret: state.pendingTotp.secret } : state.totp,
        pendingTotp: null,
        lastTotpStep: event.data.confirmedStep,
        recoveryCodeHashes: [...event.data.recoveryCodeHashes],
        resetRecommended: false,
        failedAttempts: 0, // confirming proved a fresh code, as a passed challenge does
      };
    case 'RecoveryCodesRegenerated':
      return { ...state, recoveryCodeHashes: [...event.data.recoveryCodeHashes], resetRecommended: false };
    case 'TwoFactorDisabled':
    case 'ResellerDisabled':
      return {
        ...state,
        // Failed attempts were against the factor that is now gone; a lock in place still runs out.
        failedAttempts: 0,
        totp: null,
        pendingTotp: null,
        lastTotpStep: -1,
        recoveryCodeHashes: [],
        resetRecommended: false,
        challenge: null,
        trustedDevices: [],
        passkeys: [],
      };
    case 'ChallengeStarted':
      return {
        ...state,
        challenge: {
          id: event.data.challengeId,
          method: event.data.method,
          expiresAt: event.data.expiresAt,
          code: null,
        },
      };
    case 'CodeIssued': {
      const { challengeId, codeHash, issuedAt, expiresAt, recipient, maskedRecipient, issue } = event.data;
      if (state.challenge?.id !== challengeId) return state;
      return {
        ...state,
        contact: { recipient, maskedRecipient },
        challenge: {
          ...state.challenge,
          // The challenge lives as long as its newest code.
          expiresAt,
          code: { hash: codeHash, issuedAt, expiresAt, recipient, maskedRecipient, attempts: 0, issue },
        },
      };
    }
    case 'AttemptFailed': {
      const challenge = state.challenge;
      const counted =
        challenge?.id === event.data.challengeId && challenge.code
          ? { ...challenge, code: { ...challenge.code, attempts: challenge.code.attempts + 1 } }
          : challenge;
      return { ...state, failedAttempts: event.data.failedAttempts, challenge: counted };
    }
    case 'AccountLocked':
      // The counter restarts once the lock is in place; the lock itself ends by time.
      return { ...state, lockedUntil: event.data.lockedUntil, failedAttempts: 0, challenge: null };
    case 'AccountUnlocked':
      return { ...state, lockedUntil: null, failedAttempts: 0 };
    case 'ChallengePassed':
      return {
        ...state,
        challenge: null,
        failedAttempts: 0,
        lastTotpStep: event.data.totpStep ?? state.lastTotpStep,
        passkeys: event.data.passkey ? evolvePasskeys(state.passkeys, event) : state.passkeys,
      };
    case 'PasskeyRegistered':
    case 'PasskeyRemoved':
    case 'PasskeysRemoved':
      return { ...state, passkeys: evolvePasskeys(state.passkeys, event) };
    case 'RecoveryCodeUsed':
      return {
        ...state,
        challenge: null,
        failedAttempts: 0,
        recoveryCodeHashes: state.recoveryCodeHashes.filter((hash) => hash !== event.data.recoveryCodeHash),
        resetRecommended: true,
      };
    case 'DeviceTrusted':
      return {
        ...state,
        trustedDevices: [...state.trustedDevices, { ...event.data }].slice(-MAX_TRUSTED_DEVICES),
      };
    case 'TrustedDevicesRevoked':
      return { ...state, trustedDevices: [] };
    case 'TrustedDeviceRevoked':
      return { ...state, trustedDevices: state.trustedDevices.filter((device) => device.deviceId !== event.data.deviceId) };
    case 'PasswordResetRecorded':
    case 'SecurityNotificationQueued':
      return state;
    case 'TotpSecretReencrypted':
      return state.totp ? { ...state, totp: { ...state.totp, secret: event.data.secret } } : state;
    default:
      return assertNever(event);
  }
}

// ---------------------------------------------------------------- helpers

function failedAttempt(
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

function codeIssued(
  challengeId: string,
  prepared: PreparedCode,
  contact: Contact,
  policy: Policy,
  now: Date,
  issue: number,
): AccountEvent {
  return {
    type: 'CodeIssued',
    data: {
      challengeId,
      codeHash: prepared.codeHash,
      issuedAt: now.toISOString(),
      expiresAt: plusMinutes(now, policy.codeTtlMinutes),
      code: prepared.code,
      recipient: contact.recipient,
      maskedRecipient: contact.maskedRecipient,
      ttlMinutes: policy.codeTtlMinutes,
      issue,
      ...tenantName(policy),
    },
  };
}

function trustDevice(device: PreparedDevice | undefined, policy: Policy, now: Date): AccountEvent[] {
  if (!device) return [];
  const expiresAt = plusMinutes(now, policy.trustedDeviceDays * 24 * 60);
  const { deviceId, tokenHash, label } = device;
  return [{ type: 'DeviceTrusted', data: label === undefined ? { deviceId, tokenHash, expiresAt } : { deviceId, tokenHash, expiresAt, label } }];
}

function revokeDevices(state: AccountState, now: Date, reason: RevocationReason): AccountEvent[] {
  const count = activeTrustedDevices(state, now).length;
  return count === 0 ? [] : [{ type: 'TrustedDevicesRevoked', data: { reason, count } }];
}

function notify(state: AccountState, policy: Policy, kind: NotificationKind, contact: Contact | null = state.contact): AccountEvent[] {
  if (!contact) return [];
  return [
    {
      type: 'SecurityNotificationQueued',
      data: { kind, recipient: contact.recipient, maskedRecipient: contact.maskedRecipient, ...tenantName(policy) },
    },
  ];
}

/** The tenant's display name travels with each email event, so a mailer needs no policy of its own. */
function tenantName(policy: Policy): { tenantName?: string } {
  return policy.displayName === null ? {} : { tenantName: policy.displayName };
}

function findChallenge(state: AccountState, challengeId: string): OpenChallenge {
  const challenge = state.challenge;
  if (!challenge || challenge.id !== challengeId) {
    throw new DomainError('challenge_not_found', 'No open login challenge has this id.');
  }
  return challenge;
}

/** An open, unexpired challenge on an unlocked account. Email expiry is judged per code. */
function openChallenge(state: AccountState, challengeId: string, now: Date): OpenChallenge {
  // Lock first: a lock closes the challenge, and the caller must hear "locked", not "not found".
  assertNotLocked(state, now);
  const challenge = findChallenge(state, challengeId);
  if (challenge.method === 'totp' && now.getTime() >= Date.parse(challenge.expiresAt)) {
    throw new DomainError('challenge_expired', 'This login challenge has expired. Start a new login.');
  }
  return challenge;
}

function assertNotLocked(state: AccountState, now: Date): void {
  if (isLocked(state, now)) {
    throw new DomainError('account_locked', `Too many failed attempts. Try again after ${state.lockedUntil}.`, {
      lockedUntil: state.lockedUntil,
    });
  }
}

/**
 * With a policy passed (the disable commands), an account whose 2FA is the tenant's email-code
 * requirement rather than its own enrolment gets a conflict that says so: the status view shows
 * it as Enabled (method email), and only the tenant policy can turn that off.
 */
function assertEnabled(state: AccountState, policy?: Policy): void {
  if (isEnabled(state)) return;
  if (policy?.emailOtpRequired) {
    throw new DomainError(
      'enforced_by_policy',
      "Email codes are required by this tenant's 2FA policy and cannot be disabled for one account; an admin can change the policy.",
    );
  }
  throw new DomainError('not_enabled', 'Two-factor authentication is not enabled for this account.');
}

function assertRecoveryCodes(hashes: string[]): void {
  if (hashes.length !== RECOVERY_CODE_COUNT || new Set(hashes).size !== RECOVERY_CODE_COUNT) {
    throw new Error(`Exactly ${RECOVERY_CODE_COUNT} distinct recovery codes are required.`);
  }
}

/** The cooldown guards against mail-bombing while a code is still usable; an expired code never makes anyone wait. */
function assertCooldownOver(code: IssuedCode | null, policy: Policy, now: Date, open?: { challengeId: string; expiresAt: string }): void {
  if (!code || now.getTime() >= Date.parse(code.expiresAt)) return;
  const availableAt = Date.parse(code.issuedAt) + policy.resendCooldownSeconds * 1000;
  if (now.getTime() < availableAt) {
    const retryAfterSeconds = Math.ceil((availableAt - now.getTime()) / 1000);
    throw new DomainError('resend_cooldown', `Wait ${retryAfterSeconds} seconds before requesting a new code.`, {
      retryAfterSeconds,
      resendAvailableAt: new Date(availableAt).toISOString(),
      ...(open ? { challengeId: open.challengeId, sentTo: code.maskedRecipient, expiresAt: open.expiresAt } : {}),
    });
  }
}

export function plusMinutes(now: Date, minutes: number): string {
  return new Date(now.getTime() + minutes * 60_000).toISOString();
}

function assertNever(value: never): never {
  throw new Error(`Unhandled case: ${JSON.stringify(value)}`);
}
