import { openApiDocument, type Operation } from './http/contract';
import { accountEventLogOperation, accountEventsOperation } from './use-cases/account-history/account-history';
import { allEventsOperation, anchorOperation } from './use-cases/audit-events/audit-events';
import { confirmTotpOperation } from './use-cases/confirm-totp/confirm-totp';
import { disableTwoFactorOperation } from './use-cases/disable-two-factor/disable-two-factor';
import { getStatusOperation } from './use-cases/get-status/get-status';
import { listTrustedDevicesOperation } from './use-cases/list-trusted-devices/list-trusted-devices';
import { passkeyAssertionOptionsOperation, verifyPasskeyOperation } from './use-cases/passkeys/passkey-login';
import { listPasskeysOperation, removePasskeyOperation } from './use-cases/passkeys/passkey-management';
import { passkeyRegistrationOptionsOperation, registerPasskeyOperation } from './use-cases/passkeys/passkey-registration';
import { recordPasswordResetOperation } from './use-cases/record-password-reset/record-password-reset';
import { regenerateRecoveryCodesOperation } from './use-cases/regenerate-recovery-codes/regenerate-recovery-codes';
import { resellerDisableOperation } from './use-cases/reseller-disable/reseller-disable';
import { resendCodeOperation } from './use-cases/resend-code/resend-code';
import { revokeTrustedDeviceOperation } from './use-cases/revoke-trusted-device/revoke-trusted-device';
import { setupTotpOperation } from './use-cases/setup-totp/setup-totp';
import { startChallengeOperation } from './use-cases/start-challenge/start-challenge';
import { getPolicyOperation, updatePolicyOperation } from './use-cases/tenant-policy/tenant-policy';
import { unlockAccountOperation } from './use-cases/unlock-account/unlock-account';
import { useRecoveryCodeOperation } from './use-cases/use-recovery-code/use-recovery-code';
import { verifyChallengeOperation } from './use-cases/verify-challenge/verify-challenge';

/** Every /v1 route's contract, in the order the document lists them (a test checks each has its route). */
export const OPERATIONS: readonly Operation[] = [
  startChallengeOperation,
  verifyChallengeOperation,
  useRecoveryCodeOperation,
  resendCodeOperation,
  recordPasswordResetOperation,
  setupTotpOperation,
  confirmTotpOperation,
  regenerateRecoveryCodesOperation,
  disableTwoFactorOperation,
  getStatusOperation,
  listTrustedDevicesOperation,
  revokeTrustedDeviceOperation,
  passkeyRegistrationOptionsOperation,
  registerPasskeyOperation,
  listPasskeysOperation,
  removePasskeyOperation,
  passkeyAssertionOptionsOperation,
  verifyPasskeyOperation,
  resellerDisableOperation,
  unlockAccountOperation,
  getPolicyOperation,
  updatePolicyOperation,
  accountEventLogOperation,
  accountEventsOperation,
  allEventsOperation,
  anchorOperation,
];

/** The document served at /docs-json and committed as openapi.json (`npm run openapi` writes it). */
export const apiDocument = (): Record<string, unknown> => openApiDocument(OPERATIONS, '1.0.0');
