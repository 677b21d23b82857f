/** The harness itself must be able to fail, or every spec built on it proves nothing. */
import { emailChallenge, given, preparedCode, totpEnabled } from './decider-spec';

const verify = (codeNumber: number) =>
  ({ type: 'VerifyChallenge', challengeId: 'ch-1', proof: { kind: 'email', codeHash: preparedCode(codeNumber).codeHash } }) as const;

describe('given/when/then harness', () => {
  it('then() fails when the emitted events differ', () => {
    expect(() => given(emailChallenge('ch-1')).when(verify(1)).then([])).toThrow();
  });

  it('thenThrows() fails when nothing is thrown, and when the code or details differ', () => {
    expect(() => given(emailChallenge('ch-1')).when(verify(1)).thenThrows('invalid_code')).toThrow(/emitted/);
    expect(() => given([]).when({ type: 'DisableTwoFactor', passwordConfirmed: true }).thenThrows('not_locked')).toThrow();
    expect(() =>
      given([]).when({ type: 'DisableTwoFactor', passwordConfirmed: true }).thenThrows('not_enabled', { field: 'x' }),
    ).toThrow();
  });

  it('thenThrows() fails on an error that is not a DomainError', () => {
    expect(() =>
      given([{ type: 'TotpSetupStarted', data: { secret: { kid: 'k' } } }])
        .when({ type: 'ConfirmTotpSetup', matchedStep: 1, recoveryCodeHashes: [] })
        .thenThrows('invalid_code'),
    ).toThrow();
  });

  it('thenState() folds the decided events onto the given state', () => {
    given(totpEnabled())
      .when({ type: 'DisableTwoFactor', passwordConfirmed: true })
      .thenState({ factor: { status: 'off' }, pendingTotp: null });
    expect(() =>
      given(totpEnabled()).when({ type: 'DisableTwoFactor', passwordConfirmed: true }).thenState((state) => expect(state.factor.status).toBe('on')),
    ).toThrow();
  });
});
