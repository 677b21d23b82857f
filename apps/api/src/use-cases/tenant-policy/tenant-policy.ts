import { Body, Controller, Get, Inject, Param, Put } from '@nestjs/common';
import { CommandBus, CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { z } from 'zod/v4';
import { policyDecider, policyStream, type PolicyChanges } from '@twostep/domain';
import type { Runtime } from '@twostep/app';
import { Roles } from '../../http/auth.guard';
import { Metrics } from '../../http/observability';
import { CurrentPrincipal } from '../../http/current-principal';
import { actorOf, type Principal } from '../../http/principal';
import { jsonSchema, ZodBody } from '../../http/validation';
import { RUNTIME } from '../../tokens';

// Types only here; ranges are the domain's rule (`validatePolicyChanges`), so every entry point shares them.
const PolicyBody = z
  .object({
    emailOtpRequired: z.boolean().optional(),
    codeTtlMinutes: z.number().int().optional(),
    trustedDeviceDays: z.number().int().optional(),
    maxFailedAttempts: z.number().int().optional(),
    lockoutMinutes: z.number().int().optional(),
    resendCooldownSeconds: z.number().int().optional(),
  })
  .strict();

export class UpdatePolicyCommand {
  constructor(readonly tenantId: string, readonly principal: Principal, readonly changes: PolicyChanges) {}
}

@CommandHandler(UpdatePolicyCommand)
export class UpdatePolicyHandler implements ICommandHandler<UpdatePolicyCommand> {
  constructor(
    @Inject(RUNTIME) private readonly runtime: Runtime,
    private readonly metrics: Metrics,
  ) {}

  async execute({ tenantId, principal, changes }: UpdatePolicyCommand) {
    const result = await this.runtime.commandPath.run({
      stream: policyStream(tenantId),
      decider: policyDecider,
      command: () => ({ type: 'UpdatePolicy', tenantId, changes }),
      context: () => ({}),
      actor: actorOf(principal),
    });
    if (result.events.length > 0) this.metrics.twoFactor.policyChanges.inc();
    return { tenantId, ...result.state };
  }
}

@ApiTags('policy')
@Controller('v1/tenants/:tenantId/policy')
export class TenantPolicyController {
  constructor(private readonly commands: CommandBus, @Inject(RUNTIME) private readonly runtime: Runtime) {}

  @Get()
  @Roles('admin', 'operator')
  @ApiOperation({ summary: "A tenant's 2FA policy (tenant `admin` = the admin console's global settings)" })
  async get(@Param('tenantId') tenantId: string) {
    return { tenantId, ...(await this.runtime.policies.get(tenantId)) };
  }

  @Put()
  @Roles('admin')
  @ApiOperation({ summary: 'Change settings; out-of-range or unknown settings are a 400 naming the field' })
  @ApiBody({ schema: jsonSchema(PolicyBody) })
  update(@Param('tenantId') tenantId: string, @CurrentPrincipal() principal: Principal, @Body(new ZodBody(PolicyBody)) body: z.infer<typeof PolicyBody>) {
    return this.commands.execute(new UpdatePolicyCommand(tenantId, principal, body));
  }
}
