import { randomBytes } from 'node:crypto';
import { generateKeyRingEntry, parseKeyRing, SecretBox, SecretBoxError, type EncryptedValue } from './index';

const SECRET = 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP';
const k1 = randomBytes(32);
const k2 = randomBytes(32);

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a throw');
}

/** Flip one bit in a base64 field. */
function flip(b64: string): string {
  const b = Buffer.from(b64, 'base64');
  b[0]! ^= 1;
  return b.toString('base64');
}

describe('SecretBox', () => {
  const box = new SecretBox({ k1 }, 'k1');

  it('round-trips with the same aad', () => {
    const value = box.encrypt(SECRET, 'acct-1');
    expect(value).toMatchObject({ v: 1, alg: 'A256GCM', kid: 'k1' });
    expect(Buffer.from(value.iv, 'base64')).toHaveLength(12);
    expect(Buffer.from(value.tag, 'base64')).toHaveLength(16);
    expect(box.decrypt(value, 'acct-1')).toBe(SECRET);
    expect(box.decrypt(box.encrypt('', 'x'), 'x')).toBe('');
  });

  it('uses a fresh IV: the same plaintext encrypts differently', () => {
    expect(box.encrypt(SECRET, 'a').ct).not.toBe(box.encrypt(SECRET, 'a').ct);
  });

  it('does not contain the plaintext', () => {
    const value = box.encrypt(SECRET, 'acct-1');
    const json = JSON.stringify(value);
    expect(json).not.toContain(SECRET);
    expect(json).not.toContain(Buffer.from(SECRET).toString('base64'));
    expect(json).not.toContain(Buffer.from(SECRET).toString('hex'));
  });

  it('fails with decrypt_failed for a wrong aad', () => {
    const e = errorOf(() => box.decrypt(box.encrypt(SECRET, 'acct-1'), 'acct-2'));
    expect(e).toBeInstanceOf(SecretBoxError);
    expect((e as SecretBoxError).code).toBe('decrypt_failed');
  });

  it.each(['ct', 'iv', 'tag'] as const)('detects a tampered %s', (field) => {
    const value = box.encrypt(SECRET, 'acct-1');
    const e = errorOf(() => box.decrypt({ ...value, [field]: flip(value[field]) }, 'acct-1'));
    expect((e as SecretBoxError).code).toBe('decrypt_failed');
  });

  it('refuses truncated tags and malformed values', () => {
    const value = box.encrypt(SECRET, 'acct-1');
    const shortTag = Buffer.from(value.tag, 'base64').subarray(0, 4).toString('base64');
    expect((errorOf(() => box.decrypt({ ...value, tag: shortTag }, 'acct-1')) as SecretBoxError).code).toBe('decrypt_failed');
    expect((errorOf(() => box.decrypt({ ...value, v: 2 } as unknown as EncryptedValue, 'acct-1')) as SecretBoxError).code).toBe('decrypt_failed');
    expect((errorOf(() => box.decrypt(null as unknown as EncryptedValue, 'acct-1')) as SecretBoxError).code).toBe('decrypt_failed');
  });

  it('fails with unknown_key for a key id not in the ring, even relabelled', () => {
    const value = box.encrypt(SECRET, 'acct-1');
    expect((errorOf(() => box.decrypt({ ...value, kid: 'k9' }, 'acct-1')) as SecretBoxError).code).toBe('unknown_key');
    // Relabelling to another existing key does not decrypt either (the kid is authenticated).
    const both = new SecretBox({ k1, k2 }, 'k1');
    expect((errorOf(() => both.decrypt({ ...value, kid: 'k2' }, 'acct-1')) as SecretBoxError).code).toBe('decrypt_failed');
  });

  it('rotates: a new ring with a new active key still decrypts old values', () => {
    const old = new SecretBox({ k1 }, 'k1');
    const value = old.encrypt(SECRET, 'acct-1');
    const rotated = new SecretBox({ k2, k1 }, 'k2');
    expect(rotated.activeKeyId).toBe('k2');
    expect(rotated.decrypt(value, 'acct-1')).toBe(SECRET);
    expect(rotated.isCurrent(value)).toBe(false);
    const fresh = rotated.encrypt(SECRET, 'acct-1');
    expect(fresh.kid).toBe('k2');
    expect(rotated.isCurrent(fresh)).toBe(true);
    expect(old.isCurrent(value)).toBe(true);
    expect((errorOf(() => old.decrypt(fresh, 'acct-1')) as SecretBoxError).code).toBe('unknown_key');
  });

  it('puts no key material or plaintext in error messages', () => {
    const value = box.encrypt(SECRET, 'acct-1');
    const errors = [
      errorOf(() => box.decrypt(value, 'other')),
      errorOf(() => box.decrypt({ ...value, kid: 'nope' }, 'acct-1')),
      errorOf(() => box.decrypt({ ...value, ct: flip(value.ct) }, 'acct-1')),
      errorOf(() => new SecretBox({ k1: k1.subarray(0, 31) }, 'k1')),
      errorOf(() => new SecretBox({ k1 }, 'k2')),
    ];
    for (const e of errors) {
      for (const secret of [SECRET, k1.toString('base64'), k1.toString('hex'), k1.subarray(0, 31).toString('base64')]) {
        expect(e.message).not.toContain(secret);
        expect(String(e.stack)).not.toContain(secret);
      }
    }
  });

  it('validates the ring in the constructor', () => {
    expect(() => new SecretBox({}, 'k1')).toThrow(/empty/);
    expect(() => new SecretBox({ k1 }, 'k2')).toThrow(/active key id/);
    expect(() => new SecretBox({ k1: randomBytes(16) }, 'k1')).toThrow(/exactly 32 bytes/);
    expect(() => new SecretBox({ k1: randomBytes(33) }, 'k1')).toThrow(/exactly 32 bytes/);
  });
});

describe('parseKeyRing', () => {
  it('parses entries; the first one is active', () => {
    const a = generateKeyRingEntry('k2');
    const b = generateKeyRingEntry('k1');
    const ring = parseKeyRing(` ${a} , ${b} `);
    expect(ring.activeKeyId).toBe('k2');
    expect(Object.keys(ring.keys).sort()).toEqual(['k1', 'k2']);
    expect(ring.keys.k1).toEqual(Buffer.from(b.split(':')[1]!, 'base64'));
    const box = new SecretBox(ring.keys, ring.activeKeyId);
    expect(box.decrypt(box.encrypt('x', 'y'), 'y')).toBe('x');
  });

  it('generates entries of a 32-byte base64 key', () => {
    const entry = generateKeyRingEntry('2025-01_a');
    expect(entry).toMatch(/^2025-01_a:[A-Za-z0-9+/]{43}=$/);
    expect(generateKeyRingEntry('k1')).not.toBe(generateKeyRingEntry('k1'));
    expect(() => generateKeyRingEntry('bad id')).toThrow();
  });

  it('rejects invalid specs with messages that do not contain key material', () => {
    const good = randomBytes(32).toString('base64');
    const short = randomBytes(16).toString('base64');
    const cases: Array<[string, RegExp]> = [
      ['', /empty/],
      [' , ', /empty/],
      [good, /not kid:base64key/],
      [`:${good}`, /key id/],
      [`bad id:${good}`, /key id/],
      [`${'x'.repeat(33)}:${good}`, /key id/],
      [`k1:${good},k1:${good}`, /duplicate/],
      [`k1:${short}`, /32 bytes/],
      [`k1:${good}!!`, /32 bytes/],
      [`k1:${good},k2:`, /32 bytes/],
    ];
    for (const [spec, message] of cases) {
      const e = errorOf(() => parseKeyRing(spec));
      expect(e.message).toMatch(message);
      expect(e.message).not.toContain(good);
      expect(e.message).not.toContain(short);
    }
  });
});
