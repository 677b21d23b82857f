/**
 * A small integrator's code against @twostep/client, type-checked under `strict` by
 * client.int-spec.ts (and by `npm run typecheck`). The `@ts-expect-error` lines prove the types
 * are real: each would compile if the generated types were loose (any, unknown, never).
 */
import { twostepClient, type ErrorCode } from '@twostep/client';

export async function secondStep(code: string): Promise<string> {
  const twostep = twostepClient({ baseUrl: 'http://127.0.0.1:3000', apiKey: 'ts_portal_example_key_000000' });
  const alice = { tenantId: 'store-1', userId: 'alice' };

  const started = await twostep.startChallenge(alice, { email: 'alice@example.com' });
  if (!started.ok) {
    const code: ErrorCode<'startChallenge'> = started.error.error;
    if (code === 'account_locked') return `locked until ${started.error.lockedUntil ?? '?'}`;
    // @ts-expect-error not a code startChallenge can answer with
    if (code === 'not_locked') return 'impossible';
    return started.error.message;
  }
  if (!started.data.required) return `no second step: ${started.data.reason}`;
  const { challengeId, method } = started.data;
  const expected: 'totp' | 'email' = method;

  const verified = await twostep.verifyChallenge({ ...alice, challengeId }, { code, rememberDevice: true });
  if (verified.ok) return verified.data.deviceToken ?? `verified by ${expected}`;
  if (verified.error.error === 'invalid_code') return `wrong code, ${verified.error.attemptsLeft ?? 0} attempts left`;

  // @ts-expect-error the code must be a string
  await twostep.verifyChallenge({ ...alice, challengeId }, { code: 123456 });
  // @ts-expect-error unknown field in the body
  await twostep.updatePolicy('store-1', { codeTtl: 10 });
  // @ts-expect-error a path parameter is missing
  await twostep.verifyChallenge(alice, { code });

  const devices = await twostep.listTrustedDevices(alice);
  if (devices.ok) {
    const labels: (string | null)[] = devices.data.devices.map((device) => device.label);
    if (labels.length > 0) await twostep.revokeTrustedDevice({ ...alice, deviceId: devices.data.devices[0]!.deviceId });
  } else {
    // @ts-expect-error not a code listTrustedDevices can answer with
    if (devices.error.error === 'device_not_found') return 'impossible';
  }
  // @ts-expect-error a device id is needed to revoke one
  await twostep.revokeTrustedDevice(alice);
  // @ts-expect-error the label must be a string
  await twostep.verifyChallenge({ ...alice, challengeId }, { code, rememberDevice: true, deviceLabel: 7 });

  const policy = await twostep.updatePolicy('store-1', { emailOtpRequired: true, codeTtlMinutes: 10 });
  if (policy.ok) {
    const minutes: number = policy.data.codeTtlMinutes;
    return String(minutes);
  }
  return policy.error.error === 'invalid_policy' ? `bad setting ${policy.error.field ?? ''}` : policy.error.message;
}
