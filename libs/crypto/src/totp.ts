import { randomBytes, timingSafeEqual } from 'node:crypto';
import { authenticator } from 'otplib';
import { HashAlgorithms } from '@otplib/core';
import QRCode from 'qrcode';

/** RFC 6238 with the parameters every authenticator app supports: SHA-1, 6 digits, 30 s. */
export const TOTP_STEP_SECONDS = 30;
const TOTP_DIGITS = 6;
const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
/** Shortest secret we accept (10 bytes, RFC 4226's minimum); anything shorter is not one of ours. */
const MIN_SECRET_CHARS = 16;

/**
 * The one otplib configuration used for every code (base32 keys). Exported for the spec only, so
 * the RFC vectors are checked through exactly this set-up; not re-exported by index.ts.
 */
export function otpGenerator(digits: number = TOTP_DIGITS): typeof authenticator {
  return authenticator.clone({ algorithm: HashAlgorithms.SHA1, digits, step: TOTP_STEP_SECONDS, window: 0 });
}
const generator = otpGenerator();

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

/** Normalised secret, or null: otplib quietly turns garbage or '' into a (guessable) empty key. */
function checkedSecret(secret: string): string | null {
  if (typeof secret !== 'string') return null;
  const s = secret.replace(/[\s=]/g, '').toUpperCase();
  return s.length >= MIN_SECRET_CHARS && /^[A-Z2-7]+$/.test(s) ? s : null;
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

function codeForStep(secret: string, step: number, gen = generator): string {
  return gen.clone({ epoch: step * TOTP_STEP_SECONDS * 1000 }).generate(secret);
}

export function totpCodeAt(secret: string, timeMs: number): string {
  const s = checkedSecret(secret);
  if (s === null) throw new Error('invalid TOTP secret (expected base32, at least 16 characters)');
  return codeForStep(s, totpStepAt(timeMs));
}

/** Returns the matched step so callers can refuse a step that was already used (replay). */
export function matchTotpStep(secret: string, code: string, nowMs: number, window = 1): number | null {
  const s = checkedSecret(secret);
  if (s === null || typeof code !== 'string' || !/^\d{6}$/.test(code) || !Number.isFinite(nowMs)) return null;
  if (!Number.isInteger(window) || window < 0 || window > 10) return null;
  const given = Buffer.from(code, 'utf8');
  const now = totpStepAt(nowMs);
  let matched: number | null = null;
  // Check every step in the window (no early exit) so timing does not tell which one matched.
  for (let step = now - window; step <= now + window; step++) {
    try {
      if (timingSafeEqual(Buffer.from(codeForStep(s, step), 'utf8'), given) && matched === null) matched = step;
    } catch {
      return null;
    }
  }
  return matched;
}
