import type { Logger } from 'pino';
import { Gauge, type Registry } from 'prom-client';
import { CheckpointedConsumer, Projector, type Runtime } from '@twostep/app';
import { createMailTransport, Mailer, MAIL_EVENT_TYPES, PrometheusMailMetrics, type MailTransport } from '@twostep/mail';

/**
 * Embedded mode runs the projector and the mailer inside the api process, each as a durable
 * subscription to the SQLite event store with its own checkpoint. The mailer reads the log in
 * pages and decodes only mail events; it moves its checkpoint once per page, and sends a page's
 * mails one after another (order per account; embedded mode is one process for small loads).
 * Given the api's registry, they serve the workers' metrics on the api's /metrics: the mail
 * counters and histograms of the mailer process, and the lag of both subscriptions.
 */
export class EmbeddedWorkers {
  readonly projector: Projector;
  private readonly mailConsumer: CheckpointedConsumer;
  private readonly transport: MailTransport;

  constructor(runtime: Runtime, logger: Logger, options: { transport?: MailTransport; registry?: Registry } = {}) {
    const { transport, registry } = options;
    this.projector = new Projector(runtime.eventStore, runtime.readModels);
    this.transport = transport ?? createMailTransport(runtime.env.SMTP_URL, runtime.env.TWOSTEP_DATA_DIR, { maxConnections: runtime.env.MAIL_SMTP_POOL });
    if (!runtime.secrets.opener) throw new Error('embedded mode needs the mailer private key');
    const mailer = new Mailer({
      transport: this.transport,
      opener: runtime.secrets.opener,
      dedupe: runtime.kv,
      from: runtime.env.TWOSTEP_MAIL_FROM,
      issuer: runtime.env.TWOSTEP_ISSUER,
      maxAttempts: runtime.env.MAIL_MAX_ATTEMPTS,
      clock: runtime.clock,
      logger: logger.child({ component: 'mailer' }),
      metrics: registry ? new PrometheusMailMetrics(registry) : undefined,
    });
    this.mailConsumer = new CheckpointedConsumer(
      runtime.eventStore,
      runtime.kv,
      'mailer',
      async (events) => {
        for (const event of events) await mailer.handle(event);
      },
      { types: MAIL_EVENT_TYPES },
    );
    if (registry) {
      const mailConsumer = this.mailConsumer;
      // Read when scraped: the head of the log minus where each subscription has got to.
      new Gauge({
        name: 'twostep_projector_lag_events',
        help: 'Events in the log not yet in the read models (projection) or not yet looked at by the mailer (mailer)',
        labelNames: ['subscriber'],
        registers: [registry],
        async collect() {
          const head = await runtime.eventStore.headPosition();
          this.set({ subscriber: 'projection' }, head - (await runtime.readModels.checkpoint()));
          this.set({ subscriber: 'mailer' }, head - (await mailConsumer.checkpoint()));
        },
      });
    }
  }

  async start(): Promise<void> {
    await this.projector.start();
    await this.mailConsumer.start();
  }

  async stop(): Promise<void> {
    await this.mailConsumer.stop();
    await this.projector.stop();
    await this.transport.close();
  }
}
