import { DomainError } from '../errors';
import type { AccountEvent, EventOf, RevocationReason, RevokedBy } from '../events';
import type { Policy } from '../policy';
import { activeTrustedDevices, MAX_TRUSTED_DEVICES, removal, plusMinutes, type AccountState, type Deciding, type Folding, type PreparedDevice } from './state';

/**
 * Trusted ("remembered") devices: a passed challenge may remember the device for the tenant's
 * trustedDeviceDays; one can be revoked, and a password reset or turning 2FA off revokes all.
 */
export type TrustedDeviceCommand =
  | { type: 'RecordPasswordReset' }
  /** Forget one remembered device; operators and admins name themselves with `operatorId`. */
  | { type: 'RevokeTrustedDevice'; deviceId: string; by: RevokedBy; operatorId?: string };

export const trustedDeviceDecisions: Deciding<TrustedDeviceCommand, AccountEvent> = {
  RecordPasswordReset: (_command, state, { now }) => [{ type: 'PasswordResetRecorded', data: {} }, ...revokeDevices(state, now, 'password_reset')],

  RevokeTrustedDevice(command, state, { now }) {
    // Neither a lock nor the 2FA status matters: forgetting a device only ever asks for more.
    const known = activeTrustedDevices(state, now).some((device) => device.deviceId === command.deviceId);
    if (!known) throw new DomainError('device_not_found', 'No remembered device of this account has this id (it may have expired or been revoked).');
    return [{ type: 'TrustedDeviceRevoked', data: { deviceId: command.deviceId, ...removal(command) } }];
  },
};

type DeviceEvent = EventOf<'DeviceTrusted'> | EventOf<'TrustedDevicesRevoked'> | EventOf<'TrustedDeviceRevoked'> | EventOf<'PasswordResetRecorded'>;

export const trustedDeviceFolds: Folding<DeviceEvent> = {
  DeviceTrusted: (state, event) => ({ ...state, trustedDevices: [...state.trustedDevices, { ...event.data }].slice(-MAX_TRUSTED_DEVICES) }),
  TrustedDevicesRevoked: (state) => ({ ...state, trustedDevices: [] }),
  TrustedDeviceRevoked: (state, event) => ({ ...state, trustedDevices: state.trustedDevices.filter((device) => device.deviceId !== event.data.deviceId) }),
  PasswordResetRecorded: (state) => state,
};

/** Remembers the device of a passed challenge, when the caller asked to. */
export function trustDevice(device: PreparedDevice | undefined, policy: Policy, now: Date): AccountEvent[] {
  if (!device) return [];
  const expiresAt = plusMinutes(now, policy.trustedDeviceDays * 24 * 60);
  const { deviceId, tokenHash, label } = device;
  return [{ type: 'DeviceTrusted', data: label === undefined ? { deviceId, tokenHash, expiresAt } : { deviceId, tokenHash, expiresAt, label } }];
}

export function revokeDevices(state: AccountState, now: Date, reason: RevocationReason): AccountEvent[] {
  const count = activeTrustedDevices(state, now).length;
  return count === 0 ? [] : [{ type: 'TrustedDevicesRevoked', data: { reason, count } }];
}
