import { totpCodeAt } from '@twostep/crypto';
import { accountStream } from '@twostep/domain';
import { accountUrl, readAllFiles, startTestApp, type TestApp } from '../support/harness';
import { codeFrom, sentTo, startSmtpServer, type ReceivedMail, type TestSmtpServer } from '../support/smtp';

/**
 * The email-code seed (003) end to end over HTTP on the embedded runtime, with codes and
 * security notifications delivered to a real SMTP server.
 */

const INVALID = (left: number) => `Invalid authentication code, ${left} attempts left to login.`;
const TIMED_OUT = 'Your authentication code timed out. Kindly generate a new code to continue.';
const MINUTE = 60_000;

let smtp: TestSmtpServer;
const consumed = new Set<ReceivedMail>();

beforeAll(async () => {
  smtp = await startSmtpServer();
});
afterAll(() => smtp.close());

/** The next not-yet-consumed message to `address` whose subject matches (default: a code email). */
async function nextMail(address: string, subject: RegExp = /verification code/i, timeoutMs = 5000): Promise<ReceivedMail> {
  const mail = await smtp.waitForMail((m) => !consumed.has(m) && sentTo(address)(m) && subject.test(m.subject), timeoutMs);
  consumed.add(mail);
  return mail;
}

const wrongCodeFor = (code: string) => (code === '000000' ? '111111' : '000000');

/** Asserts an ISO instant lies `offsetMs` after some moment in [before, after]. */
function expectInstantAround(iso: string, before: Date, after: Date, offsetMs: number) {
  const at = Date.parse(iso);
  expect(Number.isNaN(at)).toBe(false);
  expect(at).toBeGreaterThanOrEqual(before.getTime() + offsetMs - 1000);
  expect(at).toBeLessThanOrEqual(after.getTime() + offsetMs + 1000);
}

/** Occurrences of `needle` that are not part of a long token (hash, ciphertext, base64): i.e. stored in the clear. */
function clearOccurrences(haystack: string, needle: string): string[] {
  const token = /[A-Za-z0-9+/=_-]/;
  const found: string[] = [];
  for (let i = haystack.indexOf(needle); i !== -1; i = haystack.indexOf(needle, i + 1)) {
    let start = i;
    let end = i + needle.length;
    while (start > 0 && token.test(haystack[start - 1]!)) start--;
    while (end < haystack.length && token.test(haystack[end]!)) end++;
    if (end - start < 20) found.push(JSON.stringify(haystack.slice(Math.max(0, i - 40), i + needle.length + 40)));
  }
  return found;
}

describe('email-code 2FA on a store that requires it', () => {
  let t: TestApp;
  const tenant = 'store-1';
  /** Every clear address and code this app saw, for the privacy checks at the end. */
  const addresses: string[] = [];
  const codes: string[] = [];

  const portal = () => t.as('portal');
  const user = (userId: string) => accountUrl(tenant, userId);

  beforeAll(async () => {
    t = await startTestApp({ SMTP_URL: smtp.url });
    const policy = await t.as('admin').put(`/v1/tenants/${tenant}/policy`, { emailOtpRequired: true }).expect(200);
    expect(policy.body).toMatchObject({ tenantId: tenant, emailOtpRequired: true, codeTtlMinutes: 10, maxFailedAttempts: 3, lockoutMinutes: 30, resendCooldownSeconds: 30, trustedDeviceDays: 2 });
  });
  afterAll(() => t.close());

  /** Starts an email challenge, waits for its mail and returns both. */
  async function emailChallenge(userId: string, email: string, extra: Record<string, unknown> = {}) {
    if (!addresses.includes(email)) addresses.push(email);
    const response = await portal().post(`${user(userId)}/challenges`, { email, ...extra }).expect(200);
    expect(response.body).toMatchObject({ required: true, method: 'email' });
    const mail = await nextMail(email);
    const code = codeFrom(mail);
    codes.push(code);
    return { id: response.body.challengeId as string, body: response.body, mail, code };
  }

  function verify(userId: string, challengeId: string, code: string, extra: Record<string, unknown> = {}) {
    return portal().post(`${user(userId)}/challenges/${challengeId}/verify`, { code, ...extra });
  }

  /** Three wrong codes: 2 left, 1 left, then locked. Returns the 423 body. */
  async function lockOut(userId: string, challengeId: string, realCode: string) {
    const wrong = wrongCodeFor(realCode);
    const first = await verify(userId, challengeId, wrong).expect(422);
    expect(first.body).toMatchObject({ error: 'invalid_code', attemptsLeft: 2, message: INVALID(2) });
    const second = await verify(userId, challengeId, wrong).expect(422);
    expect(second.body).toMatchObject({ error: 'invalid_code', attemptsLeft: 1, message: INVALID(1) });
    const before = t.clock.now();
    const third = await verify(userId, challengeId, wrong).expect(423);
    const after = t.clock.now();
    expect(third.body.error).toBe('account_locked');
    expectInstantAround(third.body.lockedUntil, before, after, 30 * MINUTE);
    return third.body as { error: string; lockedUntil: string; message: string };
  }

  it('a login sends a 6-digit code to the given address and the code verifies it', async () => {
    const email = 'carol.buyer@example.com';
    addresses.push(email);
    const before = t.clock.now();
    const response = await portal().post(`${user('carol')}/challenges`, { email }).expect(200);
    const after = t.clock.now();
    const body = response.body as { required: boolean; method: string; challengeId: string; expiresAt: string; sentTo: string };
    expect(body).toMatchObject({ required: true, method: 'email' });
    expect(typeof body.challengeId).toBe('string');
    expect(body.challengeId.length).toBeGreaterThan(0);
    expectInstantAround(body.expiresAt, before, after, 10 * MINUTE);
    // Masked: shows something, never the address or its local part.
    expect(body.sentTo).toContain('*');
    expect(body.sentTo).not.toContain(email);
    expect(body.sentTo).not.toContain('carol.buyer');

    const mail = await nextMail(email);
    expect(mail.envelopeTo).toEqual([email]);
    expect(mail.to).toEqual([email]);
    const code = codeFrom(mail);
    codes.push(code);
    expect(code).toMatch(/^\d{6}$/);
    expect(mail.text).toContain(code);
    expect(mail.html).toContain(code);
    expect(mail.text).toContain('10 minutes');
    expect(mail.html).toContain('10 minutes');
    // The message names the event that caused it.
    const events = await t.runtime.eventStore.readStream(accountStream(tenant, 'carol'));
    const issued = events.find((e) => e.type === 'CodeIssued' && e.data.challengeId === body.challengeId);
    expect(issued).toBeDefined();
    expect(mail.eventId).toBe(issued!.eventId);

    const status = await portal().get(`${user('carol')}/two-factor`).expect(200);
    expect(status.body.lastCodeSent).toMatchObject({ to: body.sentTo });
    expect(JSON.stringify(status.body)).not.toContain(email);
    expect(JSON.stringify(status.body)).not.toContain(code);

    const ok = await verify('carol', body.challengeId, code).expect(200);
    expect(ok.body).toEqual({ verified: true });
    // The challenge is spent: the same code does not log in twice.
    const again = await verify('carol', body.challengeId, code);
    expect(again.status).toBeGreaterThanOrEqual(400);
    expect(again.status).toBeLessThan(500);
  });

  it("the api's /metrics shows the embedded mailer: emails sent with their delivery delay, and both subscriptions' lag", async () => {
    await emailChallenge('metrics-mia', 'mia@example.com');
    const { text } = await t.http.get('/metrics').expect(200);
    expect(text).toMatch(/^twostep_mail_emails_total\{type="CodeIssued",outcome="sent"\} [1-9]/m);
    expect(text).toMatch(/^twostep_mail_delivery_delay_seconds_count\{type="CodeIssued"\} [1-9]/m);
    expect(text).toMatch(/^twostep_mail_send_duration_seconds_count\{type="CodeIssued"\} [1-9]/m);
    expect(text).toMatch(/^twostep_projector_lag_events\{subscriber="mailer"\} \d+$/m);
    expect(text).toMatch(/^twostep_projector_lag_events\{subscriber="projection"\} \d+$/m);
  });

  it('wrong codes count down exactly as the seed says, then lock the account for 30 minutes', async () => {
    const email = 'dan.lock@example.com';
    const { id, code } = await emailChallenge('dan', email);
    const locked = await lockOut('dan', id, code);

    // The security notification goes to the address the code went to.
    const notice = await nextMail(email, /locked/i);
    expect(notice.text).toContain('locked');
    expect(notice.eventId).toMatch(/.+/);

    // The status view shows the lock.
    const status = await portal().get(`${user('dan')}/two-factor`).expect(200);
    expect(status.body.lockedUntil).toBe(locked.lockedUntil);
    const opStatus = await t.as('operator').get(`${user('dan')}/two-factor`).expect(200);
    expect(opStatus.body.lockedUntil).toBe(locked.lockedUntil);

    // No login attempt is possible while locked: not a new challenge, not the right code, not a resend.
    const blocked = await portal().post(`${user('dan')}/challenges`, { email }).expect(423);
    expect(blocked.body).toMatchObject({ error: 'account_locked', lockedUntil: locked.lockedUntil });
    await verify('dan', id, code).expect(423);
    await portal().post(`${user('dan')}/challenges/${id}/resend`, {}).expect(423);
    t.clock.advance(29 * MINUTE);
    await portal().post(`${user('dan')}/challenges`, { email }).expect(423);

    // The lock ends by itself.
    t.clock.advance(1 * MINUTE + 1000);
    const statusAfter = await portal().get(`${user('dan')}/two-factor`).expect(200);
    expect(statusAfter.body.lockedUntil).toBeNull();
    const next = await emailChallenge('dan', email);
    const ok = await verify('dan', next.id, next.code).expect(200);
    expect(ok.body.verified).toBe(true);
  });

  it('the counter starts afresh after a lock ends', async () => {
    const email = 'erin.count@example.com';
    const first = await emailChallenge('erin', email);
    await lockOut('erin', first.id, first.code);
    await nextMail(email, /locked/i);
    t.clock.advance(30 * MINUTE + 1000);
    const second = await emailChallenge('erin', email);
    const wrong = await verify('erin', second.id, wrongCodeFor(second.code)).expect(422);
    expect(wrong.body).toMatchObject({ attemptsLeft: 2, message: INVALID(2) });
  });

  it('an operator or admin can lift a lock early; unlocking an unlocked account is a 409', async () => {
    const email = 'fay.unlock@example.com';
    const first = await emailChallenge('fay', email);
    await lockOut('fay', first.id, first.code);

    const unlocked = await t.as('operator').post(`${user('fay')}/unlock`, { operatorId: 'ops-olga' }).expect(200);
    expect(unlocked.body).toEqual({ locked: false });
    const status = await portal().get(`${user('fay')}/two-factor`).expect(200);
    expect(status.body.lockedUntil).toBeNull();
    // A fresh start: a new challenge, and a full set of attempts.
    const second = await emailChallenge('fay', email);
    const wrong = await verify('fay', second.id, wrongCodeFor(second.code)).expect(422);
    expect(wrong.body.message).toBe(INVALID(2));
    await verify('fay', second.id, second.code).expect(200);

    const notLocked = await t.as('operator').post(`${user('fay')}/unlock`, { operatorId: 'ops-olga' }).expect(409);
    expect(notLocked.body.error).toBe('not_locked');

    const third = await emailChallenge('fay', email);
    await lockOut('fay', third.id, third.code);
    await t.as('admin').post(`${user('fay')}/unlock`, { operatorId: 'root' }).expect(200);
    const fourth = await emailChallenge('fay', email);
    await verify('fay', fourth.id, fourth.code).expect(200);
    const again = await t.as('admin').post(`${user('fay')}/unlock`, { operatorId: 'root' }).expect(409);
    expect(again.body.error).toBe('not_locked');

    // Another store's operator cannot reach this account.
    const foreign = await t.as('operator2').post(`${user('fay')}/unlock`, { operatorId: 'ops-x' });
    expect([403, 404]).toContain(foreign.status);

    const log = await t.as('operator').get(`${user('fay')}/event-log`).expect(200);
    const whats = (log.body.entries as { what: string }[]).map((e) => e.what);
    expect(whats).toContain('Account unlocked by ops-olga');
    expect(whats).toContain('Account unlocked by root');
  });

  it('a login page refreshed inside the cooldown gets the open challenge back with the 429, and goes on with it', async () => {
    const email = 'hana.refresh@example.com';
    const first = await emailChallenge('hana', email);
    const refreshed = await portal().post(`${user('hana')}/challenges`, {}).expect(429);
    expect(refreshed.body).toMatchObject({ error: 'resend_cooldown', challengeId: first.id, sentTo: first.body.sentTo, expiresAt: first.body.expiresAt });
    await verify('hana', refreshed.body.challengeId as string, first.code).expect(200);
  });

  it('a challenge without an address says where the code went: the address the account used last', async () => {
    const email = 'ivo.known@example.com';
    const first = await emailChallenge('ivo', email);
    await verify('ivo', first.id, first.code).expect(200);
    t.clock.advance(60_000);
    const again = await portal().post(`${user('ivo')}/challenges`, {}).expect(200);
    expect(again.body).toMatchObject({ required: true, method: 'email', sentTo: first.body.sentTo });
    expect(again.body.sentTo).toMatch(/\*/);
    const mail = await nextMail(email);
    codes.push(codeFrom(mail));
  });

  it('resend: not before an attempt, not within the cooldown, then a new code that replaces the old one', async () => {
    const email = 'gus.resend@example.com';
    const { id, code: oldCode } = await emailChallenge('gus', email);
    const resendUrl = `${user('gus')}/challenges/${id}/resend`;

    const early = await portal().post(resendUrl, {}).expect(409);
    expect(early.body.error).toBe('resend_not_available');

    await verify('gus', id, wrongCodeFor(oldCode)).expect(422);
    t.clock.advance(10_000);
    const cooling = await portal().post(resendUrl, {}).expect(429);
    expect(cooling.body.error).toBe('resend_cooldown');
    expect(cooling.body.retryAfterSeconds).toBeGreaterThanOrEqual(15);
    expect(cooling.body.retryAfterSeconds).toBeLessThanOrEqual(20);
    expect(cooling.headers['retry-after']).toBe(String(cooling.body.retryAfterSeconds));

    t.clock.advance(20_000);
    const resent = await portal().post(resendUrl, {}).expect(202);
    expect(resent.body.sentTo).toContain('*');
    expect(JSON.stringify(resent.body)).not.toContain(email);
    const second = await nextMail(email);
    const newCode = codeFrom(second);
    codes.push(newCode);
    // (The same 6 digits twice happens once in a million; this would then fail.)
    expect(newCode).not.toBe(oldCode);
    expect(second.eventId).not.toBeNull();

    const refused = await verify('gus', id, oldCode).expect(422);
    expect(refused.body).toMatchObject({ error: 'invalid_code', attemptsLeft: 1, message: INVALID(1) });
    const ok = await verify('gus', id, newCode).expect(200);
    expect(ok.body.verified).toBe(true);

    const log = await t.as('operator').get(`${user('gus')}/event-log`).expect(200);
    expect((log.body.entries as { what: string }[]).some((e) => e.what.startsWith('Email code sent again'))).toBe(true);
  });

  it('failed attempts stay counted across resends: wrong, resend, wrong, wrong locks', async () => {
    const email = 'hal.resend@example.com';
    const { id, code } = await emailChallenge('hal', email);
    const first = await verify('hal', id, wrongCodeFor(code)).expect(422);
    expect(first.body.attemptsLeft).toBe(2);
    t.clock.advance(30_000);
    await portal().post(`${user('hal')}/challenges/${id}/resend`, {}).expect(202);
    const newCode = codeFrom(await nextMail(email));
    codes.push(newCode);
    const second = await verify('hal', id, wrongCodeFor(newCode)).expect(422);
    expect(second.body).toMatchObject({ attemptsLeft: 1, message: INVALID(1) });
    const third = await verify('hal', id, wrongCodeFor(newCode)).expect(423);
    expect(third.body.error).toBe('account_locked');
    await verify('hal', id, newCode).expect(423);
  });

  it('an expired code is refused with the seed message; a new code can then be requested', async () => {
    const email = 'ivy.expiry@example.com';
    const { id, code } = await emailChallenge('ivy', email);
    t.clock.advance(10 * MINUTE + 1000);
    const expired = await verify('ivy', id, code).expect(410);
    expect(expired.body).toMatchObject({ error: 'code_expired', message: TIMED_OUT });
    // Expiry is not a failed attempt.
    const status = await portal().get(`${user('ivy')}/two-factor`).expect(200);
    expect(status.body.lockedUntil).toBeNull();

    await portal().post(`${user('ivy')}/challenges/${id}/resend`, {}).expect(202);
    const newCode = codeFrom(await nextMail(email));
    codes.push(newCode);
    await verify('ivy', id, newCode).expect(200);
  });

  it('a code is still good just before its expiry', async () => {
    const email = 'jay.expiry@example.com';
    const { id, code } = await emailChallenge('jay', email);
    t.clock.advance(10 * MINUTE - 5000);
    await verify('jay', id, code).expect(200);
  });

  it('a store policy of codeTtlMinutes 1 is honoured', async () => {
    // store-2 (portal2) so the other tests on store-1 keep the default expiry.
    const email = 'kim.short@example.com';
    addresses.push(email);
    const url = accountUrl('store-2', 'kim');
    const policy = await t.as('admin').put('/v1/tenants/store-2/policy', { emailOtpRequired: true, codeTtlMinutes: 1 }).expect(200);
    expect(policy.body).toMatchObject({ tenantId: 'store-2', emailOtpRequired: true, codeTtlMinutes: 1 });

    const before = t.clock.now();
    const first = await t.as('portal2').post(`${url}/challenges`, { email }).expect(200);
    expectInstantAround(first.body.expiresAt, before, t.clock.now(), 1 * MINUTE);
    const mail = await nextMail(email);
    const code = codeFrom(mail);
    codes.push(code);
    expect(mail.text).toContain('1 minute');
    expect(mail.text).not.toContain('10 minutes');
    t.clock.advance(1 * MINUTE + 1000);
    const expired = await t.as('portal2').post(`${url}/challenges/${first.body.challengeId}/verify`, { code }).expect(410);
    expect(expired.body).toMatchObject({ error: 'code_expired', message: TIMED_OUT });

    const second = await t.as('portal2').post(`${url}/challenges`, { email }).expect(200);
    const code2 = codeFrom(await nextMail(email));
    codes.push(code2);
    t.clock.advance(50_000);
    await t.as('portal2').post(`${url}/challenges/${second.body.challengeId}/verify`, { code: code2 }).expect(200);
  });

  it('"remember my device" skips the code for trustedDeviceDays (2), then asks again', async () => {
    const email = 'lea.device@example.com';
    const { id, code } = await emailChallenge('lea', email);
    const before = t.clock.now();
    const ok = await verify('lea', id, code, { rememberDevice: true }).expect(200);
    expect(ok.body.verified).toBe(true);
    const deviceToken = ok.body.deviceToken as string;
    expect(typeof deviceToken).toBe('string');
    expect(deviceToken.length).toBeGreaterThanOrEqual(20);
    expectInstantAround(ok.body.deviceTrustedUntil, before, t.clock.now(), 2 * 24 * 60 * MINUTE);

    const skipped = await portal().post(`${user('lea')}/challenges`, { email, deviceToken }).expect(200);
    expect(skipped.body).toEqual({ required: false, reason: 'trusted_device' });
    // The token belongs to this account only.
    const other = await emailChallenge('lea-other', 'lea.other@example.com', { deviceToken });
    expect(other.body.required).toBe(true);

    t.clock.advance(2 * 24 * 60 * MINUTE - 60_000);
    const stillTrusted = await portal().post(`${user('lea')}/challenges`, { email, deviceToken }).expect(200);
    expect(stillTrusted.body).toEqual({ required: false, reason: 'trusted_device' });
    t.clock.advance(2 * 60_000);
    const expired = await emailChallenge('lea', email, { deviceToken });
    expect(expired.body).toMatchObject({ required: true, method: 'email' });
    await verify('lea', expired.id, expired.code).expect(200);
  });

  it('after a password reset, a remembered device no longer skips the code', async () => {
    const email = 'max.reset@example.com';
    const { id, code } = await emailChallenge('max', email);
    const ok = await verify('max', id, code, { rememberDevice: true }).expect(200);
    const deviceToken = ok.body.deviceToken as string;
    const skipped = await portal().post(`${user('max')}/challenges`, { email, deviceToken }).expect(200);
    expect(skipped.body).toEqual({ required: false, reason: 'trusted_device' });

    const reset = await portal().post(`${user('max')}/password-reset`, {}).expect(200);
    expect(reset.body).toMatchObject({ twoFactorRequiredAtNextLogin: true });
    const required = await emailChallenge('max', email, { deviceToken });
    expect(required.body).toMatchObject({ required: true, method: 'email' });
    await verify('max', required.id, required.code).expect(200);

    const log = await t.as('operator').get(`${user('max')}/event-log`).expect(200);
    const whats = (log.body.entries as { what: string }[]).map((e) => e.what);
    expect(whats).toContain('Password reset recorded; the next login asks for 2FA where it is on');
  });

  it('after a reseller disables the account\'s authenticator app, a remembered device no longer counts', async () => {
    const email = 'ned.totp@example.com';
    addresses.push(email);
    const url = user('ned');
    const setup = await portal().post(`${url}/two-factor/totp/setup`, { email }).expect(200);
    const secret = setup.body.secret as string;
    await portal().post(`${url}/two-factor/totp/confirm`, { code: totpCodeAt(secret, t.clock.now().getTime()) }).expect(200);
    t.clock.advance(31_000);

    // With an authenticator app the login asks for its code, even though the store requires email codes.
    const challenge = await portal().post(`${url}/challenges`, { email }).expect(200);
    expect(challenge.body).toMatchObject({ required: true, method: 'totp' });
    const ok = await verify('ned', challenge.body.challengeId, totpCodeAt(secret, t.clock.now().getTime()), { rememberDevice: true }).expect(200);
    const deviceToken = ok.body.deviceToken as string;
    expect(typeof deviceToken).toBe('string');
    const skipped = await portal().post(`${url}/challenges`, { email, deviceToken }).expect(200);
    expect(skipped.body).toEqual({ required: false, reason: 'trusted_device' });

    await t.as('operator').post(`${url}/two-factor/reseller-disable`, { operatorId: 'reseller-ann' }).expect(200);
    const reseller = await nextMail(email, /turned off by your reseller/i);
    expect(reseller.text).toContain('remembered devices no longer work');

    // 2FA by authenticator is off, but the store still requires email codes: the device is no longer trusted.
    const required = await emailChallenge('ned', email, { deviceToken });
    expect(required.body).toMatchObject({ required: true, method: 'email' });
    await verify('ned', required.id, required.code).expect(200);

    // Email codes are the tenant's rule, not this account's: neither the reseller nor the customer can turn them off.
    const again = await t.as('operator').post(`${url}/two-factor/reseller-disable`, { operatorId: 'reseller-ann' }).expect(409);
    expect(again.body).toMatchObject({ error: 'enforced_by_policy', message: expect.stringContaining("tenant's 2FA policy") });
    expect((await portal().post(`${url}/two-factor/disable`, { confirmation: 'password' }).expect(409)).body.error).toBe('enforced_by_policy');
    expect((await t.as('operator').get(`${url}/two-factor`).expect(200)).body.status).toBe('Enabled');
  });

  it('the event log shows masked addresses only, never an address or a code', async () => {
    for (const userId of ['carol', 'dan', 'gus', 'hal', 'ivy']) {
      const log = await t.as('operator').get(`${user(userId)}/event-log`).expect(200);
      const entries = log.body.entries as { what: string; type: string }[];
      const sent = entries.filter((e) => e.type === 'CodeIssued');
      expect(sent.length).toBeGreaterThan(0);
      for (const entry of sent) expect(entry.what).toMatch(/^Email code sent( again)? to \S*\*\S*, valid \d+ minutes?$/);
      const text = JSON.stringify(log.body);
      for (const address of addresses) expect(text).not.toContain(address);
      for (const code of codes) expect(clearOccurrences(text, code)).toEqual([]);
    }
    const dan = await t.as('operator').get(`${user('dan')}/event-log`).expect(200);
    const whats = (dan.body.entries as { what: string }[]).map((e) => e.what);
    expect(whats.some((w) => w.startsWith('Account locked until'))).toBe(true);
    expect(whats.some((w) => w.startsWith('Security notification "account locked" sent to') && w.includes('*'))).toBe(true);
    expect(whats.filter((w) => w.startsWith('Failed email attempt'))).toHaveLength(3);

    // Raw events, for auditors: sealed and hashed, never in the clear.
    const raw = await t.as('auditor').get('/v1/events?limit=1000').expect(200);
    const rawText = JSON.stringify(raw.body);
    expect(raw.body.events.length).toBeGreaterThan(20);
    for (const address of addresses) expect(rawText).not.toContain(address);
    for (const code of codes) expect(clearOccurrences(rawText, code)).toEqual([]);
  });

  it('each code mail goes to its one recipient and names the event that caused it', async () => {
    for (const mail of smtp.messages.filter((m) => /verification code/i.test(m.subject) && addresses.some((a) => sentTo(a)(m)))) {
      expect(mail.envelopeTo).toHaveLength(1);
      expect(mail.eventId).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('the data directory, SQLite database included, never holds a clear email code or address', async () => {
    expect(codes.length).toBeGreaterThan(10);
    const everything = readAllFiles(t.dataDir).toString('latin1');
    expect(everything.length).toBeGreaterThan(0);
    for (const address of addresses) expect(everything).not.toContain(address);
    for (const code of codes) expect(clearOccurrences(everything, code)).toEqual([]);
  });
});

describe('admin console (global) settings are separate from store settings', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ SMTP_URL: smtp.url });
  });
  afterAll(() => t.close());

  it('changing the admin policy leaves the store policy alone, and the other way round', async () => {
    const admin = await t.as('admin').put('/v1/tenants/admin/policy', { emailOtpRequired: true, codeTtlMinutes: 5, maxFailedAttempts: 2, lockoutMinutes: 15 }).expect(200);
    expect(admin.body).toMatchObject({ tenantId: 'admin', emailOtpRequired: true, codeTtlMinutes: 5, maxFailedAttempts: 2, lockoutMinutes: 15 });
    const store = await t.as('admin').get('/v1/tenants/store-1/policy').expect(200);
    expect(store.body).toEqual({
      tenantId: 'store-1',
      emailOtpRequired: false,
      codeTtlMinutes: 10,
      trustedDeviceDays: 2,
      maxFailedAttempts: 3,
      lockoutMinutes: 30,
      resendCooldownSeconds: 30,
      displayName: null,
    });

    await t.as('admin').put('/v1/tenants/store-1/policy', { codeTtlMinutes: 20, trustedDeviceDays: 7 }).expect(200);
    const adminAgain = await t.as('admin').get('/v1/tenants/admin/policy').expect(200);
    expect(adminAgain.body).toEqual({
      tenantId: 'admin',
      emailOtpRequired: true,
      codeTtlMinutes: 5,
      trustedDeviceDays: 2,
      maxFailedAttempts: 2,
      lockoutMinutes: 15,
      resendCooldownSeconds: 30,
      displayName: null,
    });
    const storeAgain = await t.as('admin').get('/v1/tenants/store-1/policy').expect(200);
    expect(storeAgain.body).toMatchObject({ emailOtpRequired: false, codeTtlMinutes: 20, trustedDeviceDays: 7 });
    // An operator may read its own store's policy.
    const seen = await t.as('operator').get('/v1/tenants/store-1/policy').expect(200);
    expect(seen.body).toMatchObject({ codeTtlMinutes: 20 });
  });

  it('an admin-console user gets an email code under the admin policy; a store shopper does not', async () => {
    const email = 'root.boss@example.com';
    const before = t.clock.now();
    const challenge = await t.as('portal').post(`${accountUrl('admin', 'boss')}/challenges`, { email }).expect(200);
    expect(challenge.body).toMatchObject({ required: true, method: 'email' });
    expectInstantAround(challenge.body.expiresAt, before, t.clock.now(), 5 * MINUTE);
    const mail = await nextMail(email);
    expect(mail.subject).toContain('admin console');
    expect(mail.text).toContain('5 minutes');
    const code = codeFrom(mail);

    const shopper = await t.as('portal').post(`${accountUrl('store-1', 'shopper')}/challenges`, { email: 'shop.per@example.com' }).expect(200);
    expect(shopper.body).toEqual({ required: false, reason: 'not_enrolled' });

    // The admin policy's attempt limit and lockout apply: 2 attempts, 15 minutes.
    const url = `${accountUrl('admin', 'boss')}/challenges/${challenge.body.challengeId}/verify`;
    const wrong = await t.as('portal').post(url, { code: wrongCodeFor(code) }).expect(422);
    expect(wrong.body).toMatchObject({ attemptsLeft: 1, message: INVALID(1) });
    const lockedAt = t.clock.now();
    const locked = await t.as('portal').post(url, { code: wrongCodeFor(code) }).expect(423);
    expectInstantAround(locked.body.lockedUntil, lockedAt, t.clock.now(), 15 * MINUTE);
    const notice = await nextMail(email, /locked/i);
    expect(notice.text).toContain('admin console');
  });

  it('the store requires email codes under its own settings once its policy says so', async () => {
    await t.as('admin').put('/v1/tenants/store-1/policy', { emailOtpRequired: true }).expect(200);
    const email = 'shop.per@example.com';
    const before = t.clock.now();
    const challenge = await t.as('portal').post(`${accountUrl('store-1', 'shopper')}/challenges`, { email }).expect(200);
    expect(challenge.body).toMatchObject({ required: true, method: 'email' });
    expectInstantAround(challenge.body.expiresAt, before, t.clock.now(), 20 * MINUTE);
    const mail = await nextMail(email);
    expect(mail.subject).toContain('store store-1');
    expect(mail.text).toContain('20 minutes');
    const ok = await t.as('portal').post(`${accountUrl('store-1', 'shopper')}/challenges/${challenge.body.challengeId}/verify`, { code: codeFrom(mail), rememberDevice: true }).expect(200);
    // The store's device validity (7 days), not the admin console's (2).
    expectInstantAround(ok.body.deviceTrustedUntil, before, t.clock.now(), 7 * 24 * 60 * MINUTE);
    const admin = await t.as('admin').get('/v1/tenants/admin/policy').expect(200);
    expect(admin.body).toMatchObject({ codeTtlMinutes: 5, trustedDeviceDays: 2 });
  });

  it('out-of-range settings are refused and change nothing', async () => {
    const bad = await t.as('admin').put('/v1/tenants/admin/policy', { codeTtlMinutes: 361 }).expect(400);
    expect(bad.body.error).toBe('invalid_policy');
    await t.as('admin').put('/v1/tenants/admin/policy', { codeTtlMinutes: 0 }).expect(400);
    await t.as('admin').put('/v1/tenants/admin/policy', { trustedDeviceDays: 366 }).expect(400);
    await t.as('admin').put('/v1/tenants/admin/policy', { trustedDeviceDays: 0 }).expect(400);
    const admin = await t.as('admin').get('/v1/tenants/admin/policy').expect(200);
    expect(admin.body).toMatchObject({ codeTtlMinutes: 5, trustedDeviceDays: 2 });
    // Only admins change policy.
    await t.as('operator').put('/v1/tenants/store-1/policy', { codeTtlMinutes: 30 }).expect(403);
  });
});
