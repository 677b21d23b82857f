import { ADMIN_TENANT, type NotificationKind } from '@twostep/domain';

/**
 * Email bodies, pure: no I/O, no clock. Every value that reaches HTML goes through
 * `escapeHtml`; the plain-text part is the one mail clients show in previews, so it carries
 * every fact the HTML part does.
 */
export interface RenderedEmail {
  subject: string;
  text: string;
  html: string;
}

export interface CodeEmailInput {
  /** The plaintext 6-digit code. */
  code: string;
  ttlMinutes: number;
  tenantId: string;
  /** ISO-8601 instant the code stops working. */
  expiresAt: string;
  /** Product name shown to people, e.g. "twostep" or the platform's brand (TWOSTEP_ISSUER). */
  issuer: string;
  /** The tenant's display name (policy `displayName`), when it has one: it then signs the email. */
  tenantName?: string;
}

export interface NotificationEmailInput {
  kind: NotificationKind;
  tenantId: string;
  /** ISO-8601 instant the change happened. */
  at: string;
  issuer: string;
  tenantName?: string;
}

export const NOTIFICATION_KINDS: readonly NotificationKind[] = [
  'two_factor_enabled',
  'two_factor_disabled',
  'reseller_disabled',
  'account_locked',
  'recovery_code_used',
  'passkey_added',
];

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (char) => HTML_ESCAPES[char]!);
}

/** How a tenant reads in a sentence: "the admin console" or "store acme". */
export function placeName(tenantId: string): string {
  return tenantId === ADMIN_TENANT ? 'the admin console' : `store ${tenantId}`;
}

/**
 * Who speaks in an email: a tenant with a display name signs with it and is named by it;
 * otherwise the platform's name signs and the tenant is "store acme".
 */
function voice(input: { tenantId: string; issuer: string; tenantName?: string }): { brand: string; place: string } {
  return input.tenantName ? { brand: input.tenantName, place: input.tenantName } : { brand: input.issuer, place: placeName(input.tenantId) };
}

/** "2025-03-01 14:05 UTC"; an unparseable value is shown as given rather than as "Invalid Date". */
export function formatInstant(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

function minutes(n: number): string {
  return n === 1 ? '1 minute' : `${n} minutes`;
}

/** Subject lines are headers: no line breaks, whatever the inputs hold. */
function oneLine(value: string): string {
  return value.replace(/[\r\n]+/g, ' ').trim();
}

function layout(issuer: string, title: string, paragraphs: string[]): string {
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${escapeHtml(title)}</title></head>`,
    '<body style="margin:0;padding:24px;background:#f5f5f7;font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#1d1d1f;">',
    '<div style="max-width:520px;margin:0 auto;background:#ffffff;border-radius:8px;padding:24px;">',
    `<p style="margin:0 0 16px;font-size:13px;color:#6e6e73;">${escapeHtml(issuer)}</p>`,
    `<h1 style="margin:0 0 16px;font-size:20px;">${escapeHtml(title)}</h1>`,
    ...paragraphs,
    '</div>',
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

/** A paragraph from already-escaped HTML. */
function p(html: string): string {
  return `<p style="margin:0 0 16px;font-size:15px;line-height:1.5;">${html}</p>`;
}

export function renderCodeEmail(input: CodeEmailInput): RenderedEmail {
  const { brand, place } = voice(input);
  const ttl = minutes(input.ttlMinutes);
  const until = formatInstant(input.expiresAt);
  const subject = oneLine(input.tenantName ? `Your ${brand} verification code` : `Your ${brand} verification code for ${place}`);
  const text = [
    `Your verification code for ${place} is:`,
    '',
    `    ${input.code}`,
    '',
    `Enter this 6-digit code to finish logging in. It expires in ${ttl} (at ${until}).`,
    'Any code we sent you before this one no longer works.',
    '',
    'If you did not try to log in, ignore this email: nobody can log in without this code.',
    'Someone may know your password, so consider changing it.',
    '',
    `-- ${brand}`,
    '',
  ].join('\n');
  const html = layout(brand, 'Your verification code', [
    p(`Your verification code for ${escapeHtml(place)} is:`),
    `<p style="margin:0 0 16px;font-size:32px;font-weight:600;letter-spacing:6px;font-family:SFMono-Regular,Consolas,monospace;">${escapeHtml(input.code)}</p>`,
    p(`Enter this 6-digit code to finish logging in. It expires in ${escapeHtml(ttl)} (at ${escapeHtml(until)}).`),
    p('Any code we sent you before this one no longer works.'),
    p('If you did not try to log in, ignore this email: nobody can log in without this code. Someone may know your password, so consider changing it.'),
  ]);
  return { subject, text, html };
}

interface NotificationCopy {
  subject: string;
  title: string;
  /** Sentences, plain text; escaped for HTML by the renderer. */
  body: string[];
}

function notificationCopy(kind: NotificationKind, place: string, when: string): NotificationCopy {
  const notYou = 'If this was not you, contact your administrator or support right away and change your password.';
  switch (kind) {
    case 'two_factor_enabled':
      return {
        subject: 'Two-factor authentication was turned on',
        title: 'Two-factor authentication is on',
        body: [
          `Two-factor authentication was turned on for your account at ${place} on ${when}.`,
          'From now on, logging in needs a verification code as well as your password.',
          notYou,
        ],
      };
    case 'two_factor_disabled':
      return {
        subject: 'Two-factor authentication was turned off',
        title: 'Two-factor authentication is off',
        body: [
          `Two-factor authentication was turned off for your account at ${place} on ${when}.`,
          'Your recovery codes and remembered devices no longer work. Logging in now needs only your password.',
          notYou,
        ],
      };
    case 'reseller_disabled':
      return {
        subject: 'Two-factor authentication was turned off by your reseller',
        title: 'Your reseller turned off two-factor authentication',
        body: [
          `Your reseller turned off two-factor authentication for your account at ${place} on ${when}.`,
          'Your recovery codes and remembered devices no longer work. You can set up two-factor authentication again at any time.',
          'If you did not ask for this, contact your reseller right away.',
        ],
      };
    case 'account_locked':
      return {
        subject: 'Your account was locked after failed verification attempts',
        title: 'Your account is temporarily locked',
        body: [
          `Your account at ${place} was locked on ${when} after too many failed verification attempts.`,
          'No one can log in to it until the lock ends; then you can try again.',
          'If those attempts were not yours, someone may know your password: change it as soon as you can.',
        ],
      };
    case 'recovery_code_used':
      return {
        subject: 'A recovery code was used to log in',
        title: 'A recovery code was used',
        body: [
          `A recovery code was used to log in to your account at ${place} on ${when}. That code no longer works.`,
          'Two-factor authentication is still on. If you lost access to your authenticator, consider setting up two-factor authentication again; that also gives you a fresh set of recovery codes.',
          notYou,
        ],
      };
    case 'passkey_added':
      return {
        subject: 'A passkey was added to your account',
        title: 'A passkey was added',
        body: [
          `A passkey was added to your account at ${place} on ${when}. It can now stand in for your authenticator app code when you log in.`,
          'You can see and remove your passkeys in your account\'s two-factor authentication settings.',
          notYou,
        ],
      };
    default: {
      const unknown: never = kind;
      throw new Error(`unknown notification kind: ${String(unknown)}`);
    }
  }
}

export function renderNotificationEmail(input: NotificationEmailInput): RenderedEmail {
  const { brand, place } = voice(input);
  const copy = notificationCopy(input.kind, place, formatInstant(input.at));
  const subject = oneLine(`${brand}: ${copy.subject}`);
  const text = [...copy.body.flatMap((sentence) => [sentence, '']), `-- ${brand}`, ''].join('\n');
  const html = layout(brand, copy.title, copy.body.map((sentence) => p(escapeHtml(sentence))));
  return { subject, text, html };
}
