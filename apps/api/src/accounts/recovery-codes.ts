import { generateRecoveryCodes, normalizeRecoveryCode, type KeyedHasher } from '@twostep/crypto';
import { accountScope, type AccountRef } from './account-runner';

export const hashRecoveryCode = (hasher: KeyedHasher, account: AccountRef, code: string): string =>
  hasher.hash('recovery-code', accountScope(account), normalizeRecoveryCode(code));

/** Ten fresh codes for the customer's eyes only, and their keyed hashes for the events. */
export function newRecoveryCodes(hasher: KeyedHasher, account: AccountRef): { codes: string[]; hashes: string[] } {
  const codes = generateRecoveryCodes(10);
  return { codes, hashes: codes.map((code) => hashRecoveryCode(hasher, account, code)) };
}
