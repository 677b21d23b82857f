import jsQR from 'jsqr';
import { PNG } from 'pngjs';
import {
  generateTotpSecret,
  groupManualKey,
  matchTotpStep,
  qrCodeDataUrl,
  totpCodeAt,
  totpStepAt,
  totpUri,
  TOTP_STEP_SECONDS,
} from './index';
import { HashAlgorithms } from '@otplib/core';
import { authenticator } from 'otplib';
import { base32Decode, base32Encode, generateTotpSecret as newSecret, hotp } from './totp';

/** otplib, an independent implementation, as the reference our node:crypto HOTP must agree with. */
const otplib = (digits = 6) => authenticator.clone({ algorithm: HashAlgorithms.SHA1, digits, step: 30, window: 0 });

// RFC 6238 Appendix B, SHA-1 rows: seed '12345678901234567890', 8 digits.
const RFC_SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
const RFC_VECTORS: Array<[number, string]> = [
  [59, '94287082'],
  [1111111109, '07081804'],
  [1111111111, '14050471'],
  [1234567890, '89005924'],
  [2000000000, '69279037'],
  [20000000000, '65353130'],
];

describe('TOTP', () => {
  it('encodes the RFC seed to the expected base32', () => {
    expect(base32Encode(Buffer.from('12345678901234567890', 'ascii'))).toBe(RFC_SECRET);
    expect(base32Encode(Buffer.from('f'))).toBe('MY'); // RFC 4648 §10, without padding
    expect(base32Encode(Buffer.from('foobar'))).toBe('MZXW6YTBOI');
  });

  it.each(RFC_VECTORS)('matches RFC 6238 at %i s (8 digits)', (seconds, code) => {
    expect(hotp(base32Decode(RFC_SECRET), Math.floor(seconds / 30), 8)).toBe(code);
    expect(otplib(8).clone({ epoch: seconds * 1000 }).generate(RFC_SECRET)).toBe(code);
  });

  it('decodes base32 back to the bytes it encoded', () => {
    for (let length = 0; length < 40; length++) {
      const bytes = Buffer.from(Array.from({ length }, (_, i) => (i * 37 + length) & 0xff));
      expect(base32Decode(base32Encode(bytes))).toEqual(bytes);
    }
  });

  it('agrees with otplib on 500 random secrets and times', () => {
    for (let i = 0; i < 500; i++) {
      const secret = newSecret();
      const at = Math.floor(Math.random() * 4_000_000_000_000);
      expect(totpCodeAt(secret, at)).toBe(otplib().clone({ epoch: at }).generate(secret));
    }
  });

  it.each(RFC_VECTORS)('totpCodeAt gives the last 6 digits of the RFC vector at %i s', (seconds, code) => {
    expect(totpCodeAt(RFC_SECRET, seconds * 1000)).toBe(code.slice(-6));
  });

  it('computes the step', () => {
    expect(TOTP_STEP_SECONDS).toBe(30);
    expect(totpStepAt(0)).toBe(0);
    expect(totpStepAt(29_999)).toBe(0);
    expect(totpStepAt(30_000)).toBe(1);
    expect(totpStepAt(59_000)).toBe(1);
  });

  it('generates 20-byte base32 secrets without padding', () => {
    const a = generateTotpSecret();
    expect(a).toMatch(/^[A-Z2-7]{32}$/);
    expect(generateTotpSecret()).not.toBe(a);
  });

  it('refuses to compute codes for an empty or non-base32 secret', () => {
    expect(() => totpCodeAt('', 0)).toThrow();
    expect(() => totpCodeAt('not base32 at all!!', 0)).toThrow();
  });

  describe('matchTotpStep', () => {
    const secret = generateTotpSecret();
    const now = 1_700_000_012_345;
    const step = totpStepAt(now);
    const codeAt = (s: number) => totpCodeAt(secret, s * TOTP_STEP_SECONDS * 1000);

    it('accepts the previous, current and next step and returns the step number', () => {
      for (const delta of [-1, 0, 1]) {
        const code = codeAt(step + delta);
        // A code can coincide with a neighbour's by chance (1e-6); then the earliest step is reported.
        const expected = [-1, 0, 1].find((d) => codeAt(step + d) === code)!;
        expect(matchTotpStep(secret, code, now)).toBe(step + expected);
      }
    });

    it('refuses codes two steps away', () => {
      for (const delta of [-2, 2]) {
        const code = codeAt(step + delta);
        if ([-1, 0, 1].some((d) => codeAt(step + d) === code)) continue; // chance collision
        expect(matchTotpStep(secret, code, now)).toBeNull();
      }
    });

    it('honours a wider or zero window', () => {
      expect(matchTotpStep(RFC_SECRET, '287082', 59_000 + 60_000, 2)).toBe(1);
      expect(matchTotpStep(RFC_SECRET, '287082', 59_000 + 30_000, 0)).toBeNull();
      expect(matchTotpStep(RFC_SECRET, '287082', 59_000, 0)).toBe(1);
    });

    it('returns null on garbage instead of throwing', () => {
      for (const bad of ['abc', '', '1234567', '12345', '12 345', '１２３４５６']) {
        expect(matchTotpStep(secret, bad, now)).toBeNull();
      }
      expect(matchTotpStep(secret, undefined as unknown as string, now)).toBeNull();
      expect(matchTotpStep('', codeAt(step), now)).toBeNull();
      // A too-short secret is refused even with its own correct code.
      expect(matchTotpStep('GEZDGNBV', otplib().clone({ epoch: now }).generate('GEZDGNBV'), now)).toBeNull();
      expect(matchTotpStep('!!!!', '123456', now)).toBeNull();
      expect(matchTotpStep(secret, codeAt(step), Number.NaN)).toBeNull();
    });
  });

  it('builds an otpauth URI that parses with the right parameters', () => {
    const uri = totpUri({ secret: RFC_SECRET, accountName: 'jane doe+1@example.com', issuer: 'Shop & Co' });
    const url = new URL(uri);
    expect(url.protocol).toBe('otpauth:');
    expect(uri.startsWith('otpauth://totp/Shop%20%26%20Co:jane%20doe%2B1%40example.com?')).toBe(true);
    expect(url.searchParams.get('secret')).toBe(RFC_SECRET);
    expect(url.searchParams.get('issuer')).toBe('Shop & Co');
    expect(url.searchParams.get('algorithm')).toBe('SHA1');
    expect(url.searchParams.get('digits')).toBe('6');
    expect(url.searchParams.get('period')).toBe('30');
  });

  it('groups the manual key by 4', () => {
    expect(groupManualKey('ABCDEFGHIJ')).toBe('ABCD EFGH IJ');
    expect(groupManualKey(RFC_SECRET)).toBe('GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ');
    expect(groupManualKey('')).toBe('');
  });

  it('renders a PNG data URL whose QR code holds the text', async () => {
    const text = totpUri({ secret: RFC_SECRET, accountName: 'jane@example.com', issuer: 'Shop' });
    const dataUrl = await qrCodeDataUrl(text);
    expect(dataUrl.startsWith('data:image/png;base64,')).toBe(true);
    const png = PNG.sync.read(Buffer.from(dataUrl.slice('data:image/png;base64,'.length), 'base64'));
    expect(jsQR(new Uint8ClampedArray(png.data), png.width, png.height)?.data).toBe(text);
  });
});
