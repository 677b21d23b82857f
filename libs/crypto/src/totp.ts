import { randomBytes, timingSafeEqual } from 'node:crypto';
import { HashAlgorithms, KeyEncodings, hotpOptions, hotpToken, type HOTPOptions } from '@otplib/core';
import { createDigest } from '@otplib/plugin-crypto';
import QRCode from 'qrcode';

/** RFC 6238 with the parameters every authenticator app supports: SHA-1, 6 digits, 30 s. */
export const TOTP_STEP_SECONDS = 30;
const TOTP_DIGITS = 6;
const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
/** Shortest secret we accept (10 bytes, RFC 4226's minimum); anything shorter is not one of ours. */
const MIN_SECRET_CHARS = 16;

/**
 * otplib's RFC 4226 core with its options built once, on a key already decoded (hex). Not
 * `authenticator.generate`: that clones its options on every call and decodes base32 through a
 * deprecated Buffer path, about 5x the cost of the HMAC itself.
 */
const HOTP: Readonly<HOTPOptions> = hotpOptions({
  algorithm: HashAlgorithms.SHA1,
  digits: TOTP_DIGITS,
  encoding: KeyEncodings.HEX,
  createDigest,
  createHmacKey: (_algorithm, hexKey) => hexKey,
});
const HOTP_8 = hotpOptions({ ...HOTP, digits: 8 });

/** The HOTP code of `key` for `counter` (6 digits, or 8 for the RFC vectors). Exported for the spec only. */
export function hotp(key: Buffer, counter: number, digits: 6 | 8 = TOTP_DIGITS): string {
  return hotpToken(key.toString('hex'), counter, digits === 8 ? HOTP_8 : HOTP);
}

/** RFC 4648 base32 without padding (what authenticator apps expect in URIs and manual entry). */
export function base32Encode(bytes: Buffer): string {
  let out = '';
  let bits = 0;
  let acc = 0;
  for (const byte of bytes) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32_ALPHABET[(acc >>> (bits - 5)) & 31];
      bits -= 5;
    }
    acc &= (1 << bits) - 1; // keep only the unread bits so acc never overflows
  }
  if (bits > 0) out += BASE32_ALPHABET[(acc << (5 - bits)) & 31];
  return out;
}

/** RFC 4648 base32 (no padding) to bytes; the caller has checked the alphabet. */
export function base32Decode(text: string): Buffer {
  const bytes = Buffer.alloc(Math.floor((text.length * 5) / 8));
  let bits = 0;
  let acc = 0;
  let index = 0;
  for (let i = 0; i < text.length; i++) {
    acc = ((acc << 5) | BASE32_ALPHABET.indexOf(text[i]!)) & 0xfff; // 12 bits are enough: at most 7 unread plus 5 new
    bits += 5;
    if (bits >= 8) {
      bytes[index++] = (acc >>> (bits - 8)) & 0xff;
      bits -= 8;
    }
  }
  return bytes;
}

/** The key bytes of a secret, or null: garbage or '' must never become a (guessable) empty key. */
function checkedKey(secret: string): Buffer | null {
  if (typeof secret !== 'string') return null;
  const s = secret.replace(/[\s=]/g, '').toUpperCase();
  return s.length >= MIN_SECRET_CHARS && /^[A-Z2-7]+$/.test(s) ? base32Decode(s) : null;
}

export function generateTotpSecret(): string {
  return base32Encode(randomBytes(20)); // 160 bits, RFC 4226's recommended key size
}

export function totpUri(opts: { secret: string; accountName: string; issuer: string }): string {
  const e = encodeURIComponent; // not URLSearchParams: apps show its '+' for spaces literally
  const label = `${e(opts.issuer)}:${e(opts.accountName)}`;
  const params = [
    `secret=${e(opts.secret)}`,
    `issuer=${e(opts.issuer)}`,
    'algorithm=SHA1',
    `digits=${TOTP_DIGITS}`,
    `period=${TOTP_STEP_SECONDS}`,
  ];
  return `otpauth://totp/${label}?${params.join('&')}`;
}

export function groupManualKey(secret: string): string {
  return (secret.replace(/\s+/g, '').match(/.{1,4}/g) ?? []).join(' ');
}

export function qrCodeDataUrl(text: string): Promise<string> {
  return QRCode.toDataURL(text, { type: 'image/png', errorCorrectionLevel: 'M', margin: 2 });
}

export function totpStepAt(timeMs: number): number {
  return Math.floor(timeMs / 1000 / TOTP_STEP_SECONDS);
}

export function totpCodeAt(secret: string, timeMs: number): string {
  const key = checkedKey(secret);
  if (key === null) throw new Error('invalid TOTP secret (expected base32, at least 16 characters)');
  return hotp(key, totpStepAt(timeMs));
}

/** Returns the matched step so callers can refuse a step that was already used (replay). */
export function matchTotpStep(secret: string, code: string, nowMs: number, window = 1): number | null {
  const key = checkedKey(secret);
  if (key === null || typeof code !== 'string' || !/^\d{6}$/.test(code) || !Number.isFinite(nowMs)) return null;
  if (!Number.isInteger(window) || window < 0 || window > 10) return null;
  const given = Buffer.from(code, 'utf8');
  const now = totpStepAt(nowMs);
  let matched: number | null = null;
  // Check every step in the window (no early exit) so timing does not tell which one matched.
  for (let step = now - window; step <= now + window; step++) {
    try {
      if (timingSafeEqual(Buffer.from(hotp(key, step), 'utf8'), given) && matched === null) matched = step;
    } catch {
      return null;
    }
  }
  return matched;
}
