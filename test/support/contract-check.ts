import type { NextFunction, Request, Response } from 'express';
import { ERROR_STATUS, errorsOf, type ErrorCode, type Operation } from '../../apps/api/src/http/contract';
import { OPERATIONS } from '../../apps/api/src/operations';

const matchers = OPERATIONS.map((operation) => ({
  operation,
  pattern: new RegExp(`^${operation.path.replace(/\{\w+\}/g, '[^/]+')}$`),
}));

/** The operation a request was for, by method and path (none for health, metrics, unknown paths). */
export function operationFor(method: string, path: string): Operation | undefined {
  return matchers.find(({ operation, pattern }) => operation.method === method.toLowerCase() && pattern.test(path))?.operation;
}

/** Why an answer breaks its operation's contract, or null when it keeps it. */
export function contractViolation(operation: Operation, status: number, body: unknown): string | null {
  if (status < 400) {
    if (status !== operation.response.status) return `status ${status} is not the declared ${operation.response.status}`;
    const parsed = operation.response.schema.safeParse(body);
    return parsed.success ? null : `body does not match the response schema: ${parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`;
  }
  const code = (body as { error?: unknown } | null)?.error;
  if (typeof code !== 'string') return `status ${status} without an error code`;
  if (!errorsOf(operation).includes(code as ErrorCode)) return `error ${code} (${status}) is not declared`;
  if (ERROR_STATUS[code as ErrorCode] !== status) return `error ${code} came with ${status}, declared ${ERROR_STATUS[code as ErrorCode]}`;
  return null;
}

/**
 * Express middleware for the HTTP tests: every JSON answer to a /v1 route is checked against
 * the route's operation, so the whole HTTP suite keeps openapi.json honest. An answer that breaks
 * it is replaced by a 500 `contract_violation` naming the problem, which fails the test that asked.
 */
export function checkAnswers(violations: string[]) {
  return (request: Request, response: Response, next: NextFunction): void => {
    const operation = operationFor(request.method, request.path);
    if (operation) {
      const json = response.json.bind(response);
      response.json = (body: unknown) => {
        const problem = contractViolation(operation, response.statusCode, body);
        if (!problem) return json(body);
        // The test that made the request fails on the spot (no test expects this status), and close() names it too.
        const violation = `${operation.operationId} (${request.method} ${request.path}): ${problem}`;
        violations.push(violation);
        response.status(500);
        return json({ error: 'contract_violation', message: violation });
      };
    }
    next();
  };
}
