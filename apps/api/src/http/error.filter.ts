import { ArgumentsHost, Catch, ExceptionFilter, HttpException } from '@nestjs/common';
import type { Request, Response } from 'express';
import { SecretBoxError } from '@twostep/crypto';
import { DomainError, type DomainErrorCode } from '@twostep/domain';
import type { Logger } from 'pino';
import type { Clock } from '@twostep/app';
import { ERROR_CODE_LOCAL } from './observability';

/** The one place domain error codes become HTTP statuses. */
export const STATUS_OF: Record<DomainErrorCode, number> = {
  invalid_code: 422,
  code_expired: 410,
  challenge_expired: 410,
  challenge_not_found: 404,
  account_locked: 423,
  not_enabled: 409,
  enforced_by_policy: 409,
  setup_not_started: 409,
  not_locked: 409,
  resend_not_available: 409,
  resend_cooldown: 429,
  recovery_not_available: 409,
  email_required: 400,
  invalid_policy: 400,
  device_not_found: 404,
  passkeys_not_configured: 409,
  passkey_not_available: 409,
  passkey_already_registered: 409,
  passkey_name_taken: 409,
  passkey_limit: 409,
  passkey_not_found: 404,
};

/** Answers with the error shape, and leaves the stable code for the request metric and log line (observeRequests). */
function send(response: Response, status: number, body: { error: string; message: string }): void {
  response.locals[ERROR_CODE_LOCAL] = body.error;
  if (status === 401) response.setHeader('WWW-Authenticate', 'Bearer'); // RFC 6750: how to authenticate
  response.status(status).json(body);
}

@Catch()
export class ErrorFilter implements ExceptionFilter {
  constructor(
    private readonly logger: Logger,
    private readonly clock: Clock,
  ) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<Response>();

    if (exception instanceof DomainError) {
      if (exception.code === 'resend_cooldown') response.setHeader('Retry-After', String(exception.details.retryAfterSeconds));
      if (exception.code === 'account_locked' && typeof exception.details.lockedUntil === 'string') {
        const seconds = Math.ceil((Date.parse(exception.details.lockedUntil) - this.clock.now().getTime()) / 1000);
        response.setHeader('Retry-After', String(Math.max(1, seconds)));
      }
      send(response, STATUS_OF[exception.code], { error: exception.code, message: exception.message, ...exception.details });
      return;
    }
    if (exception instanceof SecretBoxError && exception.code === 'unknown_key') {
      // The key ring lost a key (a rotation retired it before the secrets were re-encrypted):
      // the operator hears which key, the user can set the authenticator up again.
      this.logger.error({ kid: exception.kid }, 'a stored secret uses a key id that is not in TWOSTEP_SECRET_KEYS; its account must set up again (or restore the key)');
      send(response, 409, { error: 'secret_key_missing', message: 'This account\'s authenticator can no longer be checked. Set up two-factor authentication again (restart setup).' });
      return;
    }
    if ((exception as { code?: string } | null)?.code === 'wrong_expected_revision') {
      // Retries on concurrent writes ran out: the caller may simply try again.
      send(response, 409, { error: 'concurrent_update', message: 'The account changed concurrently; try again.' });
      return;
    }
    if (exception instanceof HttpException && exception.getStatus() === 400 && exception.message.startsWith('Failed to decode param')) {
      send(response, 400, { error: 'invalid_id', message: 'A path id (tenantId, userId, challengeId or deviceId) is not valid percent-encoding.' });
      return;
    }
    if (exception instanceof HttpException && exception.getStatus() === 404) {
      const request = host.switchToHttp().getRequest<Request>();
      const allowed = allowedMethods(request);
      if (allowed.length > 0) {
        response.setHeader('Allow', allowed.join(', '));
        send(response, 405, { error: 'method_not_allowed', message: `${request.method} is not supported here; use ${allowed.join(' or ')}.` });
        return;
      }
    }
    if (exception instanceof HttpException) {
      const body = exception.getResponse();
      const status = exception.getStatus();
      if (typeof body === 'object' && body !== null && 'error' in body && typeof (body as { error: unknown }).error === 'string' && 'message' in body && typeof (body as { message: unknown }).message === 'string' && !('statusCode' in body)) {
        send(response, status, body as { error: string; message: string });
      } else {
        send(response, status, { error: status === 404 ? 'not_found' : `http_${status}`, message: exception.message });
      }
      return;
    }
    this.logger.error({ err: exception }, 'unhandled error');
    send(response, 500, { error: 'internal_error', message: 'Something went wrong on our side.' });
  }
}

interface RouteLayer {
  route?: { methods: Record<string, boolean> };
  match(path: string): unknown;
}

/** The methods other routes at this path answer (express's route table; only asked on a 404). */
function allowedMethods(request: Request): string[] {
  const stack = ((request.app as unknown as { router?: { stack?: RouteLayer[] } }).router?.stack ?? []).filter((layer) => layer.route);
  const methods = new Set<string>();
  for (const layer of stack) {
    if (!layer.match(request.path)) continue;
    for (const [method, on] of Object.entries(layer.route!.methods)) if (on && method !== '_all') methods.add(method.toUpperCase());
  }
  if (methods.has('GET')) methods.add('HEAD');
  return [...methods];
}
