import { constantTimeEquals, findConstantTime } from '../constant-time';
import { CODE_EXPIRED_MESSAGE, DomainError } from '../errors';
import type { AccountEvent, ChallengeMethod, Contact, EventOf } from '../events';
import type { Policy } from '../policy';
import { openChallenge } from './challenge-lookup';
import { assertCooldownOver, codeIssued } from './email';
import { assertNotLocked, failedAttempt } from './lockout';
import { passkeyUsed } from './passkeys';
import { trustDevice } from './trusted-devices';
import { activeTrustedDevices, countReset, isEnabled, plusMinutes, whileOn, type AccountState, type Deciding, type Folding, type PreparedCode, type PreparedDevice } from './state';

/**
 * The login challenge, whatever answers it: whether a login needs a second step, starting one
 * (which supersedes the last), and answering it with a code. A passkey answers it in the passkeys
 * slice, a recovery code in the totp slice; all of them count failures on the lockout slice.
 */
export type ChallengeCommand =
  | {
      type: 'StartChallenge';
      challengeId: string;
      deviceTokenHash?: string;
      contact?: Contact;
      /** The email code, needed only when the challenge goes by email (sealing one costs ~0.5 ms, so TOTP logins skip it). */
      code?: PreparedCode;
    }
  | { type: 'VerifyChallenge'; challengeId: string; proof: CodeProof; rememberDevice?: PreparedDevice };

/**
 * What a submitted code proved, worked out by the caller from the challenge's method: the TOTP
 * step it matched within the window (null: none), or the email code's keyed hash. A proof of the
 * other kind than the challenge's method is a wrong answer.
 */
export type CodeProof = { kind: 'totp'; matchedStep: number | null } | { kind: 'email'; codeHash: string };

export type ChallengeRequirement =
  | { required: false; reason: 'not_enrolled' | 'trusted_device' }
  | { required: true; method: ChallengeMethod };

/** Whether a login needs a second step, and which. Pure, so the caller can explain a skip. */
export function challengeRequirement(state: AccountState, policy: Policy, now: Date, deviceTokenHash?: string): ChallengeRequirement {
  const method: ChallengeMethod | null = isEnabled(state) ? 'totp' : policy.emailOtpRequired ? 'email' : null;
  if (method === null) return { required: false, reason: 'not_enrolled' };
  if (deviceTokenHash !== undefined) {
    const hashes = activeTrustedDevices(state, now).map((device) => device.tokenHash);
    if (findConstantTime(hashes, deviceTokenHash) !== undefined) return { required: false, reason: 'trusted_device' };
  }
  return { required: true, method };
}

export const challengeDecisions: Deciding<ChallengeCommand, AccountEvent> = {
  StartChallenge(command, state, { now, policy }) {
    const requirement = challengeRequirement(state, policy, now, command.deviceTokenHash);
    // A lock guards the second step. With none to take (2FA off, e.g. just disabled by the
    // reseller), the password alone logs in (seed 000); a trusted device does not beat a lock.
    if (!requirement.required && requirement.reason === 'not_enrolled') return [];
    assertNotLocked(state, now);
    if (!requirement.required) return [];
    const expiresAt = plusMinutes(now, policy.codeTtlMinutes);
    const started: AccountEvent = { type: 'ChallengeStarted', data: { challengeId: command.challengeId, method: requirement.method, expiresAt } };
    if (requirement.method === 'totp') return [started];
    // The address passed now, else the last one this account used.
    const contact = command.contact ?? state.contact;
    if (!contact) {
      throw new DomainError('email_required', 'This login needs an email code: pass the address to send it to as "email".');
    }
    // Inside the cooldown the open challenge stays usable: the refusal names it, so a refreshed page can go on.
    const open = state.challenge;
    const openCode = open?.method === 'email' ? open.code : null;
    assertCooldownOver(openCode, policy, now, open ? { challengeId: open.id, expiresAt: openCode?.expiresAt ?? open.expiresAt } : undefined);
    if (!command.code) throw new Error('StartChallenge by email needs a prepared code (see challengeRequirement)');
    return [started, codeIssued(command.challengeId, command.code, contact, policy, now, 1)];
  },

  VerifyChallenge(command, state, { now, policy }) {
    const challenge = openChallenge(state, command.challengeId, now);
    const { proof } = command;
    if (challenge.method === 'totp') {
      const matched = proof.kind === 'totp' ? proof.matchedStep : null;
      if (matched === null) return failedAttempt(state, policy, now, challenge.id, 'totp', 'wrong_code');
      if (state.factor.status === 'on' && matched <= state.factor.lastTotpStep) return failedAttempt(state, policy, now, challenge.id, 'totp', 'code_reused');
      return [
        { type: 'ChallengePassed', data: { challengeId: challenge.id, method: 'totp', totpStep: matched } },
        ...trustDevice(command.rememberDevice, policy, now),
      ];
    }
    const code = challenge.code;
    if (!code) throw new DomainError('resend_not_available', 'No code was issued for this challenge.');
    if (now.getTime() >= Date.parse(code.expiresAt)) throw new DomainError('code_expired', CODE_EXPIRED_MESSAGE);
    if (proof.kind !== 'email' || !constantTimeEquals(code.hash, proof.codeHash)) return failedAttempt(state, policy, now, challenge.id, 'email', 'wrong_code');
    return [{ type: 'ChallengePassed', data: { challengeId: challenge.id, method: 'email' } }, ...trustDevice(command.rememberDevice, policy, now)];
  },
};

export const challengeFolds: Folding<EventOf<'ChallengeStarted'> | EventOf<'ChallengePassed'>> = {
  ChallengeStarted: (state, event) => ({
    ...state,
    challenge:
      event.data.method === 'email'
        ? { id: event.data.challengeId, method: 'email', expiresAt: event.data.expiresAt, code: null }
        : { id: event.data.challengeId, method: event.data.method, expiresAt: event.data.expiresAt },
  }),
  ChallengePassed: (state, event) =>
    passkeyUsed(
      { ...whileOn(state, (factor) => ({ ...factor, lastTotpStep: event.data.totpStep ?? factor.lastTotpStep })), challenge: null, lockout: countReset(state.lockout) },
      event,
    ),
};
