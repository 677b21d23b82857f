import { createHmac, randomBytes } from 'node:crypto';
import { constantTimeEqual, KeyedHasher } from './index';

describe('KeyedHasher', () => {
  const key = randomBytes(32);
  const hasher = new KeyedHasher(key);

  it('is a deterministic hex HMAC-SHA256 over purpose, scope and value', () => {
    const h = hasher.hash('email-code', 'acct-1', '123456');
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    expect(hasher.hash('email-code', 'acct-1', '123456')).toBe(h);
    expect(h).toBe(createHmac('sha256', key).update('email-code\u0000acct-1\u0000123456').digest('hex'));
  });

  it('separates purposes, scopes, values and keys', () => {
    const h = hasher.hash('email-code', 'acct-1', '123456');
    expect(hasher.hash('recovery-code', 'acct-1', '123456')).not.toBe(h);
    expect(hasher.hash('email-code', 'acct-2', '123456')).not.toBe(h);
    expect(hasher.hash('email-code', 'acct-1', '123457')).not.toBe(h);
    expect(new KeyedHasher(randomBytes(32)).hash('email-code', 'acct-1', '123456')).not.toBe(h);
  });

  it('rejects NUL in purpose or scope (it is the separator)', () => {
    expect(() => hasher.hash('a\0b', 'c', 'd')).toThrow();
    expect(() => hasher.hash('a', 'b\0c', 'd')).toThrow();
  });

  it('rejects keys shorter than 32 bytes without echoing them', () => {
    const short = Buffer.from('0123456789abcdef0123456789abcde'); // 31 bytes
    expect(() => new KeyedHasher(short)).toThrow(/at least 32 bytes/);
    try {
      new KeyedHasher(short);
    } catch (e) {
      expect((e as Error).message).not.toContain(short.toString());
      expect((e as Error).message).not.toContain(short.toString('base64'));
    }
    expect(() => new KeyedHasher(randomBytes(64))).not.toThrow();
  });
});

describe('constantTimeEqual', () => {
  it('compares strings', () => {
    expect(constantTimeEqual('abc', 'abc')).toBe(true);
    expect(constantTimeEqual('abc', 'abd')).toBe(false);
    expect(constantTimeEqual('abc', 'abcd')).toBe(false);
    expect(constantTimeEqual('', '')).toBe(true);
    expect(constantTimeEqual('é', 'e')).toBe(false);
  });
});
