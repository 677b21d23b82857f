import { escapeHtml, formatInstant, NOTIFICATION_KINDS, placeName, renderCodeEmail, renderNotificationEmail } from './templates';

const codeInput = { code: '042917', ttlMinutes: 10, tenantId: 'acme', expiresAt: '2025-03-01T14:15:30.000Z', issuer: 'Acme Shop' };

describe('escapeHtml', () => {
  it('escapes the five HTML-significant characters', () => {
    expect(escapeHtml(`<a href="x">Tom & Jerry's</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;');
  });

  it('leaves plain text alone', () => {
    expect(escapeHtml('store acme-1')).toBe('store acme-1');
  });
});

describe('placeName and formatInstant', () => {
  it('reads the admin tenant as the admin console and any other as a store', () => {
    expect(placeName('admin')).toBe('the admin console');
    expect(placeName('acme')).toBe('store acme');
  });

  it('formats instants in UTC to the minute and shows unparseable values as given', () => {
    expect(formatInstant('2025-03-01T14:15:30.000Z')).toBe('2025-03-01 14:15 UTC');
    expect(formatInstant('2025-03-01T16:15:30+02:00')).toBe('2025-03-01 14:15 UTC');
    expect(formatInstant('soon')).toBe('soon');
  });
});

describe('renderCodeEmail', () => {
  it('states the code, the expiry, that older codes are void and what to do if it was not you', () => {
    const { subject, text, html } = renderCodeEmail(codeInput);
    expect(subject).toBe('Your Acme Shop verification code for store acme');
    expect(subject).not.toContain('042917');
    for (const body of [text, html]) {
      expect(body).toContain('042917');
      expect(body).toContain('store acme');
      expect(body).toContain('6-digit code');
      expect(body).toContain('expires in 10 minutes');
      expect(body).toContain('2025-03-01 14:15 UTC');
      expect(body).toContain('no longer works');
      expect(body).toContain('If you did not try to log in, ignore this email');
    }
  });

  it('says "1 minute" for a one-minute code and uses plural otherwise', () => {
    expect(renderCodeEmail({ ...codeInput, ttlMinutes: 1 }).text).toContain('expires in 1 minute (');
    expect(renderCodeEmail({ ...codeInput, ttlMinutes: 2 }).text).toContain('expires in 2 minutes');
    expect(renderCodeEmail({ ...codeInput, ttlMinutes: 360 }).text).toContain('expires in 360 minutes');
  });

  it('names the admin console for the admin tenant', () => {
    const { subject, text, html } = renderCodeEmail({ ...codeInput, tenantId: 'admin' });
    expect(subject).toBe('Your Acme Shop verification code for the admin console');
    expect(text).toContain('Your verification code for the admin console is:');
    expect(html).toContain('the admin console');
    expect(text).not.toContain('store admin');
  });

  it("a tenant's display name names the place and signs the email instead of the platform", () => {
    const { subject, text, html } = renderCodeEmail({ ...codeInput, tenantName: 'Acme Outdoor' });
    expect(subject).toBe('Your Acme Outdoor verification code');
    expect(text).toContain('Your verification code for Acme Outdoor is:');
    expect(text).toContain('-- Acme Outdoor');
    expect(text).not.toContain('store acme');
    expect(html).toContain('Acme Outdoor');
    const notice = renderNotificationEmail({ kind: 'account_locked', tenantId: 'acme', at: '2025-03-01T14:05:00.000Z', issuer: 'Acme Shop', tenantName: 'Acme <Outdoor>' });
    expect(notice.subject).toBe('Acme <Outdoor>: Your account was locked after failed verification attempts');
    expect(notice.text).toContain('Your account at Acme <Outdoor> was locked');
    expect(notice.html).toContain('Acme &lt;Outdoor&gt;');
    expect(notice.html).not.toContain('<Outdoor>');
  });

  it('escapes every value that reaches the HTML part', () => {
    const { html, text } = renderCodeEmail({ ...codeInput, issuer: '<script>alert(1)</script>', tenantId: 'a&b' });
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('store a&amp;b');
    expect(text).toContain('store a&b');
  });

  it('keeps the subject on one line', () => {
    expect(renderCodeEmail({ ...codeInput, issuer: 'Evil\r\nBcc: x@example.com' }).subject).not.toMatch(/[\r\n]/);
  });
});

describe('renderNotificationEmail', () => {
  const at = '2025-03-01T09:05:00.000Z';

  it.each([
    ['two_factor_enabled', /turned on/i, 'Two-factor authentication was turned on for your account at store acme on 2025-03-01 09:05 UTC.'],
    ['two_factor_disabled', /turned off/i, 'Two-factor authentication was turned off for your account at store acme'],
    ['reseller_disabled', /by your reseller/i, 'Your reseller turned off two-factor authentication for your account at store acme'],
    ['account_locked', /locked/i, 'was locked on 2025-03-01 09:05 UTC after too many failed verification attempts'],
    ['recovery_code_used', /recovery code/i, 'consider setting up two-factor authentication again'],
  ] as const)('%s', (kind, subjectPattern, sentence) => {
    const { subject, text, html } = renderNotificationEmail({ kind, tenantId: 'acme', at, issuer: 'Acme Shop' });
    expect(subject).toMatch(subjectPattern);
    expect(subject.startsWith('Acme Shop: ')).toBe(true);
    expect(text).toContain(sentence);
    expect(html).toContain(escapeHtml(sentence));
  });

  it('renders every kind for the admin console, each with its own subject', () => {
    const subjects = NOTIFICATION_KINDS.map((kind) => {
      const email = renderNotificationEmail({ kind, tenantId: 'admin', at, issuer: 'twostep' });
      expect(email.text).toContain('the admin console');
      expect(email.text).not.toContain('store admin');
      return email.subject;
    });
    expect(new Set(subjects).size).toBe(NOTIFICATION_KINDS.length);
  });

  it('escapes the HTML part', () => {
    const { html } = renderNotificationEmail({ kind: 'account_locked', tenantId: '<b>', at, issuer: '"Q" & A' });
    expect(html).not.toContain('<b>');
    expect(html).toContain('store &lt;b&gt;');
    expect(html).toContain('&quot;Q&quot; &amp; A');
  });

  it('refuses an unknown kind rather than sending an empty email', () => {
    expect(() => renderNotificationEmail({ kind: 'nope' as never, tenantId: 'acme', at, issuer: 'x' })).toThrow(/unknown notification kind/);
  });
});
