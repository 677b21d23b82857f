import type { Middleware } from 'openapi-fetch';
import { totpCodeAt } from '@twostep/crypto';
import type { TwostepClient } from '@twostep/client';
import { accountStream } from '@twostep/domain';
import { accountUrl, readAllFiles, startTestApp, type TestApp } from '../support/harness';
import { expectOk, type Answer, type ErrorOf } from '../support/client-answers';
import { expectRefused, head, midStep, type Role } from '../support/edge-helpers';

/**
 * Remembered-device management over HTTP on the embedded runtime: a label given at verify,
 * the list of active devices, and revoking one (by the customer, a reseller or an admin).
 * Driven through @twostep/client; the refusals of raw bodies and ids go through supertest.
 * Each test has its own account.
 */
describe('remembered devices over HTTP', () => {
  let t: TestApp;
  const DAY = 24 * 3600_000;
  /** Every device token handed out, for the "never stored in the clear" check at the end. */
  const tokens: string[] = [];
  const clients = new Map<Role, TwostepClient>();
  /** Every answer the clients got, as the wire had it (for the refusal checks). */
  const wire: { where: string; contentType: string | null }[] = [];
  const recorder: Middleware = {
    onResponse({ request, response }) {
      wire.push({ where: `${request.method} ${new URL(request.url).pathname}`, contentType: response.headers.get('content-type') });
      return undefined;
    },
  };

  beforeAll(async () => {
    t = await startTestApp();
    for (const role of ['portal', 'portal2', 'operator', 'operator2', 'admin', 'auditor'] as const) {
      const client = await t.client(role);
      client.http.use(recorder);
      clients.set(role, client);
    }
    midStep(t);
  });
  afterAll(() => t.close());

  const as = (role: Role) => clients.get(role)!;
  const codeNow = (secret: string) => totpCodeAt(secret, t.clock.now().getTime());
  /** After moving the clock by days: on to the middle of the next TOTP step (time never goes back). */
  const nextMidStep = () => t.clock.set(new Date(Math.floor(t.clock.now().getTime() / 30_000) * 30_000 + 45_000));
  const events = async (tenantId: string, userId: string) => t.runtime.eventStore.readStream(accountStream(tenantId, userId));

  /**
   * A call through the client that must be refused: checks status, the stable `error` code, the
   * error shape (JSON with a message for people) and that the event store did not grow.
   */
  async function expectRefusal<R extends Answer>(send: () => Promise<R>, status: number, error: string): Promise<ErrorOf<R>> {
    const before = await head(t);
    const sent = wire.length;
    const answer = await send();
    expect(wire.length).toBe(sent + 1); // one request, one answer
    const { where, contentType } = wire[sent]!;
    const body = (answer.error ?? {}) as Record<string, unknown>;
    expect({ where, ok: answer.ok, status: answer.status, error: body.error }).toEqual({ where, ok: false, status, error });
    expect(contentType).toMatch(/^application\/json/);
    expect(typeof body.message).toBe('string');
    expect((body.message as string).length).toBeGreaterThan(0);
    expect({ where, head: await head(t) }).toEqual({ where, head: before });
    return answer.error as ErrorOf<R>;
  }

  /** An account with the authenticator app on. */
  async function enrolled(userId: string, tenantId = 'store-1', role: Role = 'portal') {
    const ref = { tenantId, userId };
    const { secret } = expectOk(await as(role).setupTotp(ref));
    expectOk(await as(role).confirmTotp(ref, { code: codeNow(secret) }));
    // Move on one step so the next login's code is not a replay of the confirming one.
    t.clock.advance(30_000);
    return { ...ref, url: accountUrl(tenantId, userId), secret, role };
  }
  type Enrolled = Awaited<ReturnType<typeof enrolled>>;
  const ref = (account: Enrolled) => ({ tenantId: account.tenantId, userId: account.userId });

  /** A new login that must ask for the authenticator code; returns the challenge to verify. */
  async function challenge(account: Enrolled) {
    const started = expectOk(await as(account.role).startChallenge(ref(account), {}));
    expect(started).toMatchObject({ required: true, method: 'totp' });
    if (!started.required) throw new Error('a challenge was expected');
    return { ...ref(account), challengeId: started.challengeId };
  }

  /** A login that passes with rememberDevice (and the label, if any); returns the verify answer. */
  async function remember(account: Enrolled, deviceLabel?: string) {
    const login = await challenge(account);
    const before = t.clock.now().getTime();
    const body = { code: codeNow(account.secret), rememberDevice: true, ...(deviceLabel !== undefined ? { deviceLabel } : {}) };
    const verified = expectOk(await as(account.role).verifyChallenge(login, body));
    const answer = verified as { deviceToken: string; deviceId: string; deviceTrustedUntil: string };
    // When it was remembered: the DeviceTrusted event's time, taken during the request.
    const trusted = (await events(account.tenantId, account.userId)).find((event) => event.type === 'DeviceTrusted' && event.data.deviceId === answer.deviceId)!;
    const at = trusted.metadata.at;
    expect(Date.parse(at)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(at)).toBeLessThanOrEqual(t.clock.now().getTime());
    t.clock.advance(30_000); // the next login needs the next TOTP step
    tokens.push(answer.deviceToken);
    return { ...answer, at };
  }

  /** What `startChallenge` says for this device token. */
  async function loginWith(account: Enrolled, deviceToken: string) {
    return expectOk(await as(account.role).startChallenge(ref(account), { deviceToken }));
  }

  const list = async (account: { tenantId: string; userId: string }, role: Role = 'portal') => expectOk(await as(role).listTrustedDevices({ tenantId: account.tenantId, userId: account.userId })).devices;
  const eventLog = async (account: Enrolled) => expectOk(await as('operator').getAccountEventLog(ref(account))).entries;
  const revoke = (account: Enrolled, deviceId: string, role: Role = 'portal', body: { operatorId?: string } = {}) => as(role).revokeTrustedDevice({ ...ref(account), deviceId }, body);

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
    for (const role of ['portal', 'operator', 'admin'] as const) expect(await list(alice, role)).toEqual(expected);
    // The status view carries the same entries.
    expect((expectOk(await as('portal').getStatus(ref(alice))) as { trustedDevices?: unknown }).trustedDevices).toEqual(expected);
    // Neither the token nor its hash is shown.
    const shown = JSON.stringify(await list(alice));
    for (const event of stored) expect(shown).not.toContain(event.data.tokenHash as string);
    expect(shown).not.toContain(firefox.deviceToken);

    const whats = (await eventLog(alice)).filter((entry) => entry.type === 'DeviceTrusted').map((entry) => entry.what);
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
    expect((await list(ben)).map((device) => device.deviceId)).toEqual([early.deviceId, later.deviceId]);
    t.clock.advance(DAY); // early's 2 days are over, later's are not
    expect((await list(ben)).map((device) => device.deviceId)).toEqual([later.deviceId]);
    expect(await list({ tenantId: 'store-1', userId: 'td-nobody' })).toEqual([]);
    nextMidStep();
  });

  it('the customer revokes one device: that token needs the second step again, the other still skips', async () => {
    const cara = await enrolled('td-cara');
    const phone = await remember(cara, 'Safari on iPhone');
    const laptop = await remember(cara, 'Chrome on Windows');
    expect(await loginWith(cara, phone.deviceToken)).toEqual({ required: false, reason: 'trusted_device' });

    expect(expectOk(await revoke(cara, phone.deviceId))).toEqual({ revoked: true, deviceId: phone.deviceId });

    expect(await loginWith(cara, phone.deviceToken)).toMatchObject({ required: true, method: 'totp' });
    expect(await loginWith(cara, laptop.deviceToken)).toEqual({ required: false, reason: 'trusted_device' });
    expect((await list(cara)).map((device) => device.deviceId)).toEqual([laptop.deviceId]);

    const [event] = (await events('store-1', 'td-cara')).filter((stored) => stored.type === 'TrustedDeviceRevoked');
    expect(event!.data).toEqual({ deviceId: phone.deviceId, by: 'customer' });
    expect(event!.metadata.actor).toEqual({ kind: 'customer', apiKeyId: 'portal-1' });
    const entry = (await eventLog(cara)).find((logged) => logged.type === 'TrustedDeviceRevoked');
    expect(entry).toMatchObject({ what: `Remembered device ${phone.deviceId} revoked by the customer`, actor: { kind: 'customer' } });
  });

  it('a reseller revokes with its operatorId, named in the event and the event log; an admin the same way', async () => {
    const dan = await enrolled('td-dan');
    const first = await remember(dan, 'Firefox on Linux');
    const second = await remember(dan);
    const third = await remember(dan);

    expectOk(await revoke(dan, first.deviceId, 'operator', { operatorId: 'reseller-ann' }));
    expectOk(await revoke(dan, second.deviceId, 'admin', { operatorId: 'root' }));

    const revoked = (await events('store-1', 'td-dan')).filter((stored) => stored.type === 'TrustedDeviceRevoked');
    expect(revoked.map((event) => event.data)).toEqual([
      { deviceId: first.deviceId, by: 'operator', operatorId: 'reseller-ann' },
      { deviceId: second.deviceId, by: 'admin', operatorId: 'root' },
    ]);
    expect(revoked.map((event) => event.metadata.actor)).toEqual([
      { kind: 'operator', id: 'reseller-ann', apiKeyId: 'op-1' },
      { kind: 'admin', id: 'root', apiKeyId: 'admin-1' },
    ]);
    const whats = (await eventLog(dan)).filter((entry) => entry.type === 'TrustedDeviceRevoked').map((entry) => entry.what);
    expect(whats).toEqual([`Remembered device ${first.deviceId} revoked by reseller reseller-ann`, `Remembered device ${second.deviceId} revoked by admin root`]);

    expect(await loginWith(dan, first.deviceToken)).toMatchObject({ required: true });
    expect(await loginWith(dan, second.deviceToken)).toMatchObject({ required: true });
    expect(await loginWith(dan, third.deviceToken)).toEqual({ required: false, reason: 'trusted_device' });
  });

  it('refuses an unknown, already revoked or expired device with 404 device_not_found, and appends nothing', async () => {
    const eve = await enrolled('td-eve');
    const kept = await remember(eve);
    const gone = await remember(eve);
    expectOk(await revoke(eve, gone.deviceId));

    await expectRefusal(() => revoke(eve, '0123456789ab'), 404, 'device_not_found');
    await expectRefusal(() => revoke(eve, gone.deviceId), 404, 'device_not_found');
    await expectRefusal(() => revoke(eve, '0123456789ab', 'operator', { operatorId: 'reseller-ann' }), 404, 'device_not_found');
    // Another account's device is not this account's.
    const frank = await enrolled('td-frank');
    const franks = await remember(frank);
    await expectRefusal(() => revoke(eve, franks.deviceId), 404, 'device_not_found');

    t.clock.advance(2 * DAY);
    await expectRefusal(() => revoke(eve, kept.deviceId), 404, 'device_not_found');
    nextMidStep();
  });

  it('refuses the wrong caller (another tenant, an auditor) and a bad body or id, and appends nothing', async () => {
    const gus = await enrolled('td-gus');
    const device = await remember(gus, 'Firefox on Linux');
    const revokeUrl = `${gus.url}/trusted-devices/${device.deviceId}/revoke`;

    // A portal key of another tenant: neither the list nor the revoke.
    await expectRefusal(() => as('portal2').listTrustedDevices(ref(gus)), 403, 'forbidden_tenant');
    await expectRefusal(() => revoke(gus, device.deviceId, 'portal2'), 403, 'forbidden_tenant');
    await expectRefusal(() => revoke(gus, device.deviceId, 'operator2', { operatorId: 'reseller-bob' }), 403, 'forbidden_tenant');
    await expectRefusal(() => as('operator2').listTrustedDevices(ref(gus)), 403, 'forbidden_tenant');
    // Auditors read events, not devices, and revoke nothing.
    await expectRefusal(() => as('auditor').listTrustedDevices(ref(gus)), 403, 'forbidden_role');
    await expectRefusal(() => revoke(gus, device.deviceId, 'auditor'), 403, 'forbidden_role');

    // Operators and admins name themselves; a portal key acts for the customer and names nobody.
    await expectRefusal(() => revoke(gus, device.deviceId, 'operator'), 400, 'validation_failed');
    await expectRefusal(() => revoke(gus, device.deviceId, 'admin'), 400, 'validation_failed');
    await expectRefusal(() => revoke(gus, device.deviceId, 'portal', { operatorId: 'reseller-ann' }), 400, 'validation_failed');
    await expectRefusal(() => revoke(gus, device.deviceId, 'operator', { operatorId: 'has space' }), 400, 'validation_failed');
    await expectRefusal(() => revoke(gus, 'x'.repeat(65)), 400, 'invalid_id');
    // Raw bodies and paths the typed client would not send: an unknown field, an id with an encoded space.
    await expectRefused(t, () => t.as('portal').post(revokeUrl, { reason: 'lost' }), 400, 'validation_failed');
    await expectRefused(t, () => t.as('portal').post(`${gus.url}/trusted-devices/bad%20id/revoke`, {}), 400, 'invalid_id');

    // Still remembered after all of that.
    expect(await loginWith(gus, device.deviceToken)).toEqual({ required: false, reason: 'trusted_device' });
    expect((await list(gus)).map((listed) => listed.deviceId)).toEqual([device.deviceId]);
  });

  it('accepts a label of 1-100 printable characters and refuses the rest at verify, appending nothing', async () => {
    const hal = await enrolled('td-hal');
    const login = await challenge(hal);
    const verify = (body: { code: string; rememberDevice?: boolean; deviceLabel?: string }) => () => as('portal').verifyChallenge(login, body);
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
      await expectRefusal(verify({ code: codeNow(hal.secret), rememberDevice: true, deviceLabel }), 400, 'validation_failed');
    }
    // A label of the wrong JSON type is a raw body the typed client would not send.
    const verifyUrl = `${hal.url}/challenges/${login.challengeId}/verify`;
    await expectRefused(t, () => t.as('portal').post(verifyUrl, { code: codeNow(hal.secret), rememberDevice: true, deviceLabel: 42 }), 400, 'validation_failed');
    // A label names the device to remember: without rememberDevice it is refused, not ignored.
    await expectRefusal(verify({ code: codeNow(hal.secret), deviceLabel: 'Firefox on Linux' }), 400, 'validation_failed');
    await expectRefusal(verify({ code: codeNow(hal.secret), rememberDevice: false, deviceLabel: 'Firefox on Linux' }), 400, 'validation_failed');

    // The challenge is untouched: 100 code points (emoji count once each, accents and CJK are fine) go through.
    const longest = `${'🙂'.repeat(50)}${'é'.repeat(25)}${'火'.repeat(25)}`;
    const before = await head(t);
    expectOk(await as('portal').verifyChallenge(login, { code: codeNow(hal.secret), rememberDevice: true, deviceLabel: longest }));
    expect(await head(t)).toBeGreaterThan(before);
    t.clock.advance(30_000);
    expect((await list(hal)).map((device) => device.label)).toEqual([longest]);
    const oneChar = await remember(hal, 'A');
    expect((await list(hal)).find((device) => device.deviceId === oneChar.deviceId)).toMatchObject({ label: 'A' });
  });

  it('a password reset still forgets every device, labelled or not; the list is empty and a revoke finds nothing', async () => {
    const ida = await enrolled('td-ida');
    const device = await remember(ida, 'Firefox on Linux');
    expectOk(await as('portal').recordPasswordReset(ref(ida)));
    expect(await list(ida)).toEqual([]);
    expect(await loginWith(ida, device.deviceToken)).toMatchObject({ required: true });
    await expectRefusal(() => revoke(ida, device.deviceId), 404, 'device_not_found');
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
