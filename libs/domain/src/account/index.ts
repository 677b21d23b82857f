import type { AccountEvent } from '../events';
import { challengeDecisions, challengeFolds, type ChallengeCommand } from './challenge';
import { emailDecisions, emailFolds, type EmailCommand } from './email';
import { lockoutDecisions, lockoutFolds, type LockoutCommand } from './lockout';
import { notificationFolds } from './notifications';
import { passkeyDecisions, passkeyFolds, type PasskeyCommand } from './passkeys';
import { totpDecisions, totpFolds, type TotpCommand } from './totp';
import { trustedDeviceDecisions, trustedDeviceFolds, type TrustedDeviceCommand } from './trusted-devices';
import type { AccountState, DecisionContext, Deciding, Folding } from './state';

/**
 * The account decider, composed from its slices: each owns its commands, its events' folds and
 * its rules, and they share one state and one stream (so one expected revision, and one exact
 * attempt counter across every method). A new factor is a new slice added to the two tables
 * below; the compiler checks that every command is decided and every event folded exactly here.
 *
 * Commands carry the results of every crypto step the caller made (matched TOTP step, keyed
 * hashes, sealed values, a verified WebAuthn assertion) so the decider needs neither keys nor
 * randomness.
 */
export type AccountCommand = TotpCommand | ChallengeCommand | EmailCommand | LockoutCommand | TrustedDeviceCommand | PasskeyCommand;

const DECISIONS: Deciding<AccountCommand, AccountEvent> = {
  ...totpDecisions,
  ...challengeDecisions,
  ...emailDecisions,
  ...lockoutDecisions,
  ...trustedDeviceDecisions,
  ...passkeyDecisions,
};

const FOLDS: Folding<AccountEvent> = {
  ...totpFolds,
  ...challengeFolds,
  ...emailFolds,
  ...lockoutFolds,
  ...trustedDeviceFolds,
  ...notificationFolds,
  ...passkeyFolds,
};

type Decide = (command: AccountCommand, state: AccountState, context: DecisionContext) => AccountEvent[];
type Fold = (state: AccountState, event: AccountEvent) => AccountState;

export function decideAccount(command: AccountCommand, state: AccountState, context: DecisionContext): AccountEvent[] {
  const decide = DECISIONS[command.type] as Decide | undefined;
  if (!decide) throw new Error(`Unhandled command: ${JSON.stringify(command)}`);
  return decide(command, state, context);
}

export function evolveAccount(state: AccountState, event: AccountEvent): AccountState {
  const fold = FOLDS[event.type] as Fold | undefined;
  if (!fold) throw new Error(`Unhandled event: ${JSON.stringify(event)}`);
  return fold(state, event);
}

export { challengeRequirement, type ChallengeCommand, type ChallengeRequirement, type CodeProof } from './challenge';
export type { EmailCommand } from './email';
export type { LockoutCommand } from './lockout';
export * from './passkeys';
export * from './state';
export type { TotpCommand } from './totp';
export type { TrustedDeviceCommand } from './trusted-devices';
