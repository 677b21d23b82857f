import { generateNumericCode, type KeyedHasher, type Seal } from '@twostep/crypto';
import type { PreparedCode } from '@twostep/domain';
import { accountScope, type AccountRef } from './account-runner';

export const hashEmailCode = (hasher: KeyedHasher, account: AccountRef, challengeId: string, code: string): string =>
  hasher.hash('email-code', `${accountScope(account)}/${challengeId}`, code);

/** A fresh 6-digit code: hashed for the event, sealed so only the mailer can read it. */
export function prepareEmailCode(hasher: KeyedHasher, sealer: Seal, account: AccountRef, challengeId: string): PreparedCode {
  const code = generateNumericCode(6);
  return { codeHash: hashEmailCode(hasher, account, challengeId, code), code: sealer.seal(code) };
}
