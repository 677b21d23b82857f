import { DomainError, type AccountCommand, type AccountEvent, type AccountState } from '@twostep/domain';
import { Counter, type Registry } from 'prom-client';

/**
 * Prometheus counters about 2FA itself, from what this process decided: the events each command
 * appended, and the refusals (expired, locked) that append nothing. Registered with the api's
 * registry (`/metrics`).
 */
export class TwoFactorMetrics {
  readonly challenges: Counter<'method' | 'outcome'>;
  readonly verifications: Counter<'method' | 'outcome'>;
  readonly recoveryCodesUsed: Counter;
  readonly locks: Counter;
  readonly unlocks: Counter;
  readonly policyChanges: Counter;

  constructor(registry: Registry) {
    const registers = [registry];
    this.challenges = new Counter({
      name: 'twostep_challenges_started_total',
      help: 'Second steps asked for, by method (totp, email, none) and outcome (required, trusted_device, not_enrolled)',
      labelNames: ['method', 'outcome'],
      registers,
    });
    this.verifications = new Counter({
      name: 'twostep_verifications_total',
      help: 'Answers to a challenge, by method (totp, email, webauthn, recovery) and outcome (passed, invalid, replayed, expired, locked)',
      labelNames: ['method', 'outcome'],
      registers,
    });
    this.recoveryCodesUsed = new Counter({ name: 'twostep_recovery_codes_used_total', help: 'Recovery codes spent on a login', registers });
    this.locks = new Counter({ name: 'twostep_account_locks_total', help: 'Accounts locked after too many failed attempts', registers });
    this.unlocks = new Counter({ name: 'twostep_account_unlocks_total', help: 'Locks lifted early by an operator', registers });
    this.policyChanges = new Counter({ name: 'twostep_policy_changes_total', help: 'Tenant policy updates', registers });
  }

  /** What a command appended. */
  decided(events: readonly AccountEvent[]): void {
    for (const event of events) {
      switch (event.type) {
        case 'ChallengeStarted':
          this.challenges.inc({ method: event.data.method, outcome: 'required' });
          break;
        case 'ChallengePassed':
          this.verifications.inc({ method: event.data.method, outcome: 'passed' });
          break;
        case 'RecoveryCodeUsed':
          this.verifications.inc({ method: 'recovery', outcome: 'passed' });
          this.recoveryCodesUsed.inc();
          break;
        case 'AttemptFailed':
          this.verifications.inc({ method: event.data.method, outcome: event.data.reason === 'code_reused' ? 'replayed' : 'invalid' });
          break;
        case 'AccountLocked':
          this.locks.inc();
          break;
        case 'AccountUnlocked':
          this.unlocks.inc();
          break;
        default:
      }
    }
  }

  /** A login that needed no second step (nothing is appended for it). */
  skipped(reason: 'not_enrolled' | 'trusted_device'): void {
    this.challenges.inc({ method: 'none', outcome: reason });
  }

  /** A refusal that appended nothing: an answer too late, or one while locked. */
  refused(command: AccountCommand, state: AccountState | null, error: unknown): void {
    if (!(error instanceof DomainError)) return;
    const method = command.type === 'UseRecoveryCode' ? 'recovery' : command.type === 'VerifyPasskey' ? 'webauthn' : (state?.challenge?.method ?? 'unknown');
    const answering = command.type === 'VerifyChallenge' || command.type === 'UseRecoveryCode' || command.type === 'VerifyPasskey';
    if (answering && (error.code === 'code_expired' || error.code === 'challenge_expired')) this.verifications.inc({ method, outcome: 'expired' });
    else if (answering && error.code === 'account_locked') this.verifications.inc({ method, outcome: 'locked' });
    else if (command.type === 'StartChallenge' && error.code === 'account_locked') this.challenges.inc({ method: 'none', outcome: 'locked' });
  }
}
