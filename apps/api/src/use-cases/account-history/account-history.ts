import { Controller, Get, Inject, Param, Query } from '@nestjs/common';
import { z } from 'zod/v4';
import { accountStream } from '@twostep/domain';
import type { AccountRef } from '../../accounts/account-runner';
import { ReadModels } from '../../accounts/read-models';
import { Roles } from '../../http/auth.guard';
import { ACCOUNT_ROUTE } from '../../http/current-principal';
import { ZodBody } from '../../http/validation';
import { EVENT_STORE, type EventStore } from '../../tokens';
import { Actor, isoTime, StoredEventBody, type Operation } from '../../http/contract';

export const PageQuery = z
  .object({
    after: z.coerce.number().int().min(-1).optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
  })
  .strict();
type Page = z.infer<typeof PageQuery>;

export const accountEventLogOperation: Operation = {
  operationId: 'getAccountEventLog',
  method: 'get',
  path: '/v1/tenants/{tenantId}/accounts/{userId}/event-log',
  tag: 'event log',
  summary: "The account's event log for people: time, what happened, who did it",
  description: 'Page with `after` = the previous `next` (a revision); `next` is null on the last page.',
  roles: ['operator', 'admin', 'auditor'],
  query: PageQuery,
  response: {
    status: 200,
    description: 'A page of the event log',
    schema: z
      .object({
        tenantId: z.string(),
        userId: z.string(),
        entries: z.array(
          z.object({ position: z.number().int(), revision: z.number().int(), eventId: z.string(), at: isoTime, type: z.string(), what: z.string(), actor: Actor }).strict(),
        ),
        next: z.number().int().nullable(),
      })
      .strict(),
  },
  errors: [],
};

export const accountEventsOperation: Operation = {
  operationId: 'getAccountEvents',
  method: 'get',
  path: '/v1/tenants/{tenantId}/accounts/{userId}/events',
  tag: 'event log',
  summary: 'The raw events of the account, in order',
  description: 'Page with `after` = the previous `next` (a revision); `next` is null on the last page.',
  roles: ['auditor', 'admin'],
  query: PageQuery,
  response: { status: 200, description: 'A page of events', schema: z.object({ events: z.array(StoredEventBody), next: z.number().int().nullable() }).strict() },
  errors: [],
};

@Controller(ACCOUNT_ROUTE)
export class AccountHistoryController {
  constructor(private readonly readModels: ReadModels, @Inject(EVENT_STORE) private readonly eventStore: EventStore) {}

  @Get('event-log')
  @Roles(...accountEventLogOperation.roles)
  async eventLog(@Param() { tenantId, userId }: AccountRef, @Query(new ZodBody(PageQuery)) page: Page) {
    const store = await this.readModels.fresh();
    const entries = await store.eventLog(tenantId, userId, page);
    return { tenantId, userId, entries, next: entries.length === page.limit ? entries[entries.length - 1]!.revision : null };
  }

  @Get('events')
  @Roles(...accountEventsOperation.roles)
  async events(@Param() { tenantId, userId }: AccountRef, @Query(new ZodBody(PageQuery)) page: Page) {
    const all = await this.eventStore.readStream(accountStream(tenantId, userId), { fromRevision: (page.after ?? -1) + 1 });
    const events = all.slice(0, page.limit);
    return { events, next: all.length > page.limit ? events[events.length - 1]!.revision : null };
  }
}
