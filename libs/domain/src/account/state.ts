import type { Contact, EncryptedSecret, RevokedBy, SealedValue } from '../events';
import type { Passkey } from './passkeys';
import type { Policy } from '../policy';

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

/** An open login challenge: only an email challenge carries a code (null until its CodeIssued is folded). */
export type OpenChallenge =
  | { id: string; method: 'totp'; expiresAt: string }
  | { id: string; method: 'email'; expiresAt: string; code: IssuedCode | null };

export interface TrustedDevice {
  deviceId: string;
  tokenHash: string;
  expiresAt: string;
  label?: string;
}

/**
 * The lockout: failed attempts counting toward the limit, or a lock until a time. The count
 * restarts with the lock, so a locked account has no count to carry; a lock whose time has
 * passed stays here until the next attempt, unlock or pass, and only `isLocked` says it is over.
 */
export type Lockout = { status: 'counting'; failedAttempts: number } | { status: 'locked'; until: string };

export const NOT_LOCKED: Lockout = { status: 'counting', failedAttempts: 0 };

/**
 * The account's own second factor: off, or on with everything that exists only while it is on
 * (the app's secret and its replay guard, the recovery codes, the passkeys), so turning it off
 * drops them together and an account without the factor cannot hold any of them.
 */
export type Factor =
  | { status: 'off' }
  | {
      status: 'on';
      secret: EncryptedSecret;
      /** Highest TOTP time step already accepted; an equal or older step is a replay. */
      lastTotpStep: number;
      recoveryCodeHashes: string[];
      /** A recovery code was used: recommend setting up again. */
      resetRecommended: boolean;
      /** Passkeys (WebAuthn): each also answers a TOTP challenge. */
      passkeys: Passkey[];
    };
export type FactorOn = Extract<Factor, { status: 'on' }>;

export const FACTOR_OFF: Factor = { status: 'off' };

/**
 * Decision state of one account: one stream, one expected revision, so the attempt counter stays
 * exact across every method. Each slice (totp, challenge, lockout, trusted devices, passkeys)
 * folds its own fields. JSON-serialisable so it can be snapshotted.
 */
export interface AccountState {
  factor: Factor;
  /** A secret set up but not yet confirmed with a code (with the factor off, or on to replace its secret); 2FA stays as it was until then. */
  pendingTotp: { secret: EncryptedSecret } | null;
  lockout: Lockout;
  /** One open challenge per account: a new one supersedes the old, and so do its codes. */
  challenge: OpenChallenge | null;
  trustedDevices: TrustedDevice[];
  contact: Contact | null;
}

export const initialAccountState = (): AccountState => ({
  factor: FACTOR_OFF,
  pendingTotp: null,
  lockout: NOT_LOCKED,
  challenge: null,
  trustedDevices: [],
  contact: null,
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

export interface DecisionContext {
  now: Date;
  policy: Policy;
}

export const isEnabled = (state: AccountState): state is AccountState & { factor: FactorOn } => state.factor.status === 'on';

export const passkeysOf = (state: AccountState): Passkey[] => (state.factor.status === 'on' ? state.factor.passkeys : []);

export const recoveryCodesOf = (state: AccountState): string[] => (state.factor.status === 'on' ? state.factor.recoveryCodeHashes : []);

/** The state with its factor changed when the factor is on; as it is otherwise (an event only an enabled account has). */
export function whileOn(state: AccountState, change: (factor: FactorOn) => FactorOn): AccountState {
  return state.factor.status === 'on' ? { ...state, factor: change(state.factor) } : state;
}

export function isLocked(state: AccountState, now: Date): boolean {
  return state.lockout.status === 'locked' && now.getTime() < Date.parse(state.lockout.until);
}

/** Failed attempts counted toward the limit (none under a lock, or after one ran out). */
export const failedAttempts = (state: AccountState): number => (state.lockout.status === 'counting' ? state.lockout.failedAttempts : 0);

/** The count back to zero after a proof of the factor (or its removal); a lock in place still runs out. */
export const countReset = (lockout: Lockout): Lockout => (lockout.status === 'locked' ? lockout : NOT_LOCKED);

export function activeTrustedDevices(state: AccountState, now: Date): TrustedDevice[] {
  return state.trustedDevices.filter((device) => now.getTime() < Date.parse(device.expiresAt));
}

export function plusMinutes(now: Date, minutes: number): string {
  return new Date(now.getTime() + minutes * 60_000).toISOString();
}

/** Who took something away (a remembered device, a passkey), as its event records it: operators and admins are named. */
export function removal(command: { type: string; by: RevokedBy; operatorId?: string }): { by: RevokedBy; operatorId?: string } {
  if (command.by === 'customer') return { by: 'customer' };
  if (!command.operatorId) throw new Error(`${command.type} by an operator or admin needs operatorId`);
  return { by: command.by, operatorId: command.operatorId };
}

/** A slice's share of the decider: its commands' decisions and its events' folds, by type name. */
export type Deciding<Command extends { type: string }, Event extends { type: string }> = {
  [Type in Command['type']]: (command: Extract<Command, { type: Type }>, state: AccountState, context: DecisionContext) => Event[];
};
export type Folding<Event extends { type: string }> = {
  [Type in Event['type']]: (state: AccountState, event: Extract<Event, { type: Type }>) => AccountState;
};
