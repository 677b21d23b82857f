import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { OPS_PATHS, requireOpsKey, type Runtime } from '@twostep/app';
import { ApiModule } from './app.module';
import { apiDocument } from './operations';
import { answerParserErrors } from './http/client-errors';
import { NestPinoLogger } from './http/logger';
import { Metrics, observeRequests } from './http/observability';

/** Builds the HTTP app on a runtime; shared by `main.ts` and the HTTP tests. */
export async function createApiApp(runtime: Runtime, logger: Logger): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(ApiModule.register(runtime, logger), {
    bodyParser: false,
    logger: new NestPinoLogger(logger),
  });
  app.disable('x-powered-by');
  answerParserErrors(app.getHttpServer());
  app.set('etag', false); // answers are per-request decisions, never revalidated: no SHA-1 of every body
  app.use(observeRequests(app.get(Metrics), logger));
  if (runtime.env.TWOSTEP_OPS_KEY) app.use([...OPS_PATHS], requireOpsKey(runtime.env.TWOSTEP_OPS_KEY));
  // API answers are per request and some carry secrets (setup, recovery codes, device tokens): never stored by a cache.
  app.use('/v1', (_request: Request, response: Response, next: NextFunction) => {
    response.setHeader('Cache-Control', 'no-store');
    next();
  });
  // JSON in: a body of any other type is refused before it can reach a command.
  app.use((request: Request, response: Response, next: NextFunction) => {
    const hasBody = Number(request.headers['content-length'] ?? 0) > 0 || request.headers['transfer-encoding'] !== undefined;
    if (hasBody && !isJson(request.headers['content-type'])) {
      response.status(415).json({ error: 'unsupported_media_type', message: 'Send request bodies as application/json.' });
      return;
    }
    next();
  });
  // Every body that got here is JSON (checked above), so the parser does not look at the type again.
  app.useBodyParser('json', { limit: runtime.env.TWOSTEP_BODY_LIMIT, strict: true, type: () => true });
  // Body-parser failures happen before Nest routing, so they get their stable codes here.
  app.use((error: { type?: string; status?: number }, _request: Request, response: Response, next: NextFunction) => {
    if (error?.type === 'entity.too.large') {
      response.status(413).json({ error: 'payload_too_large', message: `Request bodies are limited to ${runtime.env.TWOSTEP_BODY_LIMIT}.` });
    } else if (error?.type === 'entity.parse.failed') {
      response.status(400).json({ error: 'malformed_json', message: 'The request body is not valid JSON.' });
    } else if (error?.status === 415) {
      response.status(415).json({ error: 'unsupported_media_type', message: 'Send request bodies as UTF-8 application/json.' });
    } else if (error?.status && error.status < 500) {
      response.status(error.status).json({ error: 'bad_request', message: 'The request body could not be read.' });
    } else next(error);
  });
  // The contract is built from the routes' own schemas (operations.ts), not from decorators.
  const document = apiDocument() as unknown as OpenAPIObject;
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
  return app;
}

/** application/json, with or without parameters (the charset is body-parser's to check). */
function isJson(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const semicolon = contentType.indexOf(';');
  return (semicolon < 0 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase() === 'application/json';
}
