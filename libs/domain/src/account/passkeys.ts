import { DomainError } from '../errors';
import type { AccountEvent, ChallengeMethod, EventOf, PassedMethod, RevocationReason, RevokedBy } from '../events';
import { openChallenge } from './challenge-lookup';
import { failedAttempt } from './lockout';
import { notify } from './notifications';
import { trustDevice } from './trusted-devices';
import { isEnabled, passkeysOf, removal, whileOn, type AccountState, type OpenChallenge, type Deciding, type Folding, type PreparedDevice } from './state';

/**
 * Passkeys (WebAuthn) as a second factor, one slice of the account: its state, its commands,
 * what it decides and how it folds. The WebAuthn ceremony (challenge, signature, origin, rp id)
 * is checked by the caller with @simplewebauthn/server, as TOTP codes are matched outside the
 * decider; the decider gets the outcome and keeps the rules: who may add one, how many, names,
 * the sign counter, and that a rejected assertion is a failed attempt like a wrong code.
 *
 * A passkey joins an account whose 2FA is on with the authenticator app (which gave the
 * recovery codes), as GitHub's security keys first did: removing one never leaves an account
 * without a second factor, and turning 2FA off removes them all.
 */

export const MAX_PASSKEYS = 10;
export const PASSKEY_NAME_MAX = 64;

/** A registered credential. Its public key is not a secret; nothing here is. */
export interface Passkey {
  /** A short id for URLs and the event log (derived from the credential id at the edge; credential ids run to hundreds of characters). */
  passkeyId: string;
  /** The WebAuthn credential id, base64url. */
  credentialId: string;
  name: string;
  /** COSE public key, base64url. */
  publicKey: string;
  /** The authenticator's signature counter at the last accepted use (0 = it does not count). */
  counter: number;
  transports: string[];
}

/** A registration the caller verified (attestation, challenge, origin, rp id). */
export interface VerifiedRegistration {
  passkeyId: string;
  credentialId: string;
  publicKey: string;
  counter: number;
  transports: string[];
}

export type PasskeyCommand =
  | { type: 'RegisterPasskey'; name: string; credential: VerifiedRegistration }
  | { type: 'RemovePasskey'; passkeyId: string; by: RevokedBy; operatorId?: string }
  /** Answers an open TOTP challenge with a passkey assertion the caller checked (`PasskeyProof`). */
  | { type: 'VerifyPasskey'; challengeId: string; proof: PasskeyProof; rememberDevice?: PreparedDevice };

/** What an assertion against an open challenge proved, checked by the caller against the stored public key. */
export type PasskeyProof =
  | { credentialId: string; known: false }
  | { credentialId: string; known: true; signatureValid: boolean; newCounter: number };

export type PasskeyFailure = 'unknown_passkey' | 'wrong_signature' | 'counter_regressed';


export const passkeyDecisions: Deciding<PasskeyCommand, AccountEvent> = {
  RegisterPasskey(command, state, { policy }) {
    const passkeys = passkeysOf(state);
    assertCanAddPasskey(passkeys, isEnabled(state));
    const name = command.name;
    if (name.trim() !== name || name.length === 0 || name.length > PASSKEY_NAME_MAX || /[\p{C}\p{Zl}\p{Zp}]/u.test(name)) {
      throw new Error(`A passkey name is 1-${PASSKEY_NAME_MAX} printable characters (validated at the edge)`);
    }
    if (passkeys.some((passkey) => passkey.credentialId === command.credential.credentialId || passkey.passkeyId === command.credential.passkeyId)) {
      throw new DomainError('passkey_already_registered', 'This passkey is already registered for this account.');
    }
    if (passkeys.some((passkey) => passkey.name.toLowerCase() === name.toLowerCase())) {
      throw new DomainError('passkey_name_taken', `A passkey of this account is already named "${name}": choose another name.`);
    }
    const { passkeyId, credentialId, publicKey, counter, transports } = command.credential;
    return [{ type: 'PasskeyRegistered', data: { passkeyId, credentialId, name, publicKey, counter, transports } }, ...notify(state, policy, 'passkey_added')];
  },

  RemovePasskey(command, state) {
    if (!passkeysOf(state).some((passkey) => passkey.passkeyId === command.passkeyId)) {
      throw new DomainError('passkey_not_found', 'No passkey of this account has this id (it may have been removed).');
    }
    return [{ type: 'PasskeyRemoved', data: { passkeyId: command.passkeyId, ...removal(command) } }];
  },

  VerifyPasskey(command, state, { now, policy }) {
    const challenge = passkeyAnswerable(state, command.challengeId, now);
    const passkeys = passkeysOf(state);
    const failure = judgeAssertion(passkeys, command.proof);
    if (failure) return failedAttempt(state, policy, now, challenge.id, 'webauthn', failure);
    const used = passkeys.find((candidate) => candidate.credentialId === command.proof.credentialId)!;
    const passkey = { passkeyId: used.passkeyId, counter: command.proof.known ? command.proof.newCounter : 0 };
    return [{ type: 'ChallengePassed', data: { challengeId: challenge.id, method: 'webauthn', passkey } }, ...trustDevice(command.rememberDevice, policy, now)];
  },
};

/**
 * The open challenge a passkey may answer (unlocked, known, unexpired, the account's own factor
 * with a passkey registered): what verifying checks first, and what the assertion options ask
 * before the browser does.
 */
export function passkeyAnswerable(state: AccountState, challengeId: string, now: Date): OpenChallenge {
  const challenge = openChallenge(state, challengeId, now);
  if (challenge.method !== 'totp' || passkeysOf(state).length === 0) {
    throw new DomainError('passkey_not_available', 'This login cannot be answered with a passkey: the account has none.');
  }
  return challenge;
}

/**
 * The ways a login of this method can be answered, as the start of a challenge and the status
 * view both list them: a TOTP challenge also takes a passkey when the account has one.
 */
export function answerMethods(method: ChallengeMethod | null, passkeyCount: number): PassedMethod[] {
  if (method === null) return [];
  return method === 'totp' && passkeyCount > 0 ? ['totp', 'webauthn'] : [method];
}

/** Whether this account may add a passkey at all: 2FA on, and room for one more. The caller asks before the browser does. */
export function assertCanAddPasskey(passkeys: readonly Passkey[], enabled: boolean): void {
  if (!enabled) throw new DomainError('not_enabled', 'Turn on two-factor authentication with an authenticator app before adding a passkey.');
  if (passkeys.length >= MAX_PASSKEYS) {
    throw new DomainError('passkey_limit', `An account can have at most ${MAX_PASSKEYS} passkeys: remove one first.`);
  }
}

/**
 * Judges an assertion: a credential this account does not have, a bad signature, or a counter
 * that did not move forward (a cloned authenticator, WebAuthn §6.1.1) is a failure; an
 * authenticator that never counts (both 0) is accepted.
 */
export function judgeAssertion(passkeys: readonly Passkey[], proof: PasskeyProof): PasskeyFailure | null {
  const passkey = passkeys.find((candidate) => candidate.credentialId === proof.credentialId);
  if (!passkey || !proof.known) return 'unknown_passkey';
  if (!proof.signatureValid) return 'wrong_signature';
  if ((passkey.counter > 0 || proof.newCounter > 0) && proof.newCounter <= passkey.counter) return 'counter_regressed';
  return null;
}

/** 2FA turned off (by the customer or a reseller) removes every passkey, logged as one fact. */
export function removeAllPasskeys(passkeys: readonly Passkey[], reason: RevocationReason): AccountEvent[] {
  return passkeys.length === 0 ? [] : [{ type: 'PasskeysRemoved', data: { reason, count: passkeys.length } }];
}

export const passkeyFolds: Folding<EventOf<'PasskeyRegistered'> | EventOf<'PasskeyRemoved'> | EventOf<'PasskeysRemoved'>> = {
  PasskeyRegistered: (state, event) => whileOn(state, (factor) => ({ ...factor, passkeys: [...factor.passkeys, { ...event.data, transports: [...event.data.transports] }] })),
  PasskeyRemoved: (state, event) => whileOn(state, (factor) => ({ ...factor, passkeys: factor.passkeys.filter((passkey) => passkey.passkeyId !== event.data.passkeyId) })),
  // Decided with the disable, whose fold already turned the factor (and its passkeys) off.
  PasskeysRemoved: (state) => whileOn(state, (factor) => ({ ...factor, passkeys: [] })),
};

/** A challenge passed with a passkey stores the counter it signed with (the challenge slice folds the rest). */
export function passkeyUsed(state: AccountState, event: EventOf<'ChallengePassed'>): AccountState {
  const used = event.data.passkey;
  if (!used) return state;
  return whileOn(state, (factor) => ({ ...factor, passkeys: factor.passkeys.map((passkey) => (passkey.passkeyId === used.passkeyId ? { ...passkey, counter: used.counter } : passkey)) }));
}
