import { z } from 'zod/v4';
import { randomToken, type KeyedHasher } from '@twostep/crypto';
import type { AccountEvent, PreparedDevice } from '@twostep/domain';
import { deviceLabel } from '../http/validation';
import { accountScope, type AccountRef } from './account-runner';

/**
 * "Remember my device" on any answer to a challenge (a code or a passkey): the body fields, the
 * token made for the device (shown once; only keyed hashes go into the event), and the answer's
 * device part.
 */
export const rememberFields = { rememberDevice: z.boolean().optional(), deviceLabel: deviceLabel.optional() };

/** The refinement every verify body with `rememberFields` takes: a label names a device being remembered. */
export const labelNeedsRemember: [(body: { rememberDevice?: boolean; deviceLabel?: string }) => boolean, { path: string[]; message: string }] = [
  (body) => body.deviceLabel === undefined || body.rememberDevice === true,
  { path: ['deviceLabel'], message: 'names the device to remember: send it with rememberDevice: true' },
];

export interface DeviceToRemember {
  /** The token for the device, shown once in the answer. */
  token: string;
  prepared: PreparedDevice;
}

export function deviceToRemember(hasher: KeyedHasher, account: AccountRef, remember: boolean, label?: string): DeviceToRemember | undefined {
  if (!remember) return undefined;
  const scope = accountScope(account);
  const token = `dt_${randomToken(32)}`;
  return {
    token,
    prepared: {
      deviceId: hasher.hash('device-id', scope, token).slice(0, 12),
      tokenHash: hasher.hash('device-token', scope, token),
      ...(label !== undefined ? { label } : {}),
    },
  };
}

/** The answer's device part when the decision remembered it. */
export function rememberedAnswer(events: readonly AccountEvent[], device: DeviceToRemember | undefined) {
  const trusted = events.find((event) => event.type === 'DeviceTrusted');
  return trusted && device ? { deviceToken: device.token, deviceId: trusted.data.deviceId, deviceTrustedUntil: trusted.data.expiresAt } : {};
}
