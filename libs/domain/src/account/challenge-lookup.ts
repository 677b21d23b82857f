import { DomainError } from '../errors';
import { assertNotLocked } from './lockout';
import type { AccountState, OpenChallenge } from './state';

/** The account's open challenge with this id, or 404 challenge_not_found. */
export function findChallenge(state: AccountState, challengeId: string): OpenChallenge {
  const challenge = state.challenge;
  if (!challenge || challenge.id !== challengeId) {
    throw new DomainError('challenge_not_found', 'No open login challenge has this id.');
  }
  return challenge;
}

/** An open, unexpired challenge on an unlocked account: what every answer (code, recovery code, passkey) needs. Email expiry is judged per code. */
export function openChallenge(state: AccountState, challengeId: string, now: Date): OpenChallenge {
  // Lock first: a lock closes the challenge, and the caller must hear "locked", not "not found".
  assertNotLocked(state, now);
  const challenge = findChallenge(state, challengeId);
  if (challenge.method === 'totp' && now.getTime() >= Date.parse(challenge.expiresAt)) {
    throw new DomainError('challenge_expired', 'This login challenge has expired. Start a new login.');
  }
  return challenge;
}
