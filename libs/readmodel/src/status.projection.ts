import { ACCOUNT_CATEGORY, accountStream, answerMethods, MAX_TRUSTED_DEVICES, parseStream, upcastAccountEvent, type ParsedStream, type Policy } from '@twostep/domain';
import type { StoredEvent } from '@twostep/eventstore';
import { foldDocument, type DocumentProjection } from './projection';
import type { PasskeyView, StatusView, TrustedDeviceView } from './views';

const ACCOUNT_PREFIX = `${ACCOUNT_CATEGORY}-`;

export function emptyStatus(tenantId: string, userId: string): StatusView {
  return {
    tenantId,
    userId,
    status: 'Disabled',
    method: null,
    setupPending: false,
    recoveryCodesRemaining: 0,
    resetRecommended: false,
    failedAttempts: 0,
    lockedUntil: null,
    methods: [],
    trustedDevices: [],
    passkeys: [],
    lastCodeSent: null,
    enabledAt: null,
    passwordResetAt: null,
    updatedAt: null,
    revision: -1,
  };
}

/**
 * The status view: one document per account stream, what GET status returns (presented through
 * `presentStatus`). No secrets: masked addresses, ids and counts only.
 */
export const statusProjection: DocumentProjection<StatusView> = {
  kind: 'document',
  name: 'status-v2',
  canHandle: (event) => event.stream.startsWith(ACCOUNT_PREFIX),
  documentId: (event) => event.stream.slice(ACCOUNT_PREFIX.length),
  initial(event) {
    const stream = parseStream(event.stream) as Extract<ParsedStream, { kind: 'account' }>;
    return emptyStatus(stream.tenantId, stream.userId);
  },
  evolve(view, event) {
    const next = evolveStatus(view, event);
    return { ...next, methods: methodsOf(next) };
  },
};

/** The document id of an account's status view and event log. */
export const accountDocumentId = (tenantId: string, userId: string): string => accountStream(tenantId, userId).slice(ACCOUNT_PREFIX.length);

/**
 * One event applied to a status view in memory, with the stores' revision guard: an event the
 * view already holds (or not an account's) leaves it as it is; a skipped revision throws.
 */
export function projectStatus(view: StatusView | null, stored: StoredEvent): StatusView | null {
  if (!statusProjection.canHandle(stored)) return view;
  const state = foldDocument(statusProjection, [stored], view ? { document: view, revision: view.revision } : null);
  return state?.document ?? null;
}

function evolveStatus(current: StatusView, stored: StoredEvent): StatusView {
  const at = stored.metadata.at;
  const next: StatusView = { ...current, revision: stored.revision, updatedAt: at };
  const event = upcastAccountEvent(stored);
  if (!event) return next;
  const disabled = (): StatusView => ({
    ...next,
    status: 'Disabled',
    method: null,
    failedAttempts: 0,
    setupPending: false,
    recoveryCodesRemaining: 0,
    resetRecommended: false,
    trustedDevices: [],
    passkeys: [],
    enabledAt: null,
  });
  switch (event.type) {
    case 'TotpSetupStarted':
      return { ...next, setupPending: true };
    case 'TwoFactorEnabled':
      return {
        ...next,
        status: 'Enabled',
        method: 'totp',
        failedAttempts: 0,
        setupPending: false,
        recoveryCodesRemaining: event.data.recoveryCodeHashes.length,
        resetRecommended: false,
        enabledAt: at,
      };
    case 'RecoveryCodesRegenerated':
      return { ...next, recoveryCodesRemaining: event.data.recoveryCodeHashes.length, resetRecommended: false };
    case 'TwoFactorDisabled':
    case 'ResellerDisabled':
      return disabled();
    case 'CodeIssued':
      return { ...next, lastCodeSent: { to: event.data.maskedRecipient, at, expiresAt: event.data.expiresAt } };
    case 'AttemptFailed':
      return { ...next, failedAttempts: event.data.failedAttempts };
    case 'AccountLocked':
      return { ...next, lockedUntil: event.data.lockedUntil, failedAttempts: 0 };
    case 'AccountUnlocked':
      return { ...next, lockedUntil: null, failedAttempts: 0 };
    case 'ChallengePassed': {
      const used = event.data.passkey?.passkeyId;
      if (used === undefined) return { ...next, failedAttempts: 0 };
      return { ...next, failedAttempts: 0, passkeys: passkeysOf(next).map((passkey) => (passkey.passkeyId === used ? { ...passkey, lastUsedAt: at } : passkey)) };
    }
    case 'PasskeyRegistered': {
      const passkey: PasskeyView = { passkeyId: event.data.passkeyId, name: event.data.name, createdAt: at, lastUsedAt: null };
      return { ...next, passkeys: [...passkeysOf(next), passkey] };
    }
    case 'PasskeyRemoved':
      return { ...next, passkeys: passkeysOf(next).filter((passkey) => passkey.passkeyId !== event.data.passkeyId) };
    case 'PasskeysRemoved':
      return { ...next, passkeys: [] };
    case 'RecoveryCodeUsed':
      return { ...next, failedAttempts: 0, recoveryCodesRemaining: event.data.recoveryCodesRemaining, resetRecommended: true };
    case 'DeviceTrusted': {
      const device: TrustedDeviceView = { deviceId: event.data.deviceId, label: event.data.label ?? null, createdAt: at, expiresAt: event.data.expiresAt };
      // The same cap as the decision state, so the view lists exactly the devices that still skip.
      return { ...next, trustedDevices: [...next.trustedDevices, device].slice(-MAX_TRUSTED_DEVICES) };
    }
    case 'TrustedDevicesRevoked':
      return { ...next, trustedDevices: [] };
    case 'TrustedDeviceRevoked':
      return { ...next, trustedDevices: next.trustedDevices.filter((device) => device.deviceId !== event.data.deviceId) };
    case 'PasswordResetRecorded':
      return { ...next, passwordResetAt: at };
    case 'ChallengeStarted':
    case 'SecurityNotificationQueued':
    case 'TotpSecretReencrypted':
      return next;
    default:
      return next;
  }
}

const passkeysOf = (view: StatusView): PasskeyView[] => view.passkeys ?? [];

/** The ways this account answers a login, as the status view lists them: its own factors, then email by policy. */
export function methodsOf(view: StatusView): ('totp' | 'webauthn' | 'email')[] {
  return answerMethods(view.method, passkeysOf(view).length);
}

/**
 * The status a caller sees, computed on read from the stored view, the moment and the tenant's
 * policy: a lock whose time has passed no longer shows, nor do expired trusted devices, and an
 * account without TOTP in a tenant that requires email codes has email 2FA (policy, not enrolment).
 * The api, `status-at` and `replay` all present through here, so they agree.
 */
export function presentStatus(view: StatusView, now: Date, policy: Pick<Policy, 'emailOtpRequired'>): StatusView {
  const lockActive = view.lockedUntil !== null && Date.parse(view.lockedUntil) > now.getTime();
  const byPolicy = view.status === 'Disabled' && policy.emailOtpRequired;
  return {
    ...view,
    methods: byPolicy ? ['email'] : (view.methods ?? methodsOf(view)),
    ...(byPolicy ? { status: 'Enabled' as const, method: 'email' as const } : {}),
    lockedUntil: lockActive ? view.lockedUntil : null,
    passkeys: passkeysOf(view),
    trustedDevices: view.trustedDevices
      .filter((device) => Date.parse(device.expiresAt) > now.getTime())
      // Views stored before labels and times were projected lack both fields.
      .map((device) => ({ deviceId: device.deviceId, label: device.label ?? null, createdAt: device.createdAt ?? null, expiresAt: device.expiresAt })),
  };
}

