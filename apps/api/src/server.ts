import * as v8 from 'node:v8';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { Logger } from 'pino';
import { createLogger, createRuntime, type Clock, type Runtime } from '@twostep/app';
import type { Env } from '@twostep/config';
import { createApiApp } from './create-app';
import { EmbeddedWorkers } from './embedded';
import { Metrics } from './http/observability';

export interface ApiServer {
  app: NestExpressApplication;
  runtime: Runtime;
  logger: Logger;
  embedded: boolean;
  close(): Promise<void>;
}

/**
 * The api process as `main.ts` runs it: runtime, embedded workers (embedded mode), HTTP app,
 * listening on PORT/HOST. The benchmark starts exactly this with its own clock.
 */
export async function startApi(env: Env, options: { clock?: Clock } = {}): Promise<ApiServer> {
  // Heap growth (TWOSTEP_HEAP_GROWTH_PERCENT): V8 reads it at every full GC, so setting it now works.
  if (env.TWOSTEP_HEAP_GROWTH_PERCENT > 0) v8.setFlagsFromString(`--heap-growing-percent=${env.TWOSTEP_HEAP_GROWTH_PERCENT}`);
  const logger = createLogger(env.LOG_LEVEL);
  const embedded = env.TWOSTEP_MODE === 'embedded';
  const runtime = await createRuntime(env, { generateMissingKeys: embedded, needsOpener: embedded, clock: options.clock });
  const app = await createApiApp(runtime, logger);
  const workers = embedded ? new EmbeddedWorkers(runtime, logger, { registry: app.get(Metrics).registry }) : null;
  await workers?.start();
  await app.listen(env.PORT, env.HOST);
  return {
    app,
    runtime,
    logger,
    embedded,
    async close() {
      await app.close();
      await workers?.stop();
      await runtime.close();
    },
  };
}
