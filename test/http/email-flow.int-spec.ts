import { totpCodeAt } from '@twostep/crypto';
import type { TwostepClient } from '@twostep/client';
import { accountStream } from '@twostep/domain';
import { expectOk, expectRefusal } from '../support/client-answers';
import { accountUrl, readAllFiles, startTestApp, type TestApp } from '../support/harness';
import { codeFrom, sentTo, startSmtpServer, type ReceivedMail, type TestSmtpServer } from '../support/smtp';

/**
 * The email-code seed (003) end to end over HTTP on the embedded runtime, with codes and
 * security notifications delivered to a real SMTP server. Driven through @twostep/client; only
 * what the client's answers do not show (the Retry-After header, the /metrics text) goes through supertest.
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

/** A startChallenge answer that must open a challenge (a second step is required); narrows it to that shape. */
function opened<S extends { required: boolean }>(started: S): Extract<S, { required: true }> {
  expect(started).toMatchObject({ required: true });
  if (!started.required) throw new Error('a challenge was expected');
  return started as Extract<S, { required: true }>;
}

type Whats = { entries: { what: string }[] };
const whatsOf = (log: Whats) => log.entries.map((entry) => entry.what);

/** Asserts an ISO instant lies `offsetMs` after some moment in [before, after] (an absent one fails). */
function expectInstantAround(iso: string | null | undefined, before: Date, after: Date, offsetMs: number) {
  const at = Date.parse(iso ?? '');
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
  let portal: TwostepClient;
  let portal2: TwostepClient;
  let operator: TwostepClient;
  let operator2: TwostepClient;
  let admin: TwostepClient;
  let auditor: TwostepClient;

  const acct = (userId: string) => ({ tenantId: tenant, userId });
  const challengeRef = (userId: string, challengeId: string) => ({ ...acct(userId), challengeId });
  const eventLog = async (userId: string) => expectOk(await operator.getAccountEventLog(acct(userId)));

  beforeAll(async () => {
    t = await startTestApp({ SMTP_URL: smtp.url });
    portal = await t.client('portal');
    portal2 = await t.client('portal2');
    operator = await t.client('operator');
    operator2 = await t.client('operator2');
    admin = await t.client('admin');
    auditor = await t.client('auditor');
    const policy = expectOk(await admin.updatePolicy(tenant, { emailOtpRequired: true }));
    expect(policy).toMatchObject({ tenantId: tenant, emailOtpRequired: true, codeTtlMinutes: 10, maxFailedAttempts: 3, lockoutMinutes: 30, resendCooldownSeconds: 30, trustedDeviceDays: 2 });
  });
  afterAll(() => t.close());

  /** Starts an email challenge, waits for its mail and returns both. */
  async function emailChallenge(userId: string, email: string, extra: { deviceToken?: string } = {}) {
    if (!addresses.includes(email)) addresses.push(email);
    const started = expectOk(await portal.startChallenge(acct(userId), { email, ...extra }));
    expect(started).toMatchObject({ required: true, method: 'email' });
    const body = opened(started);
    const mail = await nextMail(email);
    const code = codeFrom(mail);
    codes.push(code);
    return { id: body.challengeId, body, mail, code };
  }

  function verify(userId: string, challengeId: string, code: string, extra: { rememberDevice?: boolean } = {}) {
    return portal.verifyChallenge(challengeRef(userId, challengeId), { code, ...extra });
  }

  const resend = (userId: string, challengeId: string) => portal.resendCode(challengeRef(userId, challengeId));

  /** Three wrong codes: 2 left, 1 left, then locked. Returns the 423 refusal. */
  async function lockOut(userId: string, challengeId: string, realCode: string) {
    const wrong = wrongCodeFor(realCode);
    const first = expectRefusal(await verify(userId, challengeId, wrong), 422);
    expect(first).toMatchObject({ error: 'invalid_code', attemptsLeft: 2, message: INVALID(2) });
    const second = expectRefusal(await verify(userId, challengeId, wrong), 422);
    expect(second).toMatchObject({ error: 'invalid_code', attemptsLeft: 1, message: INVALID(1) });
    const before = t.clock.now();
    const third = expectRefusal(await verify(userId, challengeId, wrong), 423);
    const after = t.clock.now();
    expect(third.error).toBe('account_locked');
    expectInstantAround(third.lockedUntil, before, after, 30 * MINUTE);
    return third;
  }

  it('a login sends a 6-digit code to the given address and the code verifies it', async () => {
    const email = 'carol.buyer@example.com';
    addresses.push(email);
    const before = t.clock.now();
    const started = expectOk(await portal.startChallenge(acct('carol'), { email }));
    const after = t.clock.now();
    expect(started).toMatchObject({ required: true, method: 'email' });
    const body = opened(started);
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

    const status = expectOk(await portal.getStatus(acct('carol')));
    expect(status).toMatchObject({ lastCodeSent: { to: body.sentTo } });
    expect(JSON.stringify(status)).not.toContain(email);
    expect(JSON.stringify(status)).not.toContain(code);

    const ok = expectOk(await verify('carol', body.challengeId, code));
    expect(ok).toEqual({ verified: true });
    // The challenge is spent: the same code does not log in twice.
    const again = await verify('carol', body.challengeId, code);
    expect(again.ok).toBe(false);
    expect(again.status).toBeGreaterThanOrEqual(400);
    expect(again.status).toBeLessThan(500);
  });

  it("the api's /metrics shows the embedded mailer: emails sent with their delivery delay, and both subscriptions' lag", async () => {
    await emailChallenge('metrics-mia', 'mia@example.com');
    // /metrics is the Prometheus text exposition, not an api operation: plain HTTP.
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
    const status = expectOk(await portal.getStatus(acct('dan')));
    expect(status.lockedUntil).toBe(locked.lockedUntil);
    const opStatus = expectOk(await operator.getStatus(acct('dan')));
    expect(opStatus.lockedUntil).toBe(locked.lockedUntil);

    // No login attempt is possible while locked: not a new challenge, not the right code, not a resend.
    const blocked = expectRefusal(await portal.startChallenge(acct('dan'), { email }), 423);
    expect(blocked).toMatchObject({ error: 'account_locked', lockedUntil: locked.lockedUntil });
    expectRefusal(await verify('dan', id, code), 423);
    expectRefusal(await resend('dan', id), 423);
    t.clock.advance(29 * MINUTE);
    expectRefusal(await portal.startChallenge(acct('dan'), { email }), 423);

    // The lock ends by itself.
    t.clock.advance(1 * MINUTE + 1000);
    const statusAfter = expectOk(await portal.getStatus(acct('dan')));
    expect(statusAfter.lockedUntil).toBeNull();
    const next = await emailChallenge('dan', email);
    const ok = expectOk(await verify('dan', next.id, next.code));
    expect(ok.verified).toBe(true);
  });

  it('the counter starts afresh after a lock ends', async () => {
    const email = 'erin.count@example.com';
    const first = await emailChallenge('erin', email);
    await lockOut('erin', first.id, first.code);
    await nextMail(email, /locked/i);
    t.clock.advance(30 * MINUTE + 1000);
    const second = await emailChallenge('erin', email);
    const wrong = expectRefusal(await verify('erin', second.id, wrongCodeFor(second.code)), 422);
    expect(wrong).toMatchObject({ attemptsLeft: 2, message: INVALID(2) });
  });

  it('an operator or admin can lift a lock early; unlocking an unlocked account is a 409', async () => {
    const email = 'fay.unlock@example.com';
    const first = await emailChallenge('fay', email);
    await lockOut('fay', first.id, first.code);

    const unlocked = expectOk(await operator.unlockAccount(acct('fay'), { operatorId: 'ops-olga' }));
    expect(unlocked).toEqual({ locked: false });
    const status = expectOk(await portal.getStatus(acct('fay')));
    expect(status.lockedUntil).toBeNull();
    // A fresh start: a new challenge, and a full set of attempts.
    const second = await emailChallenge('fay', email);
    const wrong = expectRefusal(await verify('fay', second.id, wrongCodeFor(second.code)), 422);
    expect(wrong.message).toBe(INVALID(2));
    expectOk(await verify('fay', second.id, second.code));

    const notLocked = expectRefusal(await operator.unlockAccount(acct('fay'), { operatorId: 'ops-olga' }), 409);
    expect(notLocked.error).toBe('not_locked');

    const third = await emailChallenge('fay', email);
    await lockOut('fay', third.id, third.code);
    expectOk(await admin.unlockAccount(acct('fay'), { operatorId: 'root' }));
    const fourth = await emailChallenge('fay', email);
    expectOk(await verify('fay', fourth.id, fourth.code));
    const again = expectRefusal(await admin.unlockAccount(acct('fay'), { operatorId: 'root' }), 409);
    expect(again.error).toBe('not_locked');

    // Another store's operator cannot reach this account.
    const foreign = await operator2.unlockAccount(acct('fay'), { operatorId: 'ops-x' });
    expect(foreign.ok).toBe(false);
    expect([403, 404]).toContain(foreign.status);

    const whats = whatsOf(await eventLog('fay'));
    expect(whats).toContain('Account unlocked by ops-olga');
    expect(whats).toContain('Account unlocked by root');
  });

  it('a login page refreshed inside the cooldown gets the open challenge back with the 429, and goes on with it', async () => {
    const email = 'hana.refresh@example.com';
    const first = await emailChallenge('hana', email);
    const refreshed = expectRefusal(await portal.startChallenge(acct('hana'), {}), 429);
    expect(refreshed).toMatchObject({ error: 'resend_cooldown', challengeId: first.id, sentTo: first.body.sentTo, expiresAt: first.body.expiresAt });
    expectOk(await verify('hana', refreshed.challengeId as string, first.code));
  });

  it('a challenge without an address says where the code went: the address the account used last', async () => {
    const email = 'ivo.known@example.com';
    const first = await emailChallenge('ivo', email);
    expectOk(await verify('ivo', first.id, first.code));
    t.clock.advance(60_000);
    const again = expectOk(await portal.startChallenge(acct('ivo'), {}));
    expect(again).toMatchObject({ required: true, method: 'email', sentTo: first.body.sentTo });
    expect(opened(again).sentTo).toMatch(/\*/);
    const mail = await nextMail(email);
    codes.push(codeFrom(mail));
  });

  it('resend: not before an attempt, not within the cooldown, then a new code that replaces the old one', async () => {
    const email = 'gus.resend@example.com';
    const { id, code: oldCode } = await emailChallenge('gus', email);

    const early = expectRefusal(await resend('gus', id), 409);
    expect(early.error).toBe('resend_not_available');

    expectRefusal(await verify('gus', id, wrongCodeFor(oldCode)), 422);
    t.clock.advance(10_000);
    // Over supertest: the Retry-After header is not part of the client's answer.
    const cooling = await t.as('portal').post(`${accountUrl(tenant, 'gus')}/challenges/${id}/resend`, {}).expect(429);
    expect(cooling.body.error).toBe('resend_cooldown');
    expect(cooling.body.retryAfterSeconds).toBeGreaterThanOrEqual(15);
    expect(cooling.body.retryAfterSeconds).toBeLessThanOrEqual(20);
    expect(cooling.headers['retry-after']).toBe(String(cooling.body.retryAfterSeconds));

    t.clock.advance(20_000);
    const resent = expectOk(await resend('gus', id), 202);
    expect(resent.sentTo).toContain('*');
    expect(JSON.stringify(resent)).not.toContain(email);
    const second = await nextMail(email);
    const newCode = codeFrom(second);
    codes.push(newCode);
    // (The same 6 digits twice happens once in a million; this would then fail.)
    expect(newCode).not.toBe(oldCode);
    expect(second.eventId).not.toBeNull();

    const refused = expectRefusal(await verify('gus', id, oldCode), 422);
    expect(refused).toMatchObject({ error: 'invalid_code', attemptsLeft: 1, message: INVALID(1) });
    const ok = expectOk(await verify('gus', id, newCode));
    expect(ok.verified).toBe(true);

    expect(whatsOf(await eventLog('gus')).some((what) => what.startsWith('Email code sent again'))).toBe(true);
  });

  it('failed attempts stay counted across resends: wrong, resend, wrong, wrong locks', async () => {
    const email = 'hal.resend@example.com';
    const { id, code } = await emailChallenge('hal', email);
    const first = expectRefusal(await verify('hal', id, wrongCodeFor(code)), 422);
    expect(first.attemptsLeft).toBe(2);
    t.clock.advance(30_000);
    expectOk(await resend('hal', id), 202);
    const newCode = codeFrom(await nextMail(email));
    codes.push(newCode);
    const second = expectRefusal(await verify('hal', id, wrongCodeFor(newCode)), 422);
    expect(second).toMatchObject({ attemptsLeft: 1, message: INVALID(1) });
    const third = expectRefusal(await verify('hal', id, wrongCodeFor(newCode)), 423);
    expect(third.error).toBe('account_locked');
    expectRefusal(await verify('hal', id, newCode), 423);
  });

  it('an expired code is refused with the seed message; a new code can then be requested', async () => {
    const email = 'ivy.expiry@example.com';
    const { id, code } = await emailChallenge('ivy', email);
    t.clock.advance(10 * MINUTE + 1000);
    const expired = expectRefusal(await verify('ivy', id, code), 410);
    expect(expired).toMatchObject({ error: 'code_expired', message: TIMED_OUT });
    // Expiry is not a failed attempt.
    const status = expectOk(await portal.getStatus(acct('ivy')));
    expect(status.lockedUntil).toBeNull();

    expectOk(await resend('ivy', id), 202);
    const newCode = codeFrom(await nextMail(email));
    codes.push(newCode);
    expectOk(await verify('ivy', id, newCode));
  });

  it('a code is still good just before its expiry', async () => {
    const email = 'jay.expiry@example.com';
    const { id, code } = await emailChallenge('jay', email);
    t.clock.advance(10 * MINUTE - 5000);
    expectOk(await verify('jay', id, code));
  });

  it('a store policy of codeTtlMinutes 1 is honoured', async () => {
    // store-2 (portal2) so the other tests on store-1 keep the default expiry.
    const email = 'kim.short@example.com';
    addresses.push(email);
    const kim = { tenantId: 'store-2', userId: 'kim' };
    const policy = expectOk(await admin.updatePolicy('store-2', { emailOtpRequired: true, codeTtlMinutes: 1 }));
    expect(policy).toMatchObject({ tenantId: 'store-2', emailOtpRequired: true, codeTtlMinutes: 1 });

    const before = t.clock.now();
    const first = opened(expectOk(await portal2.startChallenge(kim, { email })));
    expectInstantAround(first.expiresAt, before, t.clock.now(), 1 * MINUTE);
    const mail = await nextMail(email);
    const code = codeFrom(mail);
    codes.push(code);
    expect(mail.text).toContain('1 minute');
    expect(mail.text).not.toContain('10 minutes');
    t.clock.advance(1 * MINUTE + 1000);
    const expired = expectRefusal(await portal2.verifyChallenge({ ...kim, challengeId: first.challengeId }, { code }), 410);
    expect(expired).toMatchObject({ error: 'code_expired', message: TIMED_OUT });

    const second = opened(expectOk(await portal2.startChallenge(kim, { email })));
    const code2 = codeFrom(await nextMail(email));
    codes.push(code2);
    t.clock.advance(50_000);
    expectOk(await portal2.verifyChallenge({ ...kim, challengeId: second.challengeId }, { code: code2 }));
  });

  it('"remember my device" skips the code for trustedDeviceDays (2), then asks again', async () => {
    const email = 'lea.device@example.com';
    const { id, code } = await emailChallenge('lea', email);
    const before = t.clock.now();
    const ok = expectOk(await verify('lea', id, code, { rememberDevice: true }));
    expect(ok.verified).toBe(true);
    const deviceToken = ok.deviceToken as string;
    expect(typeof deviceToken).toBe('string');
    expect(deviceToken.length).toBeGreaterThanOrEqual(20);
    expectInstantAround(ok.deviceTrustedUntil, before, t.clock.now(), 2 * 24 * 60 * MINUTE);

    const skipped = expectOk(await portal.startChallenge(acct('lea'), { email, deviceToken }));
    expect(skipped).toEqual({ required: false, reason: 'trusted_device' });
    // The token belongs to this account only.
    const other = await emailChallenge('lea-other', 'lea.other@example.com', { deviceToken });
    expect(other.body.required).toBe(true);

    t.clock.advance(2 * 24 * 60 * MINUTE - 60_000);
    const stillTrusted = expectOk(await portal.startChallenge(acct('lea'), { email, deviceToken }));
    expect(stillTrusted).toEqual({ required: false, reason: 'trusted_device' });
    t.clock.advance(2 * 60_000);
    const expired = await emailChallenge('lea', email, { deviceToken });
    expect(expired.body).toMatchObject({ required: true, method: 'email' });
    expectOk(await verify('lea', expired.id, expired.code));
  });

  it('after a password reset, a remembered device no longer skips the code', async () => {
    const email = 'max.reset@example.com';
    const { id, code } = await emailChallenge('max', email);
    const ok = expectOk(await verify('max', id, code, { rememberDevice: true }));
    const deviceToken = ok.deviceToken as string;
    const skipped = expectOk(await portal.startChallenge(acct('max'), { email, deviceToken }));
    expect(skipped).toEqual({ required: false, reason: 'trusted_device' });

    const reset = expectOk(await portal.recordPasswordReset(acct('max')));
    expect(reset).toMatchObject({ twoFactorRequiredAtNextLogin: true });
    const required = await emailChallenge('max', email, { deviceToken });
    expect(required.body).toMatchObject({ required: true, method: 'email' });
    expectOk(await verify('max', required.id, required.code));

    expect(whatsOf(await eventLog('max'))).toContain('Password reset recorded; the next login asks for 2FA where it is on');
  });

  it('after a reseller disables the account\'s authenticator app, a remembered device no longer counts', async () => {
    const email = 'ned.totp@example.com';
    addresses.push(email);
    const ned = acct('ned');
    const setup = expectOk(await portal.setupTotp(ned, { email }));
    const secret = setup.secret;
    expectOk(await portal.confirmTotp(ned, { code: totpCodeAt(secret, t.clock.now().getTime()) }));
    t.clock.advance(31_000);

    // With an authenticator app the login asks for its code, even though the store requires email codes.
    const challenge = expectOk(await portal.startChallenge(ned, { email }));
    expect(challenge).toMatchObject({ required: true, method: 'totp' });
    const ok = expectOk(await verify('ned', opened(challenge).challengeId, totpCodeAt(secret, t.clock.now().getTime()), { rememberDevice: true }));
    const deviceToken = ok.deviceToken as string;
    expect(typeof deviceToken).toBe('string');
    const skipped = expectOk(await portal.startChallenge(ned, { email, deviceToken }));
    expect(skipped).toEqual({ required: false, reason: 'trusted_device' });

    expectOk(await operator.resellerDisable(ned, { operatorId: 'reseller-ann' }));
    const reseller = await nextMail(email, /turned off by your reseller/i);
    expect(reseller.text).toContain('remembered devices no longer work');

    // 2FA by authenticator is off, but the store still requires email codes: the device is no longer trusted.
    const required = await emailChallenge('ned', email, { deviceToken });
    expect(required.body).toMatchObject({ required: true, method: 'email' });
    expectOk(await verify('ned', required.id, required.code));

    // Email codes are the tenant's rule, not this account's: neither the reseller nor the customer can turn them off.
    const again = expectRefusal(await operator.resellerDisable(ned, { operatorId: 'reseller-ann' }), 409);
    expect(again).toMatchObject({ error: 'enforced_by_policy', message: expect.stringContaining("tenant's 2FA policy") });
    // (disableTwoFactor sends the customer's { confirmation: 'password' }.)
    expect(expectRefusal(await portal.disableTwoFactor(ned), 409).error).toBe('enforced_by_policy');
    expect(expectOk(await operator.getStatus(ned)).status).toBe('Enabled');
  });

  it('the event log shows masked addresses only, never an address or a code', async () => {
    for (const userId of ['carol', 'dan', 'gus', 'hal', 'ivy']) {
      const log = await eventLog(userId);
      const sent = log.entries.filter((e) => e.type === 'CodeIssued');
      expect(sent.length).toBeGreaterThan(0);
      for (const entry of sent) expect(entry.what).toMatch(/^Email code sent( again)? to \S*\*\S*, valid \d+ minutes?$/);
      const text = JSON.stringify(log);
      for (const address of addresses) expect(text).not.toContain(address);
      for (const code of codes) expect(clearOccurrences(text, code)).toEqual([]);
    }
    const whats = whatsOf(await eventLog('dan'));
    expect(whats.some((w) => w.startsWith('Account locked until'))).toBe(true);
    expect(whats.some((w) => w.startsWith('Security notification "account locked" sent to') && w.includes('*'))).toBe(true);
    expect(whats.filter((w) => w.startsWith('Failed email attempt'))).toHaveLength(3);

    // Raw events, for auditors: sealed and hashed, never in the clear.
    const raw = expectOk(await auditor.listEvents({ limit: 1000 }));
    const rawText = JSON.stringify(raw);
    expect(raw.events.length).toBeGreaterThan(20);
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
  let portal: TwostepClient;
  let operator: TwostepClient;
  let admin: TwostepClient;
  const boss = { tenantId: 'admin', userId: 'boss' };
  const shopper = { tenantId: 'store-1', userId: 'shopper' };

  beforeAll(async () => {
    t = await startTestApp({ SMTP_URL: smtp.url });
    portal = await t.client('portal');
    operator = await t.client('operator');
    admin = await t.client('admin');
  });
  afterAll(() => t.close());

  it('changing the admin policy leaves the store policy alone, and the other way round', async () => {
    const adminPolicy = expectOk(await admin.updatePolicy('admin', { emailOtpRequired: true, codeTtlMinutes: 5, maxFailedAttempts: 2, lockoutMinutes: 15 }));
    expect(adminPolicy).toMatchObject({ tenantId: 'admin', emailOtpRequired: true, codeTtlMinutes: 5, maxFailedAttempts: 2, lockoutMinutes: 15 });
    const store = expectOk(await admin.getPolicy('store-1'));
    expect(store).toEqual({
      tenantId: 'store-1',
      emailOtpRequired: false,
      codeTtlMinutes: 10,
      trustedDeviceDays: 2,
      maxFailedAttempts: 3,
      lockoutMinutes: 30,
      resendCooldownSeconds: 30,
      displayName: null,
      passkeyRpId: null,
      passkeyOrigins: [],
    });

    expectOk(await admin.updatePolicy('store-1', { codeTtlMinutes: 20, trustedDeviceDays: 7 }));
    const adminAgain = expectOk(await admin.getPolicy('admin'));
    expect(adminAgain).toEqual({
      tenantId: 'admin',
      emailOtpRequired: true,
      codeTtlMinutes: 5,
      trustedDeviceDays: 2,
      maxFailedAttempts: 2,
      lockoutMinutes: 15,
      resendCooldownSeconds: 30,
      displayName: null,
      passkeyRpId: null,
      passkeyOrigins: [],
    });
    const storeAgain = expectOk(await admin.getPolicy('store-1'));
    expect(storeAgain).toMatchObject({ emailOtpRequired: false, codeTtlMinutes: 20, trustedDeviceDays: 7 });
    // An operator may read its own store's policy.
    const seen = expectOk(await operator.getPolicy('store-1'));
    expect(seen).toMatchObject({ codeTtlMinutes: 20 });
  });

  it('an admin-console user gets an email code under the admin policy; a store shopper does not', async () => {
    const email = 'root.boss@example.com';
    const before = t.clock.now();
    const started = expectOk(await portal.startChallenge(boss, { email }));
    expect(started).toMatchObject({ required: true, method: 'email' });
    const challenge = opened(started);
    expectInstantAround(challenge.expiresAt, before, t.clock.now(), 5 * MINUTE);
    const mail = await nextMail(email);
    expect(mail.subject).toContain('admin console');
    expect(mail.text).toContain('5 minutes');
    const code = codeFrom(mail);

    const notEnrolled = expectOk(await portal.startChallenge(shopper, { email: 'shop.per@example.com' }));
    expect(notEnrolled).toEqual({ required: false, reason: 'not_enrolled' });

    // The admin policy's attempt limit and lockout apply: 2 attempts, 15 minutes.
    const ref = { ...boss, challengeId: challenge.challengeId };
    const wrong = expectRefusal(await portal.verifyChallenge(ref, { code: wrongCodeFor(code) }), 422);
    expect(wrong).toMatchObject({ attemptsLeft: 1, message: INVALID(1) });
    const lockedAt = t.clock.now();
    const locked = expectRefusal(await portal.verifyChallenge(ref, { code: wrongCodeFor(code) }), 423);
    expectInstantAround(locked.lockedUntil, lockedAt, t.clock.now(), 15 * MINUTE);
    const notice = await nextMail(email, /locked/i);
    expect(notice.text).toContain('admin console');
  });

  it('the store requires email codes under its own settings once its policy says so', async () => {
    expectOk(await admin.updatePolicy('store-1', { emailOtpRequired: true }));
    const email = 'shop.per@example.com';
    const before = t.clock.now();
    const started = expectOk(await portal.startChallenge(shopper, { email }));
    expect(started).toMatchObject({ required: true, method: 'email' });
    const challenge = opened(started);
    expectInstantAround(challenge.expiresAt, before, t.clock.now(), 20 * MINUTE);
    const mail = await nextMail(email);
    expect(mail.subject).toContain('store store-1');
    expect(mail.text).toContain('20 minutes');
    const ok = expectOk(await portal.verifyChallenge({ ...shopper, challengeId: challenge.challengeId }, { code: codeFrom(mail), rememberDevice: true }));
    // The store's device validity (7 days), not the admin console's (2).
    expectInstantAround(ok.deviceTrustedUntil, before, t.clock.now(), 7 * 24 * 60 * MINUTE);
    const adminPolicy = expectOk(await admin.getPolicy('admin'));
    expect(adminPolicy).toMatchObject({ codeTtlMinutes: 5, trustedDeviceDays: 2 });
  });

  it('out-of-range settings are refused and change nothing', async () => {
    const bad = expectRefusal(await admin.updatePolicy('admin', { codeTtlMinutes: 361 }), 400);
    expect(bad.error).toBe('invalid_policy');
    expectRefusal(await admin.updatePolicy('admin', { codeTtlMinutes: 0 }), 400);
    expectRefusal(await admin.updatePolicy('admin', { trustedDeviceDays: 366 }), 400);
    expectRefusal(await admin.updatePolicy('admin', { trustedDeviceDays: 0 }), 400);
    const adminPolicy = expectOk(await admin.getPolicy('admin'));
    expect(adminPolicy).toMatchObject({ codeTtlMinutes: 5, trustedDeviceDays: 2 });
    // Only admins change policy.
    expectRefusal(await operator.updatePolicy('store-1', { codeTtlMinutes: 30 }), 403);
  });
});
