import { Controller, Get, Header, Inject, Injectable } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { TwoFactorMetrics } from '../accounts/two-factor-metrics';
import { ADAPTERS, EVENT_STORE, READ_MODEL_STORE, type Adapters, type EventStore, type ReadModelStore } from '../tokens';
import type { AuthedRequest } from './auth.guard';

/** One Prometheus registry per process (tests create several apps; default metrics once each). */
@Injectable()
export class Metrics {
  readonly registry = new Registry();
  readonly httpDuration = new Histogram({
    name: 'twostep_http_request_duration_seconds',
    help: 'HTTP request duration by route and status',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly outcomes = new Counter({
    name: 'twostep_http_errors_total',
    help: 'Refusals by stable error code',
    labelNames: ['error'],
    registers: [this.registry],
  });

  /** About 2FA itself: challenges, verifications, recovery codes, locks, policy changes. */
  readonly twoFactor = new TwoFactorMetrics(this.registry);

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}

/** Set by the error filter on the response, so the request metric can count refusals by code. */
export const ERROR_CODE_LOCAL = 'twostepErrorCode';

/** A caller's request id is kept when it looks like one (so logs join across services), else one is made. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Express middleware (registered before the routes). Echoes or generates `X-Request-Id`; when
 * the response is finished, observes its duration under the matched route and the status
 * actually sent (a 4xx from a handler is a 4xx), counts a refusal under its stable error code,
 * and writes one JSON log line: method, route, status, duration, tenant, request id, API key id.
 * Never a path with its ids in full, a body or a header value. `.observe(request, response)` does
 * the same without calling on, for a middleware that does more in one router layer.
 */
export function observeRequests(metrics: Metrics, logger: Logger) {
  // One histogram child per (method, route, status), looked up by a plain string: prom-client
  // would otherwise sort and hash the label object on every request.
  const children = new Map<string, { observe(value: number): void }>();
  const child = (method: string, route: string, status: string) => {
    const key = `${method} ${status} ${route}`;
    let found = children.get(key);
    if (!found) children.set(key, (found = metrics.httpDuration.labels({ method, route, status })));
    return found;
  };
  // Its fields are fixed above and none is a secret, so the access log skips redaction (a third of its cost).
  const log = logger.child({ component: 'http' }, { redact: [] });
  const observe = (request: Request, response: Response): void => {
    const started = process.hrtime.bigint();
    const given = request.headers['x-request-id'];
    const requestId = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    response.setHeader('X-Request-Id', requestId);
    response.once('finish', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = (request.route as { path?: string } | undefined)?.path ?? 'unknown';
      const status = response.statusCode;
      child(request.method, route, String(status)).observe(seconds);
      const code = response.locals[ERROR_CODE_LOCAL] as string | undefined;
      if (code) metrics.outcomes.inc({ error: code });
      const params = (request.params ?? {}) as Record<string, string | undefined>;
      log.info(
        {
          requestId,
          method: request.method,
          route,
          status,
          durationMs: Math.round(seconds * 1e5) / 100,
          ...(params.tenantId ? { tenantId: params.tenantId } : {}),
          ...((request as Partial<AuthedRequest>).principal ? { keyId: (request as AuthedRequest).principal.keyId } : {}),
          ...(code ? { error: code } : {}),
        },
        'request',
      );
    });
  };
  return Object.assign(
    (request: Request, response: Response, next: NextFunction): void => {
      observe(request, response);
      next();
    },
    { observe },
  );
}

@ApiExcludeController()
@Controller()
export class ObservabilityController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicator: HealthIndicatorService,
    private readonly metrics: Metrics,
    @Inject(ADAPTERS) private readonly adapters: Adapters, @Inject(EVENT_STORE) private readonly eventStore: EventStore, @Inject(READ_MODEL_STORE) private readonly readModels: ReadModelStore,
  ) {}

  @Get('health/live')
  live() {
    return { status: 'ok' };
  }

  @Get('health/ready')
  @HealthCheck()
  ready() {
    return this.health.check([
      async () => {
        const check = this.indicator.check('eventStore');
        try {
          return check.up({ adapter: this.adapters.eventStore, head: await this.eventStore.headPosition() });
        } catch (error) {
          return check.down({ adapter: this.adapters.eventStore, message: (error as Error).message });
        }
      },
      async () => {
        const check = this.indicator.check('readModels');
        try {
          return check.up({ adapter: this.adapters.readModels, checkpoint: await this.readModels.checkpoint() });
        } catch (error) {
          return check.down({ adapter: this.adapters.readModels, message: (error as Error).message });
        }
      },
    ]);
  }

  @Get('metrics')
  @Header('Content-Type', 'text/plain; version=0.0.4')
  async scrape(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
