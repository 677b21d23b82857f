import { Controller, Get, Inject, Param, Query } from '@nestjs/common';
import { ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { z } from 'zod/v4';
import { accountStream } from '@twostep/domain';
import type { Runtime } from '@twostep/app';
import type { AccountRef } from '../../accounts/account-runner';
import { ReadModels } from '../../accounts/read-models';
import { Roles } from '../../http/auth.guard';
import { ACCOUNT_ROUTE } from '../../http/current-principal';
import { ZodBody } from '../../http/validation';
import { RUNTIME } from '../../tokens';

export const PageQuery = z
  .object({
    after: z.coerce.number().int().min(-1).optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
  })
  .strict();
type Page = z.infer<typeof PageQuery>;

@ApiTags('event log')
@Controller(ACCOUNT_ROUTE)
export class AccountHistoryController {
  constructor(private readonly readModels: ReadModels, @Inject(RUNTIME) private readonly runtime: Runtime) {}

  @Get('event-log')
  @Roles('operator', 'admin', 'auditor')
  @ApiOperation({ summary: "The account's event log for people: time, what happened, who did it" })
  @ApiQuery({ name: 'after', required: false, description: 'revision to continue after' })
  @ApiQuery({ name: 'limit', required: false })
  async eventLog(@Param() { tenantId, userId }: AccountRef, @Query(new ZodBody(PageQuery)) page: Page) {
    const store = await this.readModels.fresh();
    const entries = await store.eventLog(tenantId, userId, page);
    return { tenantId, userId, entries, next: entries.length === page.limit ? entries[entries.length - 1]!.revision : null };
  }

  @Get('events')
  @Roles('auditor', 'admin')
  @ApiOperation({ summary: 'The raw events of the account, in order (secrets stay encrypted or hashed)' })
  @ApiQuery({ name: 'after', required: false, description: 'revision to continue after' })
  @ApiQuery({ name: 'limit', required: false })
  async events(@Param() { tenantId, userId }: AccountRef, @Query(new ZodBody(PageQuery)) page: Page) {
    const all = await this.runtime.eventStore.readStream(accountStream(tenantId, userId), { fromRevision: (page.after ?? -1) + 1 });
    const events = all.slice(0, page.limit);
    return { events, next: all.length > page.limit ? events[events.length - 1]!.revision : null };
  }
}
