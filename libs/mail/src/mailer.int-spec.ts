import * as fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerAddress, type SMTPServerSession } from 'smtp-server';
import { generateSealKeyPair, Opener, Sealer } from '@twostep/crypto';
import type { StoredEvent } from '@twostep/eventstore';
import { SqliteKeyValueStore } from '@twostep/readmodel';
import { deadLetterKey, Mailer, sentKey, type MailerDeps } from './mailer';
import { createMailTransport, FileMailTransport, SmtpMailTransport, type MailTransport } from './transport';

/** Real SMTP server (smtp-server), real SQLite key-value store, real seal key pair. */

interface Received {
  envelopeTo: string[];
  mail: ParsedMail;
}

interface TestSmtp {
  url: string;
  received: Received[];
  rcptAttempts: number;
  /** SMTP sessions opened so far. */
  connections: number;
  close(): Promise<void>;
}

/** `reject(n)` decides, per RCPT TO (1-based), whether to refuse it and with which reply code. */
async function startSmtp(reject: (attempt: number) => number | null = () => null): Promise<TestSmtp> {
  const state: TestSmtp = { url: '', received: [], rcptAttempts: 0, connections: 0, close: async () => {} };
  const server = new SMTPServer({
    onConnect(_session, callback) {
      state.connections++;
      callback();
    },
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    disableReverseLookup: true,
    onRcptTo(address: SMTPServerAddress, _session: SMTPServerSession, callback: (err?: Error | null) => void) {
      state.rcptAttempts++;
      const code = reject(state.rcptAttempts);
      if (code === null) return callback();
      const error = new Error(`Mailbox <${address.address}> unavailable`) as Error & { responseCode: number };
      error.responseCode = code;
      return callback(error);
    },
    onData(stream, session, callback) {
      simpleParser(stream)
        .then((mail) => {
          state.received.push({ envelopeTo: session.envelope.rcptTo.map((r) => r.address), mail });
          callback();
        })
        .catch(callback);
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = (server as unknown as { server: { address(): AddressInfo } }).server.address();
  state.url = `smtp://127.0.0.1:${port}`;
  state.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return state;
}

const keys = generateSealKeyPair();
const sealer = new Sealer(keys.publicKey);
const opener = new Opener(keys.privateKey);

const RECIPIENT = 'alice.shopper@example.com';
let seq = 0;

function baseEvent(type: string, data: Record<string, unknown>, tenantId = 'acme'): StoredEvent {
  seq++;
  const now = new Date().toISOString();
  return {
    eventId: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
    stream: `TwoFactorAccount-${tenantId}|user-${seq}`,
    revision: 2,
    position: 100 + seq,
    type,
    data,
    metadata: { at: now, actor: { kind: 'user', id: 'user' } as never, schemaVersion: 1 },
    recordedAt: now,
    hash: 'h'.repeat(64),
    prevHash: null,
  };
}

function codeIssued(code: string, tenantId = 'acme'): StoredEvent {
  const issuedAt = new Date();
  return baseEvent(
    'CodeIssued',
    {
      challengeId: `ch-${seq}`,
      codeHash: 'hash',
      issuedAt: issuedAt.toISOString(),
      expiresAt: new Date(issuedAt.getTime() + 5 * 60_000).toISOString(),
      code: sealer.seal(code),
      recipient: sealer.seal(RECIPIENT),
      maskedRecipient: 'a***@example.com',
      ttlMinutes: 5,
      issue: 1,
    },
    tenantId,
  );
}

function notification(kind: string, tenantId = 'acme'): StoredEvent {
  return baseEvent('SecurityNotificationQueued', { kind, recipient: sealer.seal(RECIPIENT), maskedRecipient: 'a***@example.com' }, tenantId);
}

function collectingLogger() {
  const lines: { level: string; obj: object; msg?: string }[] = [];
  const at = (level: string) => (obj: object, msg?: string) => lines.push({ level, obj, msg });
  return { lines, logger: { info: at('info'), warn: at('warn'), error: at('error') } };
}

describe('Mailer with a real SMTP server', () => {
  let db: Database.Database;
  let kv: SqliteKeyValueStore;
  const transports: MailTransport[] = [];
  const servers: TestSmtp[] = [];

  beforeEach(() => {
    db = new Database(':memory:');
    kv = new SqliteKeyValueStore(db);
  });

  afterEach(async () => {
    await Promise.all(transports.splice(0).map((t) => t.close()));
    await Promise.all(servers.splice(0).map((s) => s.close()));
    db.close();
  });

  async function setup(options: { reject?: (attempt: number) => number | null; deps?: Partial<MailerDeps> } = {}) {
    const smtp = await startSmtp(options.reject);
    servers.push(smtp);
    const transport = new SmtpMailTransport(smtp.url);
    transports.push(transport);
    const log = collectingLogger();
    const mailer = new Mailer({
      transport,
      opener,
      dedupe: kv,
      from: 'Acme Security <security@acme.example>',
      issuer: 'Acme',
      maxAttempts: 4,
      backoffMs: 10,
      logger: log.logger,
      ...options.deps,
    });
    return { smtp, mailer, log };
  }

  it("a tenant's display name (carried by the event) is the sender's name, the subject and the signature; the address stays the platform's", async () => {
    const { smtp, mailer } = await setup();
    const event = codeIssued('493027');
    (event.data as Record<string, unknown>).tenantName = 'Acme "Outdoor"';
    await expect(mailer.handle(event)).resolves.toBe('sent');
    const { mail } = smtp.received[0]!;
    expect(mail.from?.value[0]).toEqual({ name: 'Acme "Outdoor"', address: 'security@acme.example' });
    expect(mail.subject).toBe('Your Acme "Outdoor" verification code');
    expect(mail.text).toContain('-- Acme "Outdoor"');
    const notice = notification('account_locked');
    (notice.data as Record<string, unknown>).tenantName = 'Acme Outdoor';
    await expect(mailer.handle(notice)).resolves.toBe('sent');
    expect(smtp.received[1]!.mail.subject).toBe('Acme Outdoor: Your account was locked after failed verification attempts');
    expect(smtp.received[1]!.mail.from?.value[0]!.name).toBe('Acme Outdoor');
  });

  it('delivers a CodeIssued email once, with the code in text and HTML, to the sealed recipient', async () => {
    const { smtp, mailer, log } = await setup();
    const event = codeIssued('493027');
    await expect(mailer.handle(event)).resolves.toBe('sent');

    expect(smtp.received).toHaveLength(1);
    const { mail, envelopeTo } = smtp.received[0]!;
    expect(envelopeTo).toEqual([RECIPIENT]);
    expect(mail.to && !Array.isArray(mail.to) ? mail.to.value[0]!.address : null).toBe(RECIPIENT);
    expect(mail.from?.value[0]!.address).toBe('security@acme.example');
    expect(mail.subject).toBe('Your Acme verification code for store acme');
    expect(mail.text).toContain('493027');
    expect(mail.text).toContain('expires in 5 minutes');
    expect(mail.html).toContain('493027');
    expect(mail.headers.get('x-twostep-event-id')).toBe(event.eventId);
    expect(mail.messageId).toBe(`<${event.eventId}.mail@acme.example>`);
    expect(await kv.get(sentKey(event.eventId))).not.toBeNull();

    const logged = JSON.stringify(log.lines);
    expect(logged).not.toContain(RECIPIENT);
    expect(logged).not.toContain('493027');
    expect(log.lines).toContainEqual(expect.objectContaining({ level: 'info', msg: 'mail sent' }));
    // Where its time went, for a slow email: decision → mailer, and the SMTP exchange, with the Message-ID to find it by.
    expect(log.lines.find((line) => (line as { msg?: string }).msg === 'mail sent')).toMatchObject({
      obj: { messageId: mail.messageId, reachedMs: expect.any(Number), sendMs: expect.any(Number) },
    });
  });

  it('sends once when the same event is handled twice', async () => {
    const { smtp, mailer } = await setup();
    const event = codeIssued('111222');
    await expect(mailer.handle(event)).resolves.toBe('sent');
    await expect(mailer.handle(event)).resolves.toBe('duplicate');
    expect(smtp.received).toHaveLength(1);
  });

  it('recognises a delivery made by another mailer sharing the dedupe store', async () => {
    const { smtp, mailer } = await setup();
    const event = codeIssued('333444');
    await mailer.handle(event);
    const otherTransport = new SmtpMailTransport(smtp.url);
    transports.push(otherTransport);
    const other = new Mailer({ transport: otherTransport, opener, dedupe: new SqliteKeyValueStore(db), from: 'a@b.example', issuer: 'x', maxAttempts: 1, logger: collectingLogger().logger });
    await expect(other.handle(event)).resolves.toBe('duplicate');
    expect(smtp.received).toHaveLength(1);
  });

  it('delivers a SecurityNotificationQueued email', async () => {
    const { smtp, mailer } = await setup();
    const event = notification('reseller_disabled', 'admin');
    await expect(mailer.handle(event)).resolves.toBe('sent');
    expect(smtp.received).toHaveLength(1);
    const { mail, envelopeTo } = smtp.received[0]!;
    expect(envelopeTo).toEqual([RECIPIENT]);
    expect(mail.subject).toBe('Acme: Two-factor authentication was turned off by your reseller');
    expect(mail.text).toContain('Your reseller turned off two-factor authentication for your account at the admin console');
    expect(mail.html).toContain('Your reseller turned off two-factor authentication');
    expect(mail.headers.get('x-twostep-event-id')).toBe(event.eventId);
  });

  it('ignores events that carry no mail', async () => {
    const { smtp, mailer } = await setup();
    await expect(mailer.handle(baseEvent('AttemptFailed', { challengeId: 'c' }))).resolves.toBe('ignored');
    expect(smtp.rcptAttempts).toBe(0);
  });

  it('retries with backoff when the server refuses the first two attempts, then delivers once', async () => {
    const { smtp, mailer, log } = await setup({ reject: (attempt) => (attempt <= 2 ? 451 : null) });
    const event = codeIssued('808080');
    await expect(mailer.handle(event)).resolves.toBe('sent');
    expect(smtp.rcptAttempts).toBe(3);
    expect(smtp.received).toHaveLength(1);
    expect(smtp.received[0]!.mail.text).toContain('808080');
    const warnings = log.lines.filter((l) => l.level === 'warn');
    expect(warnings.map((w) => (w.obj as { attempt: number }).attempt)).toEqual([1, 2]);
    // The server's reply names the mailbox; the log must not.
    expect(JSON.stringify(log.lines)).not.toContain(RECIPIENT);
    expect(JSON.stringify(warnings)).toContain('[recipient]');
  });

  it('dead-letters after the last attempt when the server always refuses, calling onDeadLetter once', async () => {
    const onDeadLetter = jest.fn(async (_event: StoredEvent, _error: Error) => {});
    const { smtp, mailer, log } = await setup({ reject: () => 550, deps: { onDeadLetter, maxAttempts: 3 } });
    const event = codeIssued('909090');
    await expect(mailer.handle(event)).resolves.toBe('dead_lettered');
    expect(smtp.rcptAttempts).toBe(3);
    expect(smtp.received).toHaveLength(0);
    expect(onDeadLetter).toHaveBeenCalledTimes(1);
    expect(onDeadLetter.mock.calls[0]![0].eventId).toBe(event.eventId);
    expect(onDeadLetter.mock.calls[0]![1].message).toMatch(/550/);
    expect(onDeadLetter.mock.calls[0]![1].message).not.toContain(RECIPIENT);
    expect(await kv.get(sentKey(event.eventId))).toBeNull();
    expect(await kv.get(deadLetterKey(event.eventId))).toBeNull();
    const deadLine = log.lines.find((l) => l.msg === 'mail dead-lettered');
    expect(deadLine).toMatchObject({ level: 'error', obj: { eventId: event.eventId, attempts: 3 } });
    expect(JSON.stringify(log.lines)).not.toContain(RECIPIENT);
    expect(JSON.stringify(log.lines)).not.toContain('909090');
  });

  it('records the dead letter in the key-value store when no onDeadLetter is given', async () => {
    const { mailer } = await setup({ reject: () => 550, deps: { maxAttempts: 2 } });
    const event = notification('account_locked');
    await expect(mailer.handle(event)).resolves.toBe('dead_lettered');
    const record = JSON.parse((await kv.get(deadLetterKey(event.eventId)))!);
    expect(record).toMatchObject({ eventId: event.eventId, type: 'SecurityNotificationQueued', attempts: 2, maskedRecipient: 'a***@example.com' });
    expect(record.error).toMatch(/550/);
    expect(JSON.stringify(record)).not.toContain(RECIPIENT);
  });

  it('sends many mails at once over a bounded pool of reused connections, each accepted once', async () => {
    const smtp = await startSmtp();
    servers.push(smtp);
    const transport = new SmtpMailTransport(smtp.url, { maxConnections: 3 });
    transports.push(transport);
    const mailer = new Mailer({ transport, opener, dedupe: kv, from: 'a@b.example', issuer: 'x', maxAttempts: 2, backoffMs: 1, logger: collectingLogger().logger });
    const events = Array.from({ length: 30 }, (_, i) => codeIssued(String(100000 + i)));
    const outcomes = await Promise.all(events.map((event) => mailer.handle(event)));
    expect(outcomes).toEqual(events.map(() => 'sent'));
    expect(smtp.received).toHaveLength(30);
    expect(smtp.connections).toBeGreaterThanOrEqual(1);
    expect(smtp.connections).toBeLessThanOrEqual(3); // pooled: not one connection per message
    const ids = smtp.received.map((r) => r.mail.headers.get('x-twostep-event-id'));
    expect(new Set(ids).size).toBe(30);
  });

  it('keeps a pooled connection for as long as the server does (no message limit), unless the URL sets one', async () => {
    const smtp = await startSmtp();
    servers.push(smtp);
    const mail = (i: number) => ({ from: 'a@b.example', to: `u${i}@x.example`, subject: 's', text: 't', html: '<p>t</p>' });
    const kept = new SmtpMailTransport(smtp.url, { maxConnections: 1 });
    transports.push(kept);
    for (let i = 0; i < 1050; i++) await kept.send(mail(i)); // past nodemailer's default (100) and the old limit (1000)
    expect(smtp.connections).toBe(1);
    const limited = new SmtpMailTransport(`${smtp.url}?maxMessages=10`, { maxConnections: 1 });
    transports.push(limited);
    for (let i = 0; i < 25; i++) await limited.send(mail(i));
    expect(smtp.connections).toBe(1 + 3);
    expect(smtp.received).toHaveLength(1075);
  }, 60_000);

  it('keeps the URL in charge of the pool: ?pool=false sends over one connection per message', async () => {
    const smtp = await startSmtp();
    servers.push(smtp);
    const transport = new SmtpMailTransport(`${smtp.url}?pool=false`, { maxConnections: 3 });
    transports.push(transport);
    const mailer = new Mailer({ transport, opener, dedupe: kv, from: 'a@b.example', issuer: 'x', maxAttempts: 2, backoffMs: 1, logger: collectingLogger().logger });
    for (let i = 0; i < 3; i++) await mailer.handle(codeIssued(String(200000 + i)));
    expect(smtp.received).toHaveLength(3);
    expect(smtp.connections).toBe(3);
  });

  it('dead-letters when the server is not there at all', async () => {
    const smtp = await startSmtp();
    const url = smtp.url;
    await smtp.close();
    const transport = new SmtpMailTransport(url);
    transports.push(transport);
    const onDeadLetter = jest.fn(async () => {});
    const mailer = new Mailer({ transport, opener, dedupe: kv, from: 'a@b.example', issuer: 'x', maxAttempts: 2, backoffMs: 1, logger: collectingLogger().logger, onDeadLetter });
    await expect(mailer.handle(codeIssued('121212'))).resolves.toBe('dead_lettered');
    expect(onDeadLetter).toHaveBeenCalledTimes(1);
  });
});

describe('FileMailTransport', () => {
  let dir: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twostep-mail-'));
  });

  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('writes each message as a parseable .eml file, owner-readable only, with no temp files left', async () => {
    const db = new Database(':memory:');
    const kv = new SqliteKeyValueStore(db);
    const transport = createMailTransport(undefined, dir);
    expect(transport).toBeInstanceOf(FileMailTransport);
    const mailer = new Mailer({ transport, opener, dedupe: kv, from: 'twostep <no-reply@twostep.local>', issuer: 'twostep', maxAttempts: 2, logger: collectingLogger().logger });
    const event = codeIssued('654321', 'admin');
    await expect(mailer.handle(event)).resolves.toBe('sent');
    await expect(mailer.handle(event)).resolves.toBe('duplicate');
    await expect(mailer.handle(notification('two_factor_enabled'))).resolves.toBe('sent');

    const mailDir = path.join(dir, 'mail');
    const files = fs.readdirSync(mailDir).sort();
    expect(files).toHaveLength(2);
    expect(files.every((f) => /^\d{8}T\d{9}Z-[A-Za-z0-9._-]+\.eml$/.test(f))).toBe(true);
    expect(files[0]).toContain(event.eventId);
    expect(fs.statSync(path.join(mailDir, files[0]!)).mode & 0o777).toBe(0o600);

    const mail = await simpleParser(fs.readFileSync(path.join(mailDir, files[0]!)));
    expect(mail.subject).toBe('Your twostep verification code for the admin console');
    expect(mail.to && !Array.isArray(mail.to) ? mail.to.value[0]!.address : null).toBe(RECIPIENT);
    expect(mail.text).toContain('654321');
    expect(mail.html).toContain('654321');
    expect(mail.headers.get('x-twostep-event-id')).toBe(event.eventId);
    await transport.close();
    db.close();
  });

  it('is chosen only when no SMTP URL is set', async () => {
    const smtp = createMailTransport('smtp://127.0.0.1:2525', dir);
    expect(smtp).toBeInstanceOf(SmtpMailTransport);
    await smtp.close();
    expect(() => createMailTransport('http://nope', dir)).toThrow(/SMTP_URL/);
  });
});
