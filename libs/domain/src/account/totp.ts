import { findConstantTime } from '../constant-time';
import { DomainError } from '../errors';
import type { AccountEvent, Contact, EncryptedSecret, EventOf } from '../events';
import type { Policy } from '../policy';
import { openChallenge } from './challenge-lookup';
import { failedAttempt } from './lockout';
import { notify } from './notifications';
import { removeAllPasskeys } from './passkeys';
import { revokeDevices } from './trusted-devices';
import { countReset, FACTOR_OFF, isEnabled, passkeysOf, RECOVERY_CODE_COUNT, recoveryCodesOf, whileOn, type AccountState, type Deciding, type Folding } from './state';

/**
 * The authenticator-app factor and what comes with it: setup and confirmation (which turns 2FA
 * on and issues the recovery codes), new recovery codes, a recovery code standing in for an app
 * code, turning 2FA off (the customer, or a reseller), and re-encrypting the secret.
 */
export type TotpCommand =
  | { type: 'BeginTotpSetup'; secret: EncryptedSecret; contact?: Contact }
  | { type: 'ConfirmTotpSetup'; matchedStep: number | null; recoveryCodeHashes: string[] }
  | { type: 'RegenerateRecoveryCodes'; recoveryCodeHashes: string[] }
  | { type: 'UseRecoveryCode'; challengeId: string; recoveryCodeHash: string }
  | { type: 'DisableTwoFactor'; passwordConfirmed: true }
  | { type: 'ResellerDisable'; operatorId: string; reason?: string }
  | { type: 'ReencryptTotpSecret'; secret: EncryptedSecret };

export const totpDecisions: Deciding<TotpCommand, AccountEvent> = {
  BeginTotpSetup: (command) => [{ type: 'TotpSetupStarted', data: command.contact ? { secret: command.secret, contact: command.contact } : { secret: command.secret } }],

  ConfirmTotpSetup(command, state, { policy }) {
    if (!state.pendingTotp) throw new DomainError('setup_not_started', 'Start the authenticator setup before confirming it.');
    if (command.matchedStep === null) {
      throw new DomainError('invalid_code', 'Invalid authentication code. Enter the current code from your authenticator app.');
    }
    assertRecoveryCodes(command.recoveryCodeHashes);
    const enabled: AccountEvent = {
      type: 'TwoFactorEnabled',
      data: { method: 'totp', recoveryCodeHashes: command.recoveryCodeHashes, confirmedStep: command.matchedStep },
    };
    return [enabled, ...notify(state, policy, 'two_factor_enabled')];
  },

  RegenerateRecoveryCodes(command, state) {
    assertEnabled(state);
    assertRecoveryCodes(command.recoveryCodeHashes);
    return [{ type: 'RecoveryCodesRegenerated', data: { recoveryCodeHashes: command.recoveryCodeHashes } }];
  },

  UseRecoveryCode(command, state, { now, policy }) {
    const challenge = openChallenge(state, command.challengeId, now);
    if (challenge.method !== 'totp') throw new DomainError('recovery_not_available', 'Recovery codes only stand in for an authenticator app code.');
    const codes = recoveryCodesOf(state);
    const used = findConstantTime(codes, command.recoveryCodeHash);
    if (used === undefined) return failedAttempt(state, policy, now, challenge.id, 'recovery_code', 'wrong_code');
    return [
      { type: 'RecoveryCodeUsed', data: { challengeId: challenge.id, recoveryCodeHash: used, recoveryCodesRemaining: codes.length - 1 } },
      ...notify(state, policy, 'recovery_code_used'),
    ];
  },

  DisableTwoFactor(_command, state, { now, policy }) {
    assertEnabled(state, policy);
    return [
      { type: 'TwoFactorDisabled', data: { by: 'customer', passwordConfirmed: true } },
      ...revokeDevices(state, now, 'disabled'),
      ...removeAllPasskeys(passkeysOf(state), 'disabled'),
      ...notify(state, policy, 'two_factor_disabled'),
    ];
  },

  ResellerDisable(command, state, { now, policy }) {
    assertEnabled(state, policy);
    return [
      { type: 'ResellerDisabled', data: command.reason ? { operatorId: command.operatorId, reason: command.reason } : { operatorId: command.operatorId } },
      ...revokeDevices(state, now, 'reseller_disabled'),
      ...removeAllPasskeys(passkeysOf(state), 'reseller_disabled'),
      ...notify(state, policy, 'reseller_disabled'),
    ];
  },

  ReencryptTotpSecret(command, state) {
    assertEnabled(state);
    return [{ type: 'TotpSecretReencrypted', data: { secret: command.secret } }];
  },
};

type TotpEvent =
  | EventOf<'TotpSetupStarted'>
  | EventOf<'TwoFactorEnabled'>
  | EventOf<'RecoveryCodesRegenerated'>
  | EventOf<'RecoveryCodeUsed'>
  | EventOf<'TwoFactorDisabled'>
  | EventOf<'ResellerDisabled'>
  | EventOf<'TotpSecretReencrypted'>;

const disabled = (state: AccountState): AccountState => ({
  ...state,
  // Failed attempts were against the factor that is now gone; a lock in place still runs out.
  lockout: countReset(state.lockout),
  factor: FACTOR_OFF,
  pendingTotp: null,
  challenge: null,
  trustedDevices: [],
});

export const totpFolds: Folding<TotpEvent> = {
  TotpSetupStarted: (state, event) => ({ ...state, pendingTotp: { secret: event.data.secret }, contact: event.data.contact ?? state.contact }),
  TwoFactorEnabled(state, event) {
    // The secret just confirmed; a TwoFactorEnabled is only ever decided after a setup.
    const secret = state.pendingTotp?.secret ?? (state.factor.status === 'on' ? state.factor.secret : null);
    if (!secret) return state;
    return {
      ...state,
      factor: {
        status: 'on',
        secret,
        lastTotpStep: event.data.confirmedStep,
        recoveryCodeHashes: [...event.data.recoveryCodeHashes],
        resetRecommended: false,
        passkeys: passkeysOf(state), // a new app secret keeps the passkeys
      },
      pendingTotp: null,
      lockout: countReset(state.lockout), // confirming proved a fresh code, as a passed challenge does
    };
  },
  RecoveryCodesRegenerated: (state, event) => whileOn(state, (factor) => ({ ...factor, recoveryCodeHashes: [...event.data.recoveryCodeHashes], resetRecommended: false })),
  RecoveryCodeUsed: (state, event) => ({
    ...whileOn(state, (factor) => ({ ...factor, recoveryCodeHashes: factor.recoveryCodeHashes.filter((hash) => hash !== event.data.recoveryCodeHash), resetRecommended: true })),
    challenge: null,
    lockout: countReset(state.lockout),
  }),
  TwoFactorDisabled: disabled,
  ResellerDisabled: disabled,
  TotpSecretReencrypted: (state, event) => whileOn(state, (factor) => ({ ...factor, secret: event.data.secret })),
};

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
