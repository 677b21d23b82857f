import { CallHandler, Controller, ExecutionContext, Get, Header, Inject, Injectable, NestInterceptor } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import type { Request, Response } from 'express';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { tap, type Observable } from 'rxjs';
import type { Runtime } from '@twostep/app';
import { STATUS_PROJECTION } from '@twostep/readmodel';
import { RUNTIME } from '../tokens';

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

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }
}

@Injectable()
export class MetricsInterceptor implements NestInterceptor {
  constructor(private readonly metrics: Metrics) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const started = process.hrtime.bigint();
    const http = context.switchToHttp();
    const request = http.getRequest<Request>();
    const record = (status: number) =>
      this.metrics.httpDuration.observe(
        { method: request.method, route: (request.route as { path?: string } | undefined)?.path ?? 'unknown', status: String(status) },
        Number(process.hrtime.bigint() - started) / 1e9,
      );
    return next.handle().pipe(
      tap({
        next: () => record(http.getResponse<Response>().statusCode),
        error: (error: { getStatus?: () => number; code?: string; response?: { error?: string } }) => {
          record(typeof error.getStatus === 'function' ? error.getStatus() : 500);
          this.metrics.outcomes.inc({ error: error.response?.error ?? error.code ?? 'internal_error' });
        },
      }),
    );
  }
}

@ApiExcludeController()
@Controller()
export class ObservabilityController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicator: HealthIndicatorService,
    private readonly metrics: Metrics,
    @Inject(RUNTIME) private readonly runtime: Runtime,
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
          return check.up({ adapter: this.runtime.adapters.eventStore, head: await this.runtime.eventStore.headPosition() });
        } catch (error) {
          return check.down({ adapter: this.runtime.adapters.eventStore, message: (error as Error).message });
        }
      },
      async () => {
        const check = this.indicator.check('readModels');
        try {
          return check.up({ adapter: this.runtime.adapters.readModels, checkpoint: await this.runtime.readModels.checkpoint(STATUS_PROJECTION) });
        } catch (error) {
          return check.down({ adapter: this.runtime.adapters.readModels, message: (error as Error).message });
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
