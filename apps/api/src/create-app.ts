import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { OPS_PATHS, requireOpsKey, type Runtime } from '@twostep/app';
import { ApiModule, LateRoutes } from './app.module';
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
  // Each app.use is a router layer that every request walks past (a path match each): the
  // request metric and log, the API's no-store header and the JSON check share one, unless the
  // operator pages' key check has to sit between them.
  const observe = observeRequests(app.get(Metrics), logger);
  // API answers are per request and some carry secrets (setup, recovery codes, device tokens): never stored by a cache.
  // JSON in: a body of any other type is refused before it can reach a command.
  const apiHeadersAndJson = (request: Request, response: Response, next: NextFunction) => {
    if (API_PATH.test(request.path)) response.setHeader('Cache-Control', 'no-store');
    const hasBody = Number(request.headers['content-length'] ?? 0) > 0 || request.headers['transfer-encoding'] !== undefined;
    if (hasBody && !isJson(request.headers['content-type'])) {
      response.status(415).json({ error: 'unsupported_media_type', message: 'Send request bodies as application/json.' });
      return;
    }
    next();
  };
  if (runtime.env.TWOSTEP_OPS_KEY) {
    app.use(observe);
    app.use([...OPS_PATHS], requireOpsKey(runtime.env.TWOSTEP_OPS_KEY));
    app.use(apiHeadersAndJson);
  } else {
    app.use((request: Request, response: Response, next: NextFunction) => {
      observe.observe(request, response);
      apiHeadersAndJson(request, response, next);
    });
  }
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
  // Registered once Nest has added the API's routes (before its not-found handler), so a login
  // does not walk past the docs' nine routes first.
  app.get(LateRoutes).add(() => {
    const document = apiDocument() as unknown as OpenAPIObject;
    SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
  });
  return app;
}

/** What `app.use('/v1', …)` matches: /v1 and below, any case (express routes are case-insensitive). */
const API_PATH = /^\/v1(?:\/|$)/i;

/** application/json, with or without parameters (the charset is body-parser's to check). */
function isJson(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const semicolon = contentType.indexOf(';');
  return (semicolon < 0 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase() === 'application/json';
}
