import { Controller, Get, Inject, Query, Req } from '@nestjs/common';
import { z } from 'zod/v4';
import { parseStream } from '@twostep/domain';
import { anchorOf, formatAnchor, type StoredEvent } from '@twostep/eventstore';
import { Roles, type AuthedRequest } from '../../http/auth.guard';
import { ApiError } from '../../http/errors';
import { canReachTenant, type Principal } from '../../http/principal';
import { ZodBody } from '../../http/validation';
import { EVENT_STORE, type EventStore } from '../../tokens';
import { isoTime, StoredEventBody, type Operation } from '../../http/contract';

const AllEventsQuery = z
  .object({
    after: z.coerce.number().int().min(0).default(0),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
  })
  .strict();

const AnchorQuery = z.object({ count: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional() }).strict();

export const allEventsOperation: Operation = {
  operationId: 'listEvents',
  method: 'get',
  path: '/v1/events',
  tag: 'auditors',
  summary: 'Every event in global order',
  description: 'Page with `after` = the previous `next` (a position). A key scoped to some tenants sees only theirs, so a page may hold fewer than `limit` events, even none, with a `next` to follow; `next` is null only at the end of the log.',
  roles: ['auditor', 'admin'],
  query: AllEventsQuery,
  response: { status: 200, description: 'A page of the log', schema: z.object({ events: z.array(StoredEventBody), next: z.number().int().nullable() }).strict() },
  errors: [],
};

export const anchorOperation: Operation = {
  operationId: 'getAnchor',
  method: 'get',
  path: '/v1/events/anchor',
  tag: 'auditors',
  summary: 'The log anchor N:digest of the first `count` events (default: all); keep it outside twostep',
  description: 'A rolling sha256 over the events\' hashes; `twostep verify --anchor N:digest` later proves the log still begins with exactly those events. Needs a key for every tenant (`*`).',
  roles: ['auditor', 'admin'],
  query: AnchorQuery,
  response: {
    status: 200,
    description: 'The anchor',
    schema: z.object({ anchor: z.string(), count: z.number().int().min(0), digest: z.string(), position: z.number().int().min(0), at: isoTime.nullable() }).strict(),
  },
  errors: ['forbidden_tenant', 'log_shorter_than_anchor'],
};

@Controller('v1/events')
export class AuditEventsController {
  constructor(@Inject(EVENT_STORE) private readonly eventStore: EventStore) {}

  @Get()
  @Roles(...allEventsOperation.roles)
  async all(@Query(new ZodBody(AllEventsQuery)) query: z.infer<typeof AllEventsQuery>, @Req() request: AuthedRequest) {
    return readVisiblePage(this.eventStore, request.principal, query.after, query.limit);
  }

  @Get('anchor')
  @Roles(...anchorOperation.roles)
  async anchor(@Query(new ZodBody(AnchorQuery)) query: z.infer<typeof AnchorQuery>, @Req() request: AuthedRequest) {
    if (!request.principal.tenants.includes('*')) {
      throw new ApiError(403, 'forbidden_tenant', "An anchor covers every tenant's events: it needs a key for all tenants (*).");
    }
    const result = await anchorOf(this.eventStore, query.count);
    if (!result) {
      const head = await anchorOf(this.eventStore);
      throw new ApiError(409, 'log_shorter_than_anchor', `The log holds ${head!.anchor.count} events, fewer than ${query.count}.`, { count: head!.anchor.count });
    }
    const { anchor, last } = result;
    return { anchor: formatAnchor(anchor), count: anchor.count, digest: anchor.digest, position: last?.position ?? 0, at: last?.metadata.at ?? null };
  }
}

/** How many events one request may scan for a tenant-scoped key before it answers with what it found. */
const SCAN_PAGES = 10;

/**
 * A page of the global log as one key may see it. A key scoped to some tenants sees only their
 * streams; the cursor still moves over everything scanned, so a page may hold fewer than `limit`
 * events (even none) with a `next` to follow. `next` is null only at the end of the log.
 */
async function readVisiblePage(eventStore: EventStore, principal: Principal, after: number, limit: number) {
  const visible = (event: StoredEvent) => {
    if (principal.tenants.includes('*')) return true;
    const parsed = parseStream(event.stream);
    return parsed.kind !== 'other' && canReachTenant(principal, parsed.tenantId);
  };
  const events: StoredEvent[] = [];
  let cursor = after;
  for (let page = 0; page < SCAN_PAGES && events.length < limit; page++) {
    const want = limit - events.length;
    const scanned = await eventStore.readAll({ after: cursor, limit: want });
    events.push(...scanned.filter(visible));
    if (scanned.length < want) return { events, next: null }; // the end of the log
    cursor = scanned[scanned.length - 1]!.position;
  }
  return { events, next: cursor };
}
