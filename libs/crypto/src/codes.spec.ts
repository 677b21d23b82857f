import { generateNumericCode, generateRecoveryCodes, normalizeRecoveryCode, randomId, randomToken, timeOrderedUuid } from './index';

describe('random codes', () => {
  it('generates 10 unique recovery codes in the xxxxx-xxxxx format without ambiguous characters', () => {
    const codes = generateRecoveryCodes();
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    for (const code of codes) expect(code).toMatch(/^[abcdefghjkmnpqrstuvwxyz23456789]{5}-[abcdefghjkmnpqrstuvwxyz23456789]{5}$/);
    expect(generateRecoveryCodes(3)).toHaveLength(3);
    expect(() => generateRecoveryCodes(0)).toThrow(RangeError);
  });

  it('normalises recovery codes typed in any case, with spaces or dashes', () => {
    expect(normalizeRecoveryCode('ABCDE-FGHJK')).toBe('abcdefghjk');
    expect(normalizeRecoveryCode(' abcde fghjk\n')).toBe('abcdefghjk');
    expect(normalizeRecoveryCode('abcde–fghjk')).toBe('abcdefghjk'); // en dash from copy-paste
    const code = generateRecoveryCodes(1)[0]!;
    expect(normalizeRecoveryCode(code.toUpperCase().replace('-', ' '))).toBe(normalizeRecoveryCode(code));
  });

  it('generates zero-padded numeric codes', () => {
    for (let i = 0; i < 200; i++) expect(generateNumericCode()).toMatch(/^\d{6}$/);
    expect(generateNumericCode(8)).toMatch(/^\d{8}$/);
    expect(generateNumericCode(1)).toMatch(/^\d$/);
    // Leading zeros do occur (about 10% of 6-digit codes): the code is padded, not a shorter number.
    const codes = Array.from({ length: 500 }, () => generateNumericCode());
    expect(codes.some((c) => c.startsWith('0'))).toBe(true);
    expect(() => generateNumericCode(0)).toThrow(RangeError);
  });

  it('generates base64url tokens and UUIDs', () => {
    expect(randomToken()).toMatch(/^[A-Za-z0-9_-]{43}$/); // 32 bytes
    expect(Buffer.from(randomToken(16), 'base64url')).toHaveLength(16);
    expect(randomToken()).not.toBe(randomToken());
    expect(randomId()).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

describe('timeOrderedUuid', () => {
  it('is a UUID version 7 (RFC 9562) whose first 48 bits are the milliseconds, so later ids sort after earlier ones', () => {
    const at = Date.UTC(2026, 11, 2, 13, 0, 0, 123);
    const id = timeOrderedUuid(at);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(parseInt(id.replace(/-/g, '').slice(0, 12), 16)).toBe(at);
    expect(timeOrderedUuid(at + 1) > timeOrderedUuid(at)).toBe(true);
    expect(new Set(Array.from({ length: 1000 }, () => timeOrderedUuid(at))).size).toBe(1000);
  });
});
