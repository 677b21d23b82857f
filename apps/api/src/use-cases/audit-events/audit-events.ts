import { Controller, Get, Inject, Query } from '@nestjs/common';
import { ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import { z } from 'zod/v4';
import type { Runtime } from '@twostep/app';
import { Roles } from '../../http/auth.guard';
import { ZodBody } from '../../http/validation';
import { RUNTIME } from '../../tokens';

const AllEventsQuery = z
  .object({
    after: z.coerce.number().int().min(0).default(0),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
  })
  .strict();

@ApiTags('auditors')
@Controller('v1/events')
export class AuditEventsController {
  constructor(@Inject(RUNTIME) private readonly runtime: Runtime) {}

  @Get()
  @Roles('auditor', 'admin')
  @ApiOperation({ summary: 'Every event in global order; page with `after` = the previous `next`' })
  @ApiQuery({ name: 'after', required: false, description: 'global position to continue after' })
  @ApiQuery({ name: 'limit', required: false })
  async all(@Query(new ZodBody(AllEventsQuery)) query: z.infer<typeof AllEventsQuery>) {
    const events = await this.runtime.eventStore.readAll({ after: query.after, limit: query.limit });
    return { events, next: events.length === query.limit ? events[events.length - 1]!.position : null };
  }
}
