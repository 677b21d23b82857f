import { totpCodeAt } from '@twostep/crypto';
import { accountStream } from '@twostep/domain';
import { accountUrl, readAllFiles, startTestApp, type TestApp } from '../support/harness';
import { enableTotp, expectRefused, head, midStep, type Role } from '../support/edge-helpers';

/**
 * Remembered-device management over HTTP on the embedded runtime: a label given at verify,
 * the list of active devices, and revoking one (by the customer, a reseller or an admin).
 * Each test has its own account.
 */
describe('remembered devices over HTTP', () => {
  let t: TestApp;
  const DAY = 24 * 3600_000;
  /** Every device token handed out, for the "never stored in the clear" check at the end. */
  const tokens: string[] = [];

  beforeAll(async () => {
    t = await startTestApp();
    midStep(t);
  });
  afterAll(() => t.close());

  const codeNow = (secret: string) => totpCodeAt(secret, t.clock.now().getTime());
  /** After moving the clock by days: on to the middle of the next TOTP step (time never goes back). */
  const nextMidStep = () => t.clock.set(new Date(Math.floor(t.clock.now().getTime() / 30_000) * 30_000 + 45_000));
  const events = async (tenantId: string, userId: string) => t.runtime.eventStore.readStream(accountStream(tenantId, userId));

  /** An account with the authenticator app on. */
  async function enrolled(userId: string, tenantId = 'store-1', role: Role = 'portal') {
    const { secret } = await enableTotp(t, role, tenantId, userId);
    return { url: accountUrl(tenantId, userId), secret, tenantId, userId, role };
  }

  /** A login that passes with rememberDevice (and the label, if any); returns the verify answer. */
  async function remember(account: Awaited<ReturnType<typeof enrolled>>, deviceLabel?: string) {
    const started = await t.as(account.role).post(`${account.url}/challenges`, {}).expect(200);
    expect(started.body).toMatchObject({ required: true, method: 'totp' });
    const before = t.clock.now().getTime();
    const body = { code: codeNow(account.secret), rememberDevice: true, ...(deviceLabel !== undefined ? { deviceLabel } : {}) };
    const verified = await t.as(account.role).post(`${account.url}/challenges/${started.body.challengeId}/verify`, body).expect(200);
    const answer = verified.body as { deviceToken: string; deviceId: string; deviceTrustedUntil: string };
    // When it was remembered: the DeviceTrusted event's time, taken during the request.
    const trusted = (await events(account.tenantId, account.userId)).find((event) => event.type === 'DeviceTrusted' && event.data.deviceId === answer.deviceId)!;
    const at = trusted.metadata.at;
    expect(Date.parse(at)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(at)).toBeLessThanOrEqual(t.clock.now().getTime());
    t.clock.advance(30_000); // the next login needs the next TOTP step
    tokens.push(answer.deviceToken);
    return { ...answer, at };
  }

  /** What `POST …/challenges` says for this device token. */
  async function loginWith(account: Awaited<ReturnType<typeof enrolled>>, deviceToken: string) {
    return (await t.as(account.role).post(`${account.url}/challenges`, { deviceToken }).expect(200)).body as { required: boolean; reason?: string };
  }

  const list = async (url: string, role: Role = 'portal') => (await t.as(role).get(`${url}/trusted-devices`).expect(200)).body.devices as Record<string, unknown>[];
  const eventLog = async (url: string) => (await t.as('operator').get(`${url}/event-log`).expect(200)).body.entries as { type: string; what: string; actor: Record<string, unknown> }[];

  it('stores the label given at verify, and lists the active devices with label, time and expiry', async () => {
    const alice = await enrolled('td-alice');
    const firefox = await remember(alice, 'Firefox on Linux');
    const unnamed = await remember(alice);

    const stored = (await events('store-1', 'td-alice')).filter((event) => event.type === 'DeviceTrusted');
    expect(stored.map((event) => event.data)).toEqual([
      { deviceId: firefox.deviceId, tokenHash: expect.any(String), expiresAt: firefox.deviceTrustedUntil, label: 'Firefox on Linux' },
      { deviceId: unnamed.deviceId, tokenHash: expect.any(String), expiresAt: unnamed.deviceTrustedUntil },
    ]);

    const expected = [
      { deviceId: firefox.deviceId, label: 'Firefox on Linux', createdAt: firefox.at, expiresAt: firefox.deviceTrustedUntil },
      { deviceId: unnamed.deviceId, label: null, createdAt: unnamed.at, expiresAt: unnamed.deviceTrustedUntil },
    ];
    for (const role of ['portal', 'operator', 'admin'] as const) expect(await list(alice.url, role)).toEqual(expected);
    // The status view carries the same entries.
    expect((await t.as('portal').get(`${alice.url}/two-factor`).expect(200)).body.trustedDevices).toEqual(expected);
    // Neither the token nor its hash is shown.
    const shown = JSON.stringify(await list(alice.url));
    for (const event of stored) expect(shown).not.toContain(event.data.tokenHash as string);
    expect(shown).not.toContain(firefox.deviceToken);

    const whats = (await eventLog(alice.url)).filter((entry) => entry.type === 'DeviceTrusted').map((entry) => entry.what);
    expect(whats).toEqual([
      `Device remembered (Firefox on Linux) until ${firefox.deviceTrustedUntil}; device id ${firefox.deviceId}`,
      `Device ${unnamed.deviceId} remembered until ${unnamed.deviceTrustedUntil}`,
    ]);
  });

  it('lists only unexpired devices, and nothing for an account twostep has never seen', async () => {
    const ben = await enrolled('td-ben');
    const early = await remember(ben, 'Old laptop');
    t.clock.advance(DAY);
    const later = await remember(ben, 'New laptop');
    expect((await list(ben.url)).map((device) => device.deviceId)).toEqual([early.deviceId, later.deviceId]);
    t.clock.advance(DAY); // early's 2 days are over, later's are not
    expect((await list(ben.url)).map((device) => device.deviceId)).toEqual([later.deviceId]);
    expect(await list(accountUrl('store-1', 'td-nobody'))).toEqual([]);
    nextMidStep();
  });

  it('the customer revokes one device: that token needs the second step again, the other still skips', async () => {
    const cara = await enrolled('td-cara');
    const phone = await remember(cara, 'Safari on iPhone');
    const laptop = await remember(cara, 'Chrome on Windows');
    expect(await loginWith(cara, phone.deviceToken)).toEqual({ required: false, reason: 'trusted_device' });

    const revoked = await t.as('portal').post(`${cara.url}/trusted-devices/${phone.deviceId}/revoke`, {}).expect(200);
    expect(revoked.body).toEqual({ revoked: true, deviceId: phone.deviceId });

    expect(await loginWith(cara, phone.deviceToken)).toMatchObject({ required: true, method: 'totp' });
    expect(await loginWith(cara, laptop.deviceToken)).toEqual({ required: false, reason: 'trusted_device' });
    expect((await list(cara.url)).map((device) => device.deviceId)).toEqual([laptop.deviceId]);

    const [event] = (await events('store-1', 'td-cara')).filter((stored) => stored.type === 'TrustedDeviceRevoked');
    expect(event!.data).toEqual({ deviceId: phone.deviceId, by: 'customer' });
    expect(event!.metadata.actor).toEqual({ kind: 'customer', apiKeyId: 'portal-1' });
    const entry = (await eventLog(cara.url)).find((logged) => logged.type === 'TrustedDeviceRevoked');
    expect(entry).toMatchObject({ what: `Remembered device ${phone.deviceId} revoked by the customer`, actor: { kind: 'customer' } });
  });

  it('a reseller revokes with its operatorId, named in the event and the event log; an admin the same way', async () => {
    const dan = await enrolled('td-dan');
    const first = await remember(dan, 'Firefox on Linux');
    const second = await remember(dan);
    const third = await remember(dan);

    await t.as('operator').post(`${dan.url}/trusted-devices/${first.deviceId}/revoke`, { operatorId: 'reseller-ann' }).expect(200);
    await t.as('admin').post(`${dan.url}/trusted-devices/${second.deviceId}/revoke`, { operatorId: 'root' }).expect(200);

    const revoked = (await events('store-1', 'td-dan')).filter((stored) => stored.type === 'TrustedDeviceRevoked');
    expect(revoked.map((event) => event.data)).toEqual([
      { deviceId: first.deviceId, by: 'operator', operatorId: 'reseller-ann' },
      { deviceId: second.deviceId, by: 'admin', operatorId: 'root' },
    ]);
    expect(revoked.map((event) => event.metadata.actor)).toEqual([
      { kind: 'operator', id: 'reseller-ann', apiKeyId: 'op-1' },
      { kind: 'admin', id: 'root', apiKeyId: 'admin-1' },
    ]);
    const whats = (await eventLog(dan.url)).filter((entry) => entry.type === 'TrustedDeviceRevoked').map((entry) => entry.what);
    expect(whats).toEqual([`Remembered device ${first.deviceId} revoked by reseller reseller-ann`, `Remembered device ${second.deviceId} revoked by admin root`]);

    expect(await loginWith(dan, first.deviceToken)).toMatchObject({ required: true });
    expect(await loginWith(dan, second.deviceToken)).toMatchObject({ required: true });
    expect(await loginWith(dan, third.deviceToken)).toEqual({ required: false, reason: 'trusted_device' });
  });

  it('refuses an unknown, already revoked or expired device with 404 device_not_found, and appends nothing', async () => {
    const eve = await enrolled('td-eve');
    const kept = await remember(eve);
    const gone = await remember(eve);
    await t.as('portal').post(`${eve.url}/trusted-devices/${gone.deviceId}/revoke`).expect(200);

    const revoke = (deviceId: string, role: Role = 'portal', body: object = {}) => () => t.as(role).post(`${eve.url}/trusted-devices/${deviceId}/revoke`, body);
    await expectRefused(t, revoke('0123456789ab'), 404, 'device_not_found');
    await expectRefused(t, revoke(gone.deviceId), 404, 'device_not_found');
    await expectRefused(t, revoke('0123456789ab', 'operator', { operatorId: 'reseller-ann' }), 404, 'device_not_found');
    // Another account's device is not this account's.
    const frank = await enrolled('td-frank');
    const franks = await remember(frank);
    await expectRefused(t, revoke(franks.deviceId), 404, 'device_not_found');

    t.clock.advance(2 * DAY);
    await expectRefused(t, revoke(kept.deviceId), 404, 'device_not_found');
    nextMidStep();
  });

  it('refuses the wrong caller (another tenant, an auditor) and a bad body or id, and appends nothing', async () => {
    const gus = await enrolled('td-gus');
    const device = await remember(gus, 'Firefox on Linux');
    const revokeUrl = `${gus.url}/trusted-devices/${device.deviceId}/revoke`;

    // A portal key of another tenant: neither the list nor the revoke.
    await expectRefused(t, () => t.as('portal2').get(`${gus.url}/trusted-devices`), 403, 'forbidden_tenant');
    await expectRefused(t, () => t.as('portal2').post(revokeUrl, {}), 403, 'forbidden_tenant');
    await expectRefused(t, () => t.as('operator2').post(revokeUrl, { operatorId: 'reseller-bob' }), 403, 'forbidden_tenant');
    await expectRefused(t, () => t.as('operator2').get(`${gus.url}/trusted-devices`), 403, 'forbidden_tenant');
    // Auditors read events, not devices, and revoke nothing.
    await expectRefused(t, () => t.as('auditor').get(`${gus.url}/trusted-devices`), 403, 'forbidden_role');
    await expectRefused(t, () => t.as('auditor').post(revokeUrl, {}), 403, 'forbidden_role');

    // Operators and admins name themselves; a portal key acts for the customer and names nobody.
    await expectRefused(t, () => t.as('operator').post(revokeUrl, {}), 400, 'validation_failed');
    await expectRefused(t, () => t.as('admin').post(revokeUrl, {}), 400, 'validation_failed');
    await expectRefused(t, () => t.as('portal').post(revokeUrl, { operatorId: 'reseller-ann' }), 400, 'validation_failed');
    await expectRefused(t, () => t.as('operator').post(revokeUrl, { operatorId: 'has space' }), 400, 'validation_failed');
    await expectRefused(t, () => t.as('portal').post(revokeUrl, { reason: 'lost' }), 400, 'validation_failed');
    await expectRefused(t, () => t.as('portal').post(`${gus.url}/trusted-devices/bad%20id/revoke`, {}), 400, 'invalid_id');
    await expectRefused(t, () => t.as('portal').post(`${gus.url}/trusted-devices/${'x'.repeat(65)}/revoke`, {}), 400, 'invalid_id');

    // Still remembered after all of that.
    expect(await loginWith(gus, device.deviceToken)).toEqual({ required: false, reason: 'trusted_device' });
    expect((await list(gus.url)).map((listed) => listed.deviceId)).toEqual([device.deviceId]);
  });

  it('accepts a label of 1-100 printable characters and refuses the rest at verify, appending nothing', async () => {
    const hal = await enrolled('td-hal');
    const started = await t.as('portal').post(`${hal.url}/challenges`, {}).expect(200);
    const verifyUrl = `${hal.url}/challenges/${started.body.challengeId}/verify`;
    const bad = [
      '',
      '   ',
      'x'.repeat(101),
      'Firefox\non Linux',
      'Firefox\r\nX-Injected: yes',
      'tab\there',
      'bell\u0007',
      'nul\u0000',
      'del\u007f',
      'bidi \u202eexe.txt',
      'zero\u200bwidth',
      'line\u2028separator',
      'private \ue000 use',
    ];
    for (const deviceLabel of bad) {
      await expectRefused(t, () => t.as('portal').post(verifyUrl, { code: codeNow(hal.secret), rememberDevice: true, deviceLabel }), 400, 'validation_failed');
    }
    await expectRefused(t, () => t.as('portal').post(verifyUrl, { code: codeNow(hal.secret), rememberDevice: true, deviceLabel: 42 }), 400, 'validation_failed');
    // A label names the device to remember: without rememberDevice it is refused, not ignored.
    await expectRefused(t, () => t.as('portal').post(verifyUrl, { code: codeNow(hal.secret), deviceLabel: 'Firefox on Linux' }), 400, 'validation_failed');
    await expectRefused(t, () => t.as('portal').post(verifyUrl, { code: codeNow(hal.secret), rememberDevice: false, deviceLabel: 'Firefox on Linux' }), 400, 'validation_failed');

    // The challenge is untouched: 100 code points (emoji count once each, accents and CJK are fine) go through.
    const longest = `${'🙂'.repeat(50)}${'é'.repeat(25)}${'火'.repeat(25)}`;
    const before = await head(t);
    await t.as('portal').post(verifyUrl, { code: codeNow(hal.secret), rememberDevice: true, deviceLabel: longest }).expect(200);
    expect(await head(t)).toBeGreaterThan(before);
    t.clock.advance(30_000);
    expect((await list(hal.url)).map((device) => device.label)).toEqual([longest]);
    const oneChar = await remember(hal, 'A');
    expect((await list(hal.url)).find((device) => device.deviceId === oneChar.deviceId)).toMatchObject({ label: 'A' });
  });

  it('a password reset still forgets every device, labelled or not; the list is empty and a revoke finds nothing', async () => {
    const ida = await enrolled('td-ida');
    const device = await remember(ida, 'Firefox on Linux');
    await t.as('portal').post(`${ida.url}/password-reset`, {}).expect(200);
    expect(await list(ida.url)).toEqual([]);
    expect(await loginWith(ida, device.deviceToken)).toMatchObject({ required: true });
    await expectRefused(t, () => t.as('portal').post(`${ida.url}/trusted-devices/${device.deviceId}/revoke`, {}), 404, 'device_not_found');
  });

  it('no device token is stored in the clear in the data directory', async () => {
    expect(tokens.length).toBeGreaterThan(5);
    const everything = readAllFiles(t.dataDir).toString('latin1');
    for (const token of tokens) {
      expect(everything).not.toContain(token);
      expect(everything).not.toContain(token.slice(3)); // without its `dt_` prefix
    }
  });
});
