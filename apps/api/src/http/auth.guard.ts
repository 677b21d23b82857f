import { CanActivate, ExecutionContext, Injectable, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Request } from 'express';
import type { Logger } from 'pino';
import type { ApiKey, Role } from '@twostep/config';
import { ApiError } from './errors';
import { canReachTenant, type Principal } from './principal';

export const ROLES = 'twostep:roles';
/** Which roles may call a route. Routes without it are public (health, metrics, docs). */
export const Roles = (...roles: Role[]) => SetMetadata(ROLES, roles);

/** Ids in paths: short, and from a character set that keeps stream names unambiguous. */
export const ID_PATTERN = /^[A-Za-z0-9_@.+-]{1,64}$/;

export type AuthedRequest = Request & { principal: Principal };

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

@Injectable()
export class ApiKeyGuard implements CanActivate {
  private readonly keys: { digest: Buffer; key: ApiKey }[];
  /**
   * Keys that were presented and proved (by the constant-time check below) to be configured ones,
   * to their principal: a later request with the same key skips the hashing. The configured keys
   * are fixed for the process's life (a revoked or rotated key is removed by restarting with new
   * configuration, which starts an empty map), only exact configured keys ever enter it, so it
   * holds at most one entry per key, and an unknown key always takes the full check.
   */
  private readonly proven = new Map<string, Principal>();

  constructor(
    private readonly reflector: Reflector,
    apiKeys: ApiKey[],
    private readonly logger?: Logger,
  ) {
    this.keys = apiKeys.map((key) => ({ digest: digest(key.key), key }));
  }

  canActivate(context: ExecutionContext): boolean {
    const roles = this.reflector.getAllAndOverride<Role[] | undefined>(ROLES, [context.getHandler(), context.getClass()]);
    if (!roles) return true;
    const request = context.switchToHttp().getRequest<AuthedRequest>();
    const principal = this.authenticate(request.headers.authorization);
    const params = (request.params ?? {}) as Record<string, string>;
    for (const name in params) {
      if (!ID_PATTERN.test(params[name]!)) {
        throw new ApiError(400, 'invalid_id', `${name} must be 1-64 characters of letters, digits and _@.+-`);
      }
    }
    if (!roles.includes(principal.role)) {
      throw new ApiError(403, 'forbidden_role', `This API key (role ${principal.role}) cannot call this endpoint.`);
    }
    const tenantId = params.tenantId;
    if (tenantId !== undefined && !canReachTenant(principal, tenantId)) {
      throw new ApiError(403, 'forbidden_tenant', 'This API key has no access to that tenant.');
    }
    request.principal = principal;
    return true;
  }

  private authenticate(header: string | undefined): Principal {
    const match = /^Bearer (\S+)$/.exec(header ?? '');
    if (!match) throw new ApiError(401, 'unauthorized', 'Send an API key as "Authorization: Bearer <key>".');
    const known = this.proven.get(match[1]!);
    if (known) return known;
    const presented = digest(match[1]!);
    // Compare against every key so timing does not reveal which one was close.
    let found: ApiKey | undefined;
    for (const candidate of this.keys) {
      if (timingSafeEqual(candidate.digest, presented) && !found) found = candidate.key;
    }
    if (!found) {
      this.logger?.warn({ component: 'security' }, 'request with an unknown API key');
      throw new ApiError(401, 'unauthorized', 'Unknown API key.');
    }
    const principal: Principal = Object.freeze({ keyId: found.id, role: found.role, tenants: Object.freeze([...found.tenants]) as string[] });
    this.proven.set(match[1]!, principal);
    return principal;
  }
}
