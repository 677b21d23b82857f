// Public API of @twostep/crypto. totp.ts is listed by name: its HOTP and base32 helpers are for the spec only.
export {
  TOTP_STEP_SECONDS,
  generateTotpSecret,
  totpUri,
  groupManualKey,
  qrCodeDataUrl,
  totpCodeAt,
  totpStepAt,
  matchTotpStep,
} from './totp';
export * from './codes';
export * from './hashing';
export * from './secret-box';
export * from './sealing';
export * from './mask';
