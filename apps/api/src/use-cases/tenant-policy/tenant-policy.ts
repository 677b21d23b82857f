import { Body, Controller, Get, Inject, Param, Put } from '@nestjs/common';
import { CommandBus, CommandHandler, ICommandHandler } from '@nestjs/cqrs';
import { z } from 'zod/v4';
import { DISPLAY_NAME_MAX, PASSKEY_ORIGINS_MAX, POLICY_BOUNDS, POLICY_DESCRIPTIONS, policyDecider, policyStream, type PolicyChanges } from '@twostep/domain';
import { Roles } from '../../http/auth.guard';
import { Metrics } from '../../http/observability';
import { CurrentPrincipal } from '../../http/current-principal';
import { actorOf, type Principal } from '../../http/principal';
import { type Operation } from '../../http/contract';
import { ZodBody } from '../../http/validation';
import { COMMAND_PATH, POLICY_READER, type CommandPath, type PolicyReader } from '../../tokens';

/**
 * Built from the domain's tables: every bounded setting of POLICY_BOUNDS is a whole number, the
 * rest are named here by kind; descriptions from POLICY_DESCRIPTIONS. Types are checked here;
 * ranges are the domain's rule (`validatePolicyChanges`, 400 invalid_policy naming the field), so
 * every entry point shares them, and the contract shows the same bounds. A new whole-number
 * setting needs no change in this file.
 */
type Bounded = keyof typeof POLICY_BOUNDS;
const bounded = Object.fromEntries(
  (Object.keys(POLICY_BOUNDS) as Bounded[]).map((field) => [
    field,
    z.number().int().meta({ minimum: POLICY_BOUNDS[field][0], maximum: POLICY_BOUNDS[field][1], description: POLICY_DESCRIPTIONS[field] }),
  ]),
) as Record<Bounded, z.ZodNumber>;
const SETTINGS = {
  emailOtpRequired: z.boolean().describe(POLICY_DESCRIPTIONS.emailOtpRequired),
  ...bounded,
  displayName: z.string().meta({ minLength: 1, maxLength: DISPLAY_NAME_MAX }).nullable().describe(POLICY_DESCRIPTIONS.displayName),
  passkeyRpId: z.string().meta({ minLength: 1, maxLength: 253 }).nullable().describe(POLICY_DESCRIPTIONS.passkeyRpId),
  passkeyOrigins: z.array(z.string()).meta({ maxItems: PASSKEY_ORIGINS_MAX }).describe(POLICY_DESCRIPTIONS.passkeyOrigins),
};
const PolicyBody = z.object(SETTINGS).partial().strict();
const PolicyView = z.object({ tenantId: z.string(), ...SETTINGS }).strict();

export class UpdatePolicyCommand {
  constructor(readonly tenantId: string, readonly principal: Principal, readonly changes: PolicyChanges) {}
}

@CommandHandler(UpdatePolicyCommand)
export class UpdatePolicyHandler implements ICommandHandler<UpdatePolicyCommand> {
  constructor(
    @Inject(COMMAND_PATH) private readonly commandPath: CommandPath,
    private readonly metrics: Metrics,
  ) {}

  async execute({ tenantId, principal, changes }: UpdatePolicyCommand) {
    const result = await this.commandPath.run({
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

export const getPolicyOperation: Operation = {
  operationId: 'getPolicy',
  method: 'get',
  path: '/v1/tenants/{tenantId}/policy',
  tag: 'policy',
  summary: "A tenant's 2FA settings (tenant `admin` = the admin console's global settings)",
  roles: ['admin', 'operator'],
  response: { status: 200, description: 'The settings in force', schema: PolicyView },
  errors: [],
};

export const updatePolicyOperation: Operation = {
  operationId: 'updatePolicy',
  method: 'put',
  path: '/v1/tenants/{tenantId}/policy',
  tag: 'policy',
  summary: 'Change some settings; the others stay as they are',
  description: 'An out-of-range setting is 400 `invalid_policy` naming it in `field`; an unknown one is 400 `validation_failed`.',
  roles: ['admin'],
  body: PolicyBody,
  bodyRequired: true,
  response: { status: 200, description: 'The settings now in force', schema: PolicyView },
  errors: ['invalid_policy', 'concurrent_update'],
  examples: { requireEmail: { emailOtpRequired: true, codeTtlMinutes: 10 }, name: { displayName: 'Acme Outdoor' } },
};

@Controller('v1/tenants/:tenantId/policy')
export class TenantPolicyController {
  constructor(private readonly commands: CommandBus, @Inject(POLICY_READER) private readonly policies: PolicyReader) {}

  @Get()
  @Roles(...getPolicyOperation.roles)
  async get(@Param('tenantId') tenantId: string) {
    return { tenantId, ...(await this.policies.get(tenantId)) };
  }

  @Put()
  @Roles(...updatePolicyOperation.roles)
  update(@Param('tenantId') tenantId: string, @CurrentPrincipal() principal: Principal, @Body(new ZodBody(PolicyBody)) body: z.infer<typeof PolicyBody>) {
    return this.commands.execute(new UpdatePolicyCommand(tenantId, principal, body));
  }
}
