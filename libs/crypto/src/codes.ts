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

/**
 * A UUID version 7 (RFC 9562): 48 bits of Unix milliseconds, then random bits. Ids made one after
 * another sort near each other, so an index on them (the event store's event_id) grows at its
 * right edge instead of touching a random page per insert (about 20% of an append's cost).
 */
export function timeOrderedUuid(nowMs: number = Date.now()): string {
  const random = randomUUID(); // xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx: keep the variant and the 74 random bits after the version
  const ms = Math.trunc(nowMs).toString(16).padStart(12, '0');
  return `${ms.slice(0, 8)}-${ms.slice(8, 12)}-7${random.slice(15)}`;
}
