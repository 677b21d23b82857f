import { Counter, Histogram, type Registry } from 'prom-client';
import type { MailEventType, MailMetricsSink, MailOutcome } from './mailer';

/**
 * The mailer's Prometheus metrics, in the registry of the process that delivers mail (the mailer
 * worker, or the api in embedded mode):
 * - twostep_mail_emails_total{type,outcome}: sent, duplicate, expired, dead_lettered, skipped
 * - twostep_mail_send_retries_total{type}: failed sends that will be tried again
 * - twostep_mail_send_duration_seconds{type}: one SMTP exchange (or .eml write), accepted ones
 * - twostep_mail_delivery_delay_seconds{type}: from the command that issued the code to the
 *   SMTP server's acceptance: what a user waits for
 */
export class PrometheusMailMetrics implements MailMetricsSink {
  private readonly emails: Counter<'type' | 'outcome'>;
  private readonly retries: Counter<'type'>;
  private readonly sendDuration: Histogram<'type'>;
  private readonly deliveryDelay: Histogram<'type'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.emails = new Counter({ name: 'twostep_mail_emails_total', help: 'Mail events handled, by outcome', labelNames: ['type', 'outcome'], registers });
    this.retries = new Counter({ name: 'twostep_mail_send_retries_total', help: 'Failed sends that will be tried again', labelNames: ['type'], registers });
    this.sendDuration = new Histogram({
      name: 'twostep_mail_send_duration_seconds',
      help: 'Time the mail server took to accept one message',
      labelNames: ['type'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers,
    });
    this.deliveryDelay = new Histogram({
      name: 'twostep_mail_delivery_delay_seconds',
      help: 'From the command that queued the mail to its acceptance by the mail server',
      labelNames: ['type'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    });
    // Zeroes for the outcomes an alert watches, so a rate() works before the first one happens.
    for (const outcome of ['sent', 'expired', 'dead_lettered'] as const) this.emails.inc({ type: 'CodeIssued', outcome }, 0);
  }

  outcome(type: MailEventType, outcome: Exclude<MailOutcome, 'ignored'> | 'skipped'): void {
    this.emails.inc({ type, outcome });
  }

  retried(type: MailEventType): void {
    this.retries.inc({ type });
  }

  accepted(type: MailEventType, sendSeconds: number, sinceDecidedSeconds: number | null): void {
    this.sendDuration.observe({ type }, sendSeconds);
    if (sinceDecidedSeconds !== null) this.deliveryDelay.observe({ type }, sinceDecidedSeconds);
  }
}
