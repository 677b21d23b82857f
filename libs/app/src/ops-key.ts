import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * TWOSTEP_OPS_KEY, when set, puts the operator pages behind a bearer key of their own: the api's
 * /metrics, /docs and /docs-json, and /metrics on the workers' HEALTH_PORT. Health probes stay
 * open (orchestrators call them without credentials). Unset (development default): open as before.
 */
export const OPS_PATHS = ['/metrics', '/docs', '/docs-json'] as const;

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

/** Whether the request carries `Authorization: Bearer <key>`; compared in constant time. */
export function hasOpsKey(request: IncomingMessage, key: string): boolean {
  const match = /^Bearer (\S+)$/.exec(request.headers.authorization ?? '');
  return match !== null && timingSafeEqual(digest(match[1]!), digest(key));
}

/** Answers 401 in the api's error shape, saying how to authenticate (RFC 6750). */
export function refuseOps(response: ServerResponse): void {
  response.writeHead(401, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'www-authenticate': 'Bearer realm="twostep-ops"',
  });
  response.end(JSON.stringify({ error: 'unauthorized', message: 'This page needs the operations key: send "Authorization: Bearer <TWOSTEP_OPS_KEY>".' }));
}

/** Express/connect middleware for OPS_PATHS (mounted only when a key is configured). */
export function requireOpsKey(key: string) {
  return (request: IncomingMessage, response: ServerResponse, next: () => void): void => {
    if (hasOpsKey(request, key)) next();
    else refuseOps(response);
  };
}
