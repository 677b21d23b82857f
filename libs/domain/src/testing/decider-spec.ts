/**
 * A tiny emmett-style given/when/then harness for the account decider:
 *
 *   given([...events]).when(command, { now, policy }).then([...events])
 *   given([...events]).when(command).thenThrows('code', { ...details })
 *   given([...events]).when(command).thenState((state) => ...)
 *
 * `given` events are folded with `evolveAccount` from `initialAccountState()`. Test-only
 * (excluded from the build by tsconfig.build.json's `**\/testing/**`).
 */
import {
  decideAccount,
  evolveAccount,
  initialAccountState,
  type AccountCommand,
  type AccountState,
  type DecisionContext,
} from '../account';
import { DomainError, type DomainErrorCode } from '../errors';
import type { AccountEvent, Contact, EncryptedSecret, SealedValue } from '../events';
import { DEFAULT_POLICY, type Policy } from '../policy';

/** A fixed, arbitrary instant every spec measures from. */
export const T0 = new Date('2025-03-01T09:00:00.000Z');

export const seconds = (n: number, from: Date = T0): Date => new Date(from.getTime() + n * 1000);
export const minutes = (n: number, from: Date = T0): Date => seconds(n * 60, from);
export const days = (n: number, from: Date = T0): Date => minutes(n * 24 * 60, from);
export const iso = (date: Date): string => date.toISOString();

export interface ContextInput {
  now?: Date;
  policy?: Partial<Policy>;
}

export function context(input: ContextInput = {}): DecisionContext {
  return { now: input.now ?? T0, policy: { ...DEFAULT_POLICY, ...input.policy } };
}

export function fold(events: readonly AccountEvent[], from: AccountState = initialAccountState()): AccountState {
  return events.reduce(evolveAccount, from);
}

export interface When {
  /** The decided events, or the thrown error re-thrown. */
  events(): AccountEvent[];
  /** Asserts the decision emitted exactly these events (deep equality, order included). */
  then(expected: AccountEvent[]): AccountEvent[];
  /** Asserts the decision threw a DomainError with this code (and, if given, these details). */
  thenThrows(code: DomainErrorCode, details?: Record<string, unknown>): DomainError;
  /** Asserts on the state after folding the decided events onto the given state. */
  thenState(expected: Partial<AccountState> | ((state: AccountState) => void)): AccountState;
}

export interface Given {
  state: AccountState;
  when(command: AccountCommand, ctx?: ContextInput): When;
}

export function given(events: readonly AccountEvent[] = []): Given {
  const state = fold(events);
  return {
    state,
    when(command, ctx) {
      const decide = () => decideAccount(command, state, context(ctx));
      return {
        events: decide,
        then(expected) {
          const actual = decide();
          expect(actual).toEqual(expected);
          return actual;
        },
        thenThrows(code, details) {
          let thrown: unknown;
          let emitted: AccountEvent[] | undefined;
          try {
            emitted = decide();
          } catch (error) {
            thrown = error;
          }
          if (thrown === undefined) {
            throw new Error(`Expected DomainError "${code}" but the decision emitted ${JSON.stringify(emitted)}`);
          }
          expect(thrown).toBeInstanceOf(DomainError);
          const error = thrown as DomainError;
          expect(error.code).toBe(code);
          if (details) expect(error.details).toEqual(expect.objectContaining(details));
          return error;
        },
        thenState(expected) {
          const after = fold(decide(), state);
          if (typeof expected === 'function') expected(after);
          else expect(after).toEqual(expect.objectContaining(expected));
          return after;
        },
      };
    },
  };
}

// ---------------------------------------------------------------- fixtures

export const secret = (kid = 'k1', tag = 'a'): EncryptedSecret => ({ kid, iv: `iv-${tag}`, ct: `ct-${tag}` });
export const sealed = (tag: string): SealedValue => ({ alg: 'test-seal', box: tag });
export const contact = (address = 'ann@example.com'): Contact => ({
  recipient: sealed(`to:${address}`),
  maskedRecipient: `${address[0]}***@${address.split('@')[1]}`,
});
/** Ten distinct recovery-code hashes, prefixed so two sets never overlap. */
export const recoveryHashes = (prefix = 'rc'): string[] =>
  Array.from({ length: 10 }, (_, i) => `${prefix}-${i + 1}`);
export const preparedCode = (n: number) => ({ codeHash: `code-hash-${n}`, code: sealed(`code-${n}`) });

/** A TOTP step number near T0 (30 s steps). */
export const STEP = Math.floor(T0.getTime() / 30_000);

/** Events of an account that set up and confirmed TOTP at step STEP. */
export function totpEnabled(
  opts: { contact?: Contact; codes?: string[]; step?: number; secret?: EncryptedSecret } = {},
): AccountEvent[] {
  const started: AccountEvent = {
    type: 'TotpSetupStarted',
    data: opts.contact ? { secret: opts.secret ?? secret(), contact: opts.contact } : { secret: opts.secret ?? secret() },
  };
  return [
    started,
    {
      type: 'TwoFactorEnabled',
      data: { method: 'totp', recoveryCodeHashes: opts.codes ?? recoveryHashes(), confirmedStep: opts.step ?? STEP },
    },
  ];
}

/** A TOTP challenge started at `at` (expires after the default code TTL). */
export function totpChallenge(challengeId = 'ch-1', at: Date = T0, ttlMinutes = DEFAULT_POLICY.codeTtlMinutes): AccountEvent {
  return { type: 'ChallengeStarted', data: { challengeId, method: 'totp', expiresAt: iso(minutes(ttlMinutes, at)) } };
}

/** An email challenge and its first code, issued at `at` to `to`. */
export function emailChallenge(
  challengeId = 'ch-1',
  at: Date = T0,
  opts: { to?: Contact; ttlMinutes?: number; codeNumber?: number } = {},
): AccountEvent[] {
  const ttl = opts.ttlMinutes ?? DEFAULT_POLICY.codeTtlMinutes;
  return [
    { type: 'ChallengeStarted', data: { challengeId, method: 'email', expiresAt: iso(minutes(ttl, at)) } },
    codeIssuedEvent(challengeId, at, opts.codeNumber ?? 1, 1, opts.to, ttl),
  ];
}

export function codeIssuedEvent(
  challengeId: string,
  at: Date,
  codeNumber: number,
  issue: number,
  to: Contact = contact(),
  ttlMinutes = DEFAULT_POLICY.codeTtlMinutes,
): AccountEvent {
  const prepared = preparedCode(codeNumber);
  return {
    type: 'CodeIssued',
    data: {
      challengeId,
      codeHash: prepared.codeHash,
      issuedAt: iso(at),
      expiresAt: iso(minutes(ttlMinutes, at)),
      code: prepared.code,
      recipient: to.recipient,
      maskedRecipient: to.maskedRecipient,
      ttlMinutes,
      issue,
    },
  };
}

export function attemptFailed(
  challengeId: string,
  failedAttempts: number,
  opts: { method?: 'totp' | 'email' | 'recovery_code'; reason?: 'wrong_code' | 'code_reused'; max?: number } = {},
): AccountEvent {
  const max = opts.max ?? DEFAULT_POLICY.maxFailedAttempts;
  return {
    type: 'AttemptFailed',
    data: {
      challengeId,
      method: opts.method ?? 'email',
      reason: opts.reason ?? 'wrong_code',
      failedAttempts,
      attemptsLeft: Math.max(0, max - failedAttempts),
    },
  };
}

export function lockedAt(at: Date, lockoutMinutes = DEFAULT_POLICY.lockoutMinutes, failedAttempts = 3): AccountEvent {
  return { type: 'AccountLocked', data: { lockedUntil: iso(minutes(lockoutMinutes, at)), failedAttempts } };
}

/** A device remembered at `at`; its id is `dev-<tokenHash>`. */
export function deviceTrusted(at: Date, tokenHash = 'device-hash-1', trustedDays = DEFAULT_POLICY.trustedDeviceDays, label?: string): AccountEvent {
  const data = { deviceId: `dev-${tokenHash}`, tokenHash, expiresAt: iso(days(trustedDays, at)) };
  return { type: 'DeviceTrusted', data: label === undefined ? data : { ...data, label } };
}
