import { HttpException } from '@nestjs/common';

/** An HTTP error with a stable `error` code; everything the API refuses goes through this shape. */
export class ApiError extends HttpException {
  constructor(status: number, code: string, message: string, extra: Record<string, unknown> = {}) {
    super({ error: code, message, ...extra }, status);
  }
}
