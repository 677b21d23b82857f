import type { Actor, StoredEvent } from '@twostep/eventstore';
import { actingApiKey } from '@twostep/readmodel';
import { sentence } from '../../apps/cli/src/commands/explain';

const stored = (type: string, data: Record<string, unknown>, actor: Actor): StoredEvent => ({
  eventId: 'e',
  type,
  data,
  metadata: { at: '2026-11-23T09:00:00.000Z', actor, schemaVersion: 1 },
  stream: 'TwoFactorAccount-store-1|alice',
  revision: 0,
  position: 1,
  recordedAt: '2026-11-23T09:00:00.000Z',
  hash: 'h',
  prevHash: null,
});

describe("explain's sentence names the API key that acted", () => {
  it('after the actor, for a portal key acting for the customer', () => {
    expect(sentence(stored('TotpSetupStarted', {}, { kind: 'customer', apiKeyId: 'portal-1' }))).toBe('Authenticator app setup started - by the customer (key portal-1)');
  });

  it('at the end when the sentence itself names the actor', () => {
    const disabled = stored('ResellerDisabled', { operatorId: 'ann', reason: 'lost phone' }, { kind: 'operator', id: 'ann', apiKeyId: 'k_ops' });
    expect(sentence(disabled)).toBe('2FA disabled by reseller ann (reason: lost phone) (key k_ops)');
    const unlocked = stored('AccountUnlocked', { operatorId: 'ann' }, { kind: 'operator', id: 'ann', apiKeyId: 'k_ops' });
    expect(sentence(unlocked)).toBe('Account unlocked by ann (key k_ops)');
    const policy = stored('PolicyUpdated', { changed: ['lockoutMinutes'] }, { kind: 'admin', id: 'root', apiKeyId: 'k_admin' });
    expect(sentence(policy)).toBe('2FA policy updated (lockoutMinutes) - by admin root (key k_admin)');
  });

  it('not twice when the actor id is the key id (auditors, operators that named nobody)', () => {
    const auditor = stored('PasswordResetRecorded', {}, { kind: 'auditor', id: 'aud-1', apiKeyId: 'aud-1' });
    expect(sentence(auditor)).toBe('Password reset recorded; the next login asks for 2FA where it is on - by auditor aud-1');
    const operator = stored('PasswordResetRecorded', {}, { kind: 'operator', id: 'op-1', apiKeyId: 'op-1' });
    expect(sentence(operator)).toBe('Password reset recorded; the next login asks for 2FA where it is on - by reseller op-1');
    expect(actingApiKey(auditor)).toBeNull();
  });

  it("not at all for twostep's own events, which come with no key", () => {
    const cli = stored('TotpSecretReencrypted', { secret: { kid: 'k2' } }, { kind: 'system', id: 'twostep-cli' });
    expect(sentence(cli)).toBe('Authenticator secret re-encrypted with key k2 - by twostep (twostep-cli)');
    expect(sentence(stored('PasswordResetRecorded', {}, { kind: 'customer' }))).toBe('Password reset recorded; the next login asks for 2FA where it is on - by the customer');
    expect(actingApiKey(cli)).toBeNull();
  });
});
