import { randomUUID } from 'node:crypto';
import type { Opener, SealedValue } from '@twostep/crypto';
import { parseStream, type NotificationKind } from '@twostep/domain';
import type { StoredEvent } from '@twostep/eventstore';
import type { KeyValueStore } from '@twostep/readmodel';
import { NOTIFICATION_KINDS, renderCodeEmail, renderNotificationEmail, type RenderedEmail } from './templates';
import type { MailTransport, OutgoingMail } from './transport';

/** The event types that turn into email. Everything else is `ignored`. */
export const MAIL_EVENT_TYPES = ['CodeIssued', 'SecurityNotificationQueued'] as const;
export type MailEventType = (typeof MAIL_EVENT_TYPES)[number];

/** `expired`: a code whose expiry passed before it could be sent (logged as an error, counted; never sent late). */
export type MailOutcome = 'sent' | 'duplicate' | 'ignored' | 'expired' | 'dead_lettered';

/** What the mailer reports to metrics (see metrics.ts); every hook is optional. */
export interface MailMetricsSink {
  /** Once per handled mail event, with its outcome. */
  outcome(type: MailEventType, outcome: Exclude<MailOutcome, 'ignored'> | 'skipped'): void;
  /** A failed send that will be tried again. */
  retried(type: MailEventType): void;
  /** An accepted send: how long the SMTP exchange took, and how long since the event was decided. */
  accepted(type: MailEventType, sendSeconds: number, sinceDecidedSeconds: number | null): void;
}

export interface MailLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface MailerDeps {
  transport: MailTransport;
  opener: Opener;
  /** Delivered-marks (`mail:sent:<eventId>`) and, without `onDeadLetter`, dead letters (`mail:dead:<eventId>`). */
  dedupe: KeyValueStore;
  from: string;
  issuer: string;
  /** Send attempts per event before it is dead-lettered (>= 1). */
  maxAttempts: number;
  /** Base delay between attempts: backoffMs * 2^(attempt-1). Default 200. */
  backoffMs?: number;
  /** Upper bound for one delay. Default 60 s. */
  maxBackoffMs?: number;
  logger: MailLogger;
  /** Where undeliverable events go (the Kafka worker publishes to its DLQ topic). If it throws, `handle` throws. */
  onDeadLetter?: (event: StoredEvent, error: Error) => Promise<void>;
  /** Time source for the staleness checks; pass the runtime's clock. Default: system time. */
  clock?: { now(): Date };
  metrics?: MailMetricsSink;
}

/** How long a delivered-mark is kept: redeliveries within this window are recognised. */
export const SENT_MARK_TTL_SECONDS = 7 * 24 * 60 * 60;

export const sentKey = (eventId: string): string => `mail:sent:${eventId}`;
/**
 * Taken (set if absent) by the mailer about to send an event, for CLAIM_TTL_SECONDS: a second
 * mailer handed the same event meanwhile (its partition moved to it in a rebalance while the
 * first was sending) waits instead of sending it too. A killed mailer's claims lapse on their own.
 */
export const claimKey = (eventId: string): string => `mail:sending:${eventId}`;
export const CLAIM_TTL_SECONDS = 10;
export const deadLetterKey = (eventId: string): string => `mail:dead:${eventId}`;

/** What is stored under `mail:dead:<eventId>` when no `onDeadLetter` is given. No recipient, no code. */
export interface DeadLetterRecord {
  eventId: string;
  type: string;
  stream: string;
  position: number;
  maskedRecipient: string | null;
  attempts: number;
  error: string;
  at: string;
}

export function isMailEvent(type: string): type is MailEventType {
  return (MAIL_EVENT_TYPES as readonly string[]).includes(type);
}

/** Another mailer holds this event's claim: thrown so the consumer tries again later (and then finds the mark). */
export class MailBeingSentError extends Error {
  constructor(eventId: string) {
    super(`mail for event ${eventId} is being sent by another mailer; trying again later`);
    this.name = 'MailBeingSentError';
  }
}

/** A problem no retry can fix (bad payload, sealed value that does not open): dead-lettered at once. */
class UndeliverableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UndeliverableError';
  }
}

interface Prepared {
  message: OutgoingMail;
  maskedRecipient: string;
  /** Secrets to scrub from any error text before it is logged or stored. */
  secrets: { value: string; label: string }[];
}

const EMAIL_SHAPE = /^[^\s@<>",;]+@[^\s@<>",;]+$/;

/**
 * The delivery core shared by the embedded runtime and the Kafka mailer worker.
 *
 * Delivery is at-least-once with a dedupe mark: the mark is checked before sending and set
 * right after the transport accepted the message, so only a crash between those two steps
 * can send an email twice (the stable Message-ID lets mail systems fold that copy).
 * A message is never dropped without a trace: it is sent, recognised as already sent,
 * dead-lettered with an error line, or (when it can no longer help anyone) skipped with a
 * warning line saying why.
 */
export class Mailer {
  private readonly backoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly clock: { now(): Date };
  private readonly inFlight = new Map<string, Promise<MailOutcome>>();
  /** This mailer's mark on the claims it takes. */
  private readonly claimToken = randomUUID();

  constructor(private readonly deps: MailerDeps) {
    if (!Number.isInteger(deps.maxAttempts) || deps.maxAttempts < 1) throw new Error('Mailer: maxAttempts must be an integer >= 1');
    this.backoffMs = deps.backoffMs ?? 200;
    this.maxBackoffMs = deps.maxBackoffMs ?? 60_000;
    this.clock = deps.clock ?? { now: () => new Date() };
  }

  async handle(event: StoredEvent): Promise<MailOutcome> {
    if (!isMailEvent(event.type)) return 'ignored';
    const type = event.type;
    // The same event handled twice at once in this process: the second waits and is a duplicate.
    const running = this.inFlight.get(event.eventId);
    if (running) {
      const outcome = await running;
      return outcome === 'sent' || outcome === 'duplicate' ? 'duplicate' : outcome;
    }
    const work = this.deliver(event).then((outcome) => {
      this.deps.metrics?.outcome(type, outcome === 'ignored' ? 'skipped' : outcome);
      return outcome;
    });
    this.inFlight.set(event.eventId, work);
    try {
      return await work;
    } finally {
      this.inFlight.delete(event.eventId);
    }
  }

  private async deliver(event: StoredEvent): Promise<MailOutcome> {
    const { logger, dedupe, transport, maxAttempts } = this.deps;
    const base = { eventId: event.eventId, type: event.type };
    const reachedAt = Date.now();

    if (await dedupe.get(sentKey(event.eventId))) {
      logger.info({ ...base, outcome: 'duplicate' }, 'mail already sent');
      return 'duplicate';
    }
    if (!(await this.claim(event.eventId))) throw new MailBeingSentError(event.eventId);

    const masked = maskedOf(event);
    const stale = this.staleReason(event);
    if (stale === 'expired') {
      // The user waited for this code and never got it: an error (and a metric), not a warning.
      logger.error(
        { ...base, maskedRecipient: masked, expiresAt: (event.data as { expiresAt?: unknown }).expiresAt, outcome: 'expired' },
        'code expired before it could be delivered; not sent',
      );
      return 'expired';
    }
    if (stale) {
      logger.warn({ ...base, maskedRecipient: masked, reason: stale, outcome: 'skipped' }, 'mail skipped');
      return 'ignored';
    }

    let prepared: Prepared;
    try {
      prepared = this.prepare(event);
    } catch (error) {
      // The message in these errors is ours and holds no secret (see prepare).
      return this.deadLetter(event, asError(error), 0, masked);
    }

    let lastError = new Error('not attempted');
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      let messageId: string;
      const started = process.hrtime.bigint();
      try {
        ({ messageId } = await transport.send(prepared.message));
      } catch (error) {
        lastError = scrub(asError(error), prepared);
        const last = attempt === maxAttempts;
        logger.warn(
          { ...base, maskedRecipient: prepared.maskedRecipient, attempt, maxAttempts, error: lastError.message },
          last ? 'mail send failed, no attempts left' : 'mail send failed, will retry',
        );
        if (!last) {
          this.deps.metrics?.retried(event.type as MailEventType);
          await sleep(Math.min(this.backoffMs * 2 ** (attempt - 1), this.maxBackoffMs));
        }
        continue;
      }
      const decidedAt = Date.parse(String(event.metadata?.at));
      const sendSeconds = Number(process.hrtime.bigint() - started) / 1e9;
      this.deps.metrics?.accepted(event.type as MailEventType, sendSeconds, Number.isFinite(decidedAt) ? Math.max(0, (Date.now() - decidedAt) / 1000) : null);
      await this.markSent(event, prepared.maskedRecipient);
      // Where a slow email's time went: reachedMs from the decision to this mailer (relay, Kafka), sendMs the SMTP exchange.
      const timing = { reachedMs: Number.isFinite(decidedAt) ? reachedAt - decidedAt : null, sendMs: Math.round(sendSeconds * 1000) };
      logger.info({ ...base, maskedRecipient: prepared.maskedRecipient, attempt, messageId, outcome: 'sent', ...timing }, 'mail sent');
      return 'sent';
    }
    return this.deadLetter(event, lastError, maxAttempts, prepared.maskedRecipient);
  }

  /** Why sending this now would only confuse the recipient (or null to send); 'expired' for a code past its expiry. */
  private staleReason(event: StoredEvent): 'expired' | string | null {
    const now = this.clock.now().getTime();
    if (event.type === 'CodeIssued') {
      const expiresAt = Date.parse(String((event.data as { expiresAt?: unknown }).expiresAt));
      if (Number.isFinite(expiresAt) && expiresAt <= now) return 'expired';
      return null;
    }
    // Older than the dedupe window, a replayed notification could not be told from a new one.
    const at = Date.parse(String(event.metadata?.at));
    if (Number.isFinite(at) && now - at > SENT_MARK_TTL_SECONDS * 1000) return 'notification older than the delivery window';
    return null;
  }

  /** Opens the sealed values and renders the message. Throws UndeliverableError with secret-free text. */
  private prepare(event: StoredEvent): Prepared {
    const stream = parseStream(event.stream);
    if (stream.kind !== 'account') throw new UndeliverableError(`event is not on an account stream`);
    const data = event.data as Record<string, unknown>;
    const maskedRecipient = typeof data.maskedRecipient === 'string' ? data.maskedRecipient : '(unknown)';
    const to = this.open(data.recipient, 'recipient');
    if (!EMAIL_SHAPE.test(to)) throw new UndeliverableError('sealed recipient is not an email address');

    const tenantName = typeof data.tenantName === 'string' && data.tenantName !== '' ? data.tenantName : undefined;
    let rendered: RenderedEmail;
    const secrets = [{ value: to, label: '[recipient]' }];
    if (event.type === 'CodeIssued') {
      const code = this.open(data.code, 'code');
      if (!/^\d{6}$/.test(code)) throw new UndeliverableError('sealed code is not 6 digits');
      secrets.push({ value: code, label: '[code]' });
      const ttlMinutes = data.ttlMinutes;
      if (typeof ttlMinutes !== 'number' || !Number.isInteger(ttlMinutes) || ttlMinutes < 1) {
        throw new UndeliverableError('CodeIssued has no valid ttlMinutes');
      }
      if (typeof data.expiresAt !== 'string') throw new UndeliverableError('CodeIssued has no expiresAt');
      rendered = renderCodeEmail({ code, ttlMinutes, tenantId: stream.tenantId, expiresAt: data.expiresAt, issuer: this.deps.issuer, tenantName });
    } else {
      const kind = data.kind;
      if (typeof kind !== 'string' || !(NOTIFICATION_KINDS as readonly string[]).includes(kind)) {
        throw new UndeliverableError('SecurityNotificationQueued has an unknown kind');
      }
      rendered = renderNotificationEmail({
        kind: kind as NotificationKind,
        tenantId: stream.tenantId,
        at: event.metadata.at,
        issuer: this.deps.issuer,
        tenantName,
      });
    }

    return {
      maskedRecipient,
      secrets,
      message: {
        // A tenant's display name is the sender's name; the address stays the platform's (SPF, DKIM).
        from: tenantName ? { name: tenantName, address: senderAddress(this.deps.from) } : this.deps.from,
        to,
        subject: rendered.subject,
        text: rendered.text,
        html: rendered.html,
        headers: {
          'X-Twostep-Event-Id': event.eventId,
          // RFC 3834: machine-generated, so vacation responders stay quiet.
          'Auto-Submitted': 'auto-generated',
        },
        messageId: `<${event.eventId}.mail@${domainOf(this.deps.from)}>`,
      },
    };
  }

  private open(value: unknown, field: string): string {
    if (!value || typeof value !== 'object' || typeof (value as SealedValue).alg !== 'string') {
      throw new UndeliverableError(`${field} is not a sealed value`);
    }
    let opened: string;
    try {
      opened = this.deps.opener.open(value as SealedValue);
    } catch {
      // The opener's own message is not passed on: it is not ours to vet for secrets.
      throw new UndeliverableError(`sealed ${field} could not be opened (wrong mail key or damaged value)`);
    }
    if (typeof opened !== 'string' || opened.length === 0) throw new UndeliverableError(`sealed ${field} is empty`);
    return opened;
  }

  /** True when this mailer may send the event: it took the claim, or holds it already (a retry here). */
  private async claim(eventId: string): Promise<boolean> {
    const { dedupe } = this.deps;
    if (await dedupe.setIfAbsent(claimKey(eventId), this.claimToken, CLAIM_TTL_SECONDS)) return true;
    return (await dedupe.get(claimKey(eventId))) === this.claimToken;
  }

  /** The message is out: a failing mark must not turn into a resend, so it is retried briefly and then logged. */
  private async markSent(event: StoredEvent, maskedRecipient: string): Promise<void> {
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        await this.deps.dedupe.set(sentKey(event.eventId), new Date().toISOString(), SENT_MARK_TTL_SECONDS);
        return;
      } catch (error) {
        if (attempt === 3) {
          this.deps.logger.error(
            { eventId: event.eventId, type: event.type, maskedRecipient, error: asError(error).message },
            'mail sent but the delivered-mark could not be stored; a redelivery may send it again',
          );
          return;
        }
        await sleep(50 * attempt);
      }
    }
  }

  private async deadLetter(event: StoredEvent, error: Error, attempts: number, maskedRecipient: string | null): Promise<MailOutcome> {
    const { logger, onDeadLetter, dedupe } = this.deps;
    const line = { eventId: event.eventId, type: event.type, maskedRecipient, attempts, error: error.message, outcome: 'dead_lettered' };
    if (onDeadLetter) {
      try {
        await onDeadLetter(event, error);
      } catch (sinkError) {
        logger.error({ ...line, deadLetterError: asError(sinkError).message }, 'mail dead letter could not be recorded; the event will be retried');
        throw sinkError;
      }
    } else {
      const record: DeadLetterRecord = {
        eventId: event.eventId,
        type: event.type,
        stream: event.stream,
        position: event.position,
        maskedRecipient,
        attempts,
        error: error.message,
        at: new Date().toISOString(),
      };
      await dedupe.set(deadLetterKey(event.eventId), JSON.stringify(record));
    }
    logger.error(line, 'mail dead-lettered');
    return 'dead_lettered';
  }
}

function maskedOf(event: StoredEvent): string | null {
  const masked = (event.data as { maskedRecipient?: unknown }).maskedRecipient;
  return typeof masked === 'string' ? masked : null;
}

function domainOf(from: string): string {
  const match = /@([A-Za-z0-9.-]+)>?\s*$/.exec(from);
  return match ? match[1]! : 'twostep.local';
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** Servers echo addresses in their replies ("550 <bob@example.com>: no such user"): never pass them on. */
function scrub(error: Error, prepared: Prepared): Error {
  let message = error.message;
  for (const secret of prepared.secrets) {
    message = message.replace(new RegExp(escapeRegExp(secret.value), 'gi'), secret.label);
  }
  const clean = new Error(message);
  clean.name = error.name;
  return clean;
}

function escapeRegExp(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}

/** The address part of `Name <address>` (or the whole value when it is a bare address). */
export function senderAddress(from: string): string {
  return /<([^<>]+)>\s*$/.exec(from)?.[1]?.trim() ?? from.trim();
}
