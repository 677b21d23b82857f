import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { AuthedRequest } from './auth.guard';
import type { Principal } from './principal';

export const CurrentPrincipal = createParamDecorator(
  (_data: unknown, context: ExecutionContext): Principal => context.switchToHttp().getRequest<AuthedRequest>().principal,
);

/** Route prefix of everything about one account. */
export const ACCOUNT_ROUTE = 'v1/tenants/:tenantId/accounts/:userId';
