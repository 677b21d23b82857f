import { randomBytes, randomInt, randomUUID } from 'node:crypto';

/** No 0/o, 1/l/i: recovery codes get read off paper and typed by hand. */
const RECOVERY_ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';
const RECOVERY_GROUP = 5; // 'xxxxx-xxxxx': 10 chars * log2(31) ≈ 49.5 bits

function randomString(length: number, alphabet: string): string {
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[randomInt(alphabet.length)]; // randomInt is unbiased
  return out;
}

function assertInt(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) throw new RangeError(`${name} must be an integer in [${min}, ${max}]`);
}

export function generateRecoveryCodes(count = 10): string[] {
  assertInt('count', count, 1, 100);
  const codes = new Set<string>();
  while (codes.size < count) {
    codes.add(`${randomString(RECOVERY_GROUP, RECOVERY_ALPHABET)}-${randomString(RECOVERY_GROUP, RECOVERY_ALPHABET)}`);
  }
  return [...codes];
}

/** Hash the normalised form so case, spaces and (typographic) dashes typed by users do not matter. */
export function normalizeRecoveryCode(input: string): string {
  return input.toLowerCase().replace(/[\s\-\u2010-\u2015\u2212]/g, '');
}

export function generateNumericCode(digits = 6): string {
  assertInt('digits', digits, 1, 14); // randomInt's range is limited to 2^48
  return randomInt(10 ** digits).toString().padStart(digits, '0');
}

export function randomToken(bytes = 32): string {
  assertInt('bytes', bytes, 1, 1024);
  return randomBytes(bytes).toString('base64url');
}

export function randomId(): string {
  return randomUUID();
}
