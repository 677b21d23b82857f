import { ArgumentsHost, Catch, ExceptionFilter, HttpException } from '@nestjs/common';
import type { Response } from 'express';
import { DomainError, type DomainErrorCode } from '@twostep/domain';
import type { Logger } from 'pino';
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
};

/** Answers with the error shape, and leaves the stable code for the request metric (httpMetrics). */
function send(response: Response, status: number, body: { error: string; message: string }): void {
  response.locals[ERROR_CODE_LOCAL] = body.error;
  response.status(status).json(body);
}

@Catch()
export class ErrorFilter implements ExceptionFilter {
  constructor(private readonly logger: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<Response>();

    if (exception instanceof DomainError) {
      if (exception.code === 'resend_cooldown') response.setHeader('Retry-After', String(exception.details.retryAfterSeconds));
      send(response, STATUS_OF[exception.code], { error: exception.code, message: exception.message, ...exception.details });
      return;
    }
    if ((exception as { code?: string } | null)?.code === 'wrong_expected_revision') {
      // Retries on concurrent writes ran out: the caller may simply try again.
      send(response, 409, { error: 'concurrent_update', message: 'The account changed concurrently; try again.' });
      return;
    }
    if (exception instanceof HttpException && exception.getStatus() === 400 && exception.message.startsWith('Failed to decode param')) {
      send(response, 400, { error: 'invalid_id', message: 'A path id (tenantId, userId or challengeId) is not valid percent-encoding.' });
      return;
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
