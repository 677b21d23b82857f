import { DomainError } from '../errors';
import type { AccountEvent, Contact, EventOf } from '../events';
import type { Policy } from '../policy';
import { findChallenge } from './challenge-lookup';
import { assertNotLocked } from './lockout';
import { tenantName } from './notifications';
import { plusMinutes, type Deciding, type Folding, type IssuedCode, type PreparedCode } from './state';

/**
 * The email channel: codes issued to a challenge (the first one when it starts, then resends),
 * each replacing the last, with a cooldown against mail-bombing. The code itself is sealed for
 * the mailer and only its keyed hash is kept.
 */
export type EmailCommand = { type: 'ResendCode'; challengeId: string; code: PreparedCode };

export const emailDecisions: Deciding<EmailCommand, AccountEvent> = {
  ResendCode(command, state, { now, policy }) {
    // Lock first: a lock closes the challenge, and the caller must hear "locked", not "not found".
    assertNotLocked(state, now);
    const challenge = findChallenge(state, command.challengeId);
    const code = challenge.method === 'email' ? challenge.code : null;
    if (!code) {
      throw new DomainError('resend_not_available', 'Only email codes can be sent again.');
    }
    const expired = now.getTime() >= Date.parse(code.expiresAt);
    if (code.attempts === 0 && !expired) {
      throw new DomainError('resend_not_available', 'A new code can be requested after entering the current one.');
    }
    assertCooldownOver(code, policy, now);
    const contact = { recipient: code.recipient, maskedRecipient: code.maskedRecipient };
    return [codeIssued(challenge.id, command.code, contact, policy, now, code.issue + 1)];
  },
};

export const emailFolds: Folding<EventOf<'CodeIssued'>> = {
  CodeIssued(state, event) {
    const { challengeId, codeHash, issuedAt, expiresAt, recipient, maskedRecipient, issue } = event.data;
    if (state.challenge?.id !== challengeId || state.challenge.method !== 'email') return state;
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
  },
};

export function codeIssued(challengeId: string, prepared: PreparedCode, contact: Contact, policy: Policy, now: Date, issue: number): AccountEvent {
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

/** The cooldown guards against mail-bombing while a code is still usable; an expired code never makes anyone wait. */
export function assertCooldownOver(code: IssuedCode | null, policy: Policy, now: Date, open?: { challengeId: string; expiresAt: string }): void {
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
