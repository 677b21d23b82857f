import type { Opener } from '@twostep/crypto';
import type { StoredEvent } from '@twostep/eventstore';
import type { KeyValueStore } from '@twostep/readmodel';
import { claimKey, CLAIM_TTL_SECONDS, deadLetterKey, MailBeingSentError, Mailer, sentKey, SENT_MARK_TTL_SECONDS, type MailerDeps } from './mailer';
import type { MailTransport, OutgoingMail } from './transport';

/** Pure unit tests with fakes; mailer.int-spec.ts covers the real SMTP server, SQLite and key pair. */

class MemoryKv implements KeyValueStore {
  readonly values = new Map<string, { value: string; ttl?: number }>();
  async get(key: string) {
    return this.values.get(key)?.value ?? null;
  }
  async set(key: string, value: string, ttlSeconds?: number) {
    this.values.set(key, { value, ttl: ttlSeconds });
  }
  async setIfAbsent(key: string, value: string, ttlSeconds?: number) {
    if (this.values.has(key)) return false;
    await this.set(key, value, ttlSeconds);
    return true;
  }
  async delete(key: string) {
    this.values.delete(key);
  }
  async close() {}
}

/** "Sealed" values carry their plaintext: the fake opener just reads it back. */
const fakeOpener = { open: (sealed: { alg: string; plain?: string }) => {
  if (sealed.alg !== 'fake' || sealed.plain === undefined) throw new Error('cannot open: bob@example.com');
  return sealed.plain;
} } as unknown as Opener;
const seal = (plain: string) => ({ alg: 'fake', plain });

class FakeTransport implements MailTransport {
  readonly sent: OutgoingMail[] = [];
  attempts = 0;
  constructor(private readonly failures: number | 'always' = 0, private readonly failure = 'boom') {}
  async send(message: OutgoingMail) {
    this.attempts++;
    if (this.failures === 'always' || this.attempts <= this.failures) throw new Error(this.failure);
    this.sent.push(message);
    return { messageId: `<m${this.attempts}@test>` };
  }
  async close() {}
}

const logger = () => ({ info: jest.fn(), warn: jest.fn(), error: jest.fn() });

const NOW = new Date('2025-03-01T12:00:00.000Z');

function codeIssued(overrides: Partial<StoredEvent> = {}, data: Record<string, unknown> = {}): StoredEvent {
  return {
    eventId: '6f1c1a52-3a0e-4d0e-9a7c-0d9e5f1b2c3d',
    stream: 'TwoFactorAccount-acme|u1',
    revision: 3,
    position: 17,
    type: 'CodeIssued',
    data: {
      challengeId: 'ch1',
      codeHash: 'h',
      issuedAt: NOW.toISOString(),
      expiresAt: new Date(NOW.getTime() + 10 * 60_000).toISOString(),
      code: seal('123456'),
      recipient: seal('bob@example.com'),
      maskedRecipient: 'b**@example.com',
      ttlMinutes: 10,
      issue: 1,
      ...data,
    },
    metadata: { at: NOW.toISOString(), actor: { kind: 'system' } as never, schemaVersion: 1 },
    recordedAt: NOW.toISOString(),
    hash: 'x',
    prevHash: null,
    ...overrides,
  };
}

function setup(transport: MailTransport, extra: Partial<MailerDeps> = {}) {
  const kv = new MemoryKv();
  const log = logger();
  const mailer = new Mailer({
    transport,
    opener: fakeOpener,
    dedupe: kv,
    from: 'twostep <no-reply@mail.example.org>',
    issuer: 'twostep',
    maxAttempts: 3,
    backoffMs: 1,
    logger: log,
    clock: { now: () => NOW },
    ...extra,
  });
  return { kv, log, mailer };
}

const allLogText = (log: ReturnType<typeof logger>) => JSON.stringify([log.info.mock.calls, log.warn.mock.calls, log.error.mock.calls]);

describe('Mailer (unit)', () => {
  it('ignores event types that carry no mail', async () => {
    const transport = new FakeTransport();
    const { mailer } = setup(transport);
    await expect(mailer.handle(codeIssued({ type: 'AttemptFailed' }))).resolves.toBe('ignored');
    expect(transport.attempts).toBe(0);
  });

  it('a second mailer handed the event while the first is sending it does not send it; once the claim lapses (a killed mailer) it does', async () => {
    let release!: () => void;
    const slow: MailTransport = {
      send: async () => {
        await new Promise<void>((resolve) => (release = resolve));
        return { messageId: '<slow@test>' };
      },
      close: async () => undefined,
    };
    const first = setup(slow);
    const secondTransport = new FakeTransport();
    const second = setup(secondTransport, { dedupe: first.kv });
    const event = codeIssued();
    const sending = first.mailer.handle(event);
    await new Promise((resolve) => setImmediate(resolve));
    expect(first.kv.values.get(claimKey(event.eventId))?.ttl).toBe(CLAIM_TTL_SECONDS);
    // A partition that moved in a rebalance: the new owner gets the same event mid-send.
    await expect(second.mailer.handle(event)).rejects.toBeInstanceOf(MailBeingSentError);
    expect(secondTransport.attempts).toBe(0);
    release();
    await expect(sending).resolves.toBe('sent');
    await expect(second.mailer.handle(event)).resolves.toBe('duplicate'); // its retry finds the mark
    expect(secondTransport.attempts).toBe(0);

    // A mailer killed while sending leaves its claim, which lapses after CLAIM_TTL_SECONDS: then another sends.
    const orphan = codeIssued({ eventId: '0e0c6a9e-8a5b-4b8e-9d5e-3f0b8f7f6a11' });
    await first.kv.setIfAbsent(claimKey(orphan.eventId), 'a killed mailer', CLAIM_TTL_SECONDS);
    await expect(second.mailer.handle(orphan)).rejects.toBeInstanceOf(MailBeingSentError);
    await first.kv.delete(claimKey(orphan.eventId)); // the TTL ran out
    await expect(second.mailer.handle(orphan)).resolves.toBe('sent');
    // A mailer retrying its own claimed event goes ahead.
    const retried = codeIssued({ eventId: '5b7c8d9e-1f2a-4b3c-8d4e-5f6a7b8c9d0e' });
    const failing = setup(new FakeTransport('always'), { dedupe: first.kv, maxAttempts: 1, onDeadLetter: async () => { throw new Error('dlq down'); } });
    await expect(failing.mailer.handle(retried)).rejects.toThrow('dlq down');
    expect(first.kv.values.has(claimKey(retried.eventId))).toBe(true);
    await expect(failing.mailer.handle(retried)).rejects.toThrow('dlq down'); // not MailBeingSentError: the claim is its own
  });

  it('sends, marks the event for 7 days, and puts the event id and a stable Message-ID on the message', async () => {
    const transport = new FakeTransport();
    const { mailer, kv } = setup(transport);
    const event = codeIssued();
    await expect(mailer.handle(event)).resolves.toBe('sent');
    expect(transport.sent).toHaveLength(1);
    const message = transport.sent[0]!;
    expect(message.to).toBe('bob@example.com');
    expect(message.headers?.['X-Twostep-Event-Id']).toBe(event.eventId);
    expect(message.messageId).toBe(`<${event.eventId}.mail@mail.example.org>`);
    expect(kv.values.get(sentKey(event.eventId))?.ttl).toBe(SENT_MARK_TTL_SECONDS);
    await expect(mailer.handle(event)).resolves.toBe('duplicate');
    expect(transport.sent).toHaveLength(1);
  });

  it('treats a concurrent second delivery of the same event as a duplicate', async () => {
    const transport = new FakeTransport();
    const { mailer } = setup(transport);
    const outcomes = await Promise.all([mailer.handle(codeIssued()), mailer.handle(codeIssued())]);
    expect(outcomes.sort()).toEqual(['duplicate', 'sent']);
    expect(transport.sent).toHaveLength(1);
  });

  it('backs off exponentially between attempts', async () => {
    const transport = new FakeTransport(2);
    const { mailer } = setup(transport, { backoffMs: 20 });
    const started = Date.now();
    await expect(mailer.handle(codeIssued())).resolves.toBe('sent');
    expect(transport.attempts).toBe(3);
    expect(Date.now() - started).toBeGreaterThanOrEqual(20 + 40 - 5);
  });

  it('dead-letters into the key-value store when no sink is given, without the address or code', async () => {
    const transport = new FakeTransport('always', '550 5.1.1 <BOB@example.com>: unknown user (code 123456)');
    const { mailer, kv, log } = setup(transport);
    const event = codeIssued();
    await expect(mailer.handle(event)).resolves.toBe('dead_lettered');
    expect(transport.attempts).toBe(3);
    const record = JSON.parse(kv.values.get(deadLetterKey(event.eventId))!.value);
    expect(record).toMatchObject({ eventId: event.eventId, type: 'CodeIssued', attempts: 3, maskedRecipient: 'b**@example.com' });
    expect(record.error).toBe('550 5.1.1 <[recipient]>: unknown user (code [code])');
    expect(kv.values.has(sentKey(event.eventId))).toBe(false);
    expect(log.error).toHaveBeenCalledWith(expect.objectContaining({ eventId: event.eventId, attempts: 3 }), 'mail dead-lettered');
    expect(log.warn).toHaveBeenCalledTimes(3);
    const logged = allLogText(log);
    expect(logged).not.toMatch(/bob@example\.com/i);
    expect(logged).not.toContain('123456');
  });

  it('dead-letters at once, with no send attempt, when the sealed values do not open', async () => {
    const transport = new FakeTransport();
    const onDeadLetter = jest.fn(async () => {});
    const { mailer, log } = setup(transport, { onDeadLetter });
    const event = codeIssued({}, { recipient: { alg: 'other' } });
    await expect(mailer.handle(event)).resolves.toBe('dead_lettered');
    expect(transport.attempts).toBe(0);
    expect(onDeadLetter).toHaveBeenCalledTimes(1);
    expect((onDeadLetter.mock.calls[0] as unknown as [StoredEvent, Error])[1].message).toMatch(/could not be opened/);
    expect(allLogText(log)).not.toMatch(/bob@example\.com/i);
  });

  it('dead-letters malformed payloads instead of sending a broken email', async () => {
    const onDeadLetter = jest.fn(async () => {});
    const transport = new FakeTransport();
    const { mailer } = setup(transport, { onDeadLetter });
    await expect(mailer.handle(codeIssued({}, { code: seal('12ab') }))).resolves.toBe('dead_lettered');
    await expect(mailer.handle(codeIssued({ eventId: 'e2' }, { recipient: seal('not-an-address') }))).resolves.toBe('dead_lettered');
    await expect(mailer.handle(codeIssued({ eventId: 'e3', stream: 'TwoFactorPolicy-acme' }))).resolves.toBe('dead_lettered');
    await expect(
      mailer.handle(codeIssued({ eventId: 'e4', type: 'SecurityNotificationQueued' }, { kind: 'bogus' })),
    ).resolves.toBe('dead_lettered');
    expect(onDeadLetter).toHaveBeenCalledTimes(4);
    expect(transport.attempts).toBe(0);
  });

  it('throws (so the consumer retries) when the dead-letter sink fails', async () => {
    const { mailer } = setup(new FakeTransport('always'), { onDeadLetter: async () => { throw new Error('dlq down'); } });
    await expect(mailer.handle(codeIssued())).rejects.toThrow('dlq down');
  });

  it('throws when the dedupe store cannot be read, rather than risk a double send', async () => {
    const transport = new FakeTransport();
    const { mailer, kv } = setup(transport);
    kv.get = async () => { throw new Error('kv down'); };
    await expect(mailer.handle(codeIssued())).rejects.toThrow('kv down');
    expect(transport.attempts).toBe(0);
  });

  it('reports a code that expired before it could be delivered as an error and an `expired` outcome, and never sends it late', async () => {
    const transport = new FakeTransport();
    const outcomes: string[] = [];
    const { mailer, log } = setup(transport, { metrics: { outcome: (type, outcome) => outcomes.push(`${type}:${outcome}`), retried: () => undefined, accepted: () => undefined } });
    const expired = codeIssued({}, { expiresAt: new Date(NOW.getTime() - 1000).toISOString() });
    await expect(mailer.handle(expired)).resolves.toBe('expired');
    expect(transport.attempts).toBe(0);
    expect(log.error).toHaveBeenCalledWith(
      expect.objectContaining({ eventId: expired.eventId, outcome: 'expired', maskedRecipient: expect.any(String) }),
      'code expired before it could be delivered; not sent',
    );
    expect(outcomes).toEqual(['CodeIssued:expired']);
  });

  it('skips, with a warning, a notification older than the dedupe window', async () => {
    const transport = new FakeTransport();
    const { mailer, log } = setup(transport);
    const old = new Date(NOW.getTime() - (SENT_MARK_TTL_SECONDS + 60) * 1000).toISOString();
    const oldNotice = codeIssued({ eventId: 'e9', type: 'SecurityNotificationQueued', metadata: { at: old, actor: {} as never, schemaVersion: 1 } }, { kind: 'account_locked' });
    await expect(mailer.handle(oldNotice)).resolves.toBe('ignored');
    expect(transport.attempts).toBe(0);
    expect(log.warn).toHaveBeenCalledWith(expect.objectContaining({ reason: 'notification older than the delivery window' }), 'mail skipped');
  });

  it('reports sends, retries and the time since the event was decided to its metrics sink', async () => {
    const transport = new FakeTransport(1);
    const seen: unknown[] = [];
    const { mailer } = setup(transport, {
      metrics: {
        outcome: (type, outcome) => seen.push(['outcome', type, outcome]),
        retried: (type) => seen.push(['retried', type]),
        accepted: (type, sendSeconds, sinceDecided) => seen.push(['accepted', type, sendSeconds >= 0, typeof sinceDecided]),
      },
    });
    await expect(mailer.handle(codeIssued())).resolves.toBe('sent');
    await expect(mailer.handle(codeIssued())).resolves.toBe('duplicate');
    expect(seen).toEqual([
      ['retried', 'CodeIssued'],
      ['accepted', 'CodeIssued', true, 'number'],
      ['outcome', 'CodeIssued', 'sent'],
      ['outcome', 'CodeIssued', 'duplicate'],
    ]);
  });

  it('refuses a maxAttempts below 1', () => {
    expect(() => setup(new FakeTransport(), { maxAttempts: 0 })).toThrow(/maxAttempts/);
  });
});
