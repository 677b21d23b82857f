import { totpCodeAt } from '@twostep/crypto';
import type { TwostepClient } from '@twostep/client';
import { startTestApp, type TestApp } from '../support/harness';
import { codeFrom, sentTo, startSmtpServer, type TestSmtpServer } from '../support/smtp';

/**
 * A tenant's display name (policy `displayName`): the authenticator app lists the account under
 * it and the tenant's emails are sent, named and signed with it. Driven through @twostep/client.
 */
describe("a tenant's display name", () => {
  let t: TestApp;
  let smtp: TestSmtpServer;
  let admin: TwostepClient;
  let portal: TwostepClient;
  let plain: TwostepClient;

  beforeAll(async () => {
    smtp = await startSmtpServer();
    t = await startTestApp({ SMTP_URL: smtp.url });
    admin = await t.client('admin');
    portal = await t.client('portal2');
    plain = await t.client('portal');
  });
  afterAll(async () => {
    await t.close();
    await smtp.close();
  });

  it('defaults to null: the issuer is "<TWOSTEP_ISSUER> <tenant>" as before', async () => {
    expect(await admin.getPolicy('store-1')).toMatchObject({ ok: true, data: { displayName: null } });
    const setup = await plain.setupTotp({ tenantId: 'store-1', userId: 'pat' });
    if (!setup.ok) throw new Error(setup.error.message);
    expect(new URL(setup.data.otpauthUri).searchParams.get('issuer')).toBe('twostep store-1');
  });

  it('is the issuer of a new authenticator entry and signs the code email and the notifications', async () => {
    const saved = await admin.updatePolicy('store-2', { displayName: 'Acme Outdoor', emailOtpRequired: true });
    expect(saved).toMatchObject({ ok: true, data: { tenantId: 'store-2', displayName: 'Acme Outdoor' } });

    const setup = await portal.setupTotp({ tenantId: 'store-2', userId: 'ann' }, { email: 'ann@example.com' });
    if (!setup.ok) throw new Error(setup.error.message);
    const uri = new URL(setup.data.otpauthUri);
    expect(uri.searchParams.get('issuer')).toBe('Acme Outdoor');
    expect(uri.host).toBe('totp');
    expect(decodeURIComponent(uri.pathname)).toBe('/Acme Outdoor:ann');
    const confirmed = await portal.confirmTotp({ tenantId: 'store-2', userId: 'ann' }, { code: totpCodeAt(setup.data.secret, t.clock.now().getTime()) });
    expect(confirmed.ok).toBe(true);
    const enabled = await smtp.waitForMail((m) => sentTo('ann@example.com')(m) && /turned on|enabled/i.test(m.subject));
    expect(enabled.subject).toMatch(/^Acme Outdoor: /);
    expect(enabled.parsed.from?.value[0]?.name).toBe('Acme Outdoor');

    const started = await portal.startChallenge({ tenantId: 'store-2', userId: 'bob' }, { email: 'bob@example.com' });
    expect(started).toMatchObject({ ok: true, data: { required: true, method: 'email' } });
    const mail = await smtp.waitForMail((m) => sentTo('bob@example.com')(m));
    expect(mail.subject).toBe('Your Acme Outdoor verification code');
    expect(mail.text).toContain('Your verification code for Acme Outdoor is:');
    expect(mail.text).toContain('-- Acme Outdoor');
    expect(mail.parsed.from?.value[0]?.name).toBe('Acme Outdoor');
    expect(codeFrom(mail)).toMatch(/^\d{6}$/);
  });

  it('refuses a name that could forge a header, naming the field, and appends nothing', async () => {
    const before = await t.runtime.eventStore.readStream('policy-evil');
    const refused = await admin.updatePolicy('evil', { displayName: 'Evil\r\nBcc: x@example.com' });
    expect(refused).toMatchObject({ ok: false, status: 400, error: { error: 'invalid_policy', field: 'displayName' } });
    expect(await admin.updatePolicy('evil', { displayName: '' })).toMatchObject({ ok: false, status: 400, error: { error: 'invalid_policy', field: 'displayName' } });
    expect(await admin.updatePolicy('evil', { displayName: 'x'.repeat(65) })).toMatchObject({ ok: false, status: 400, error: { error: 'invalid_policy', field: 'displayName' } });
    expect(await t.runtime.eventStore.readStream('policy-evil')).toEqual(before);
    expect(await admin.getPolicy('evil')).toMatchObject({ ok: true, data: { displayName: null } });
  });
});
